package ivynet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent"
	"github.com/proofgrid/proofgrid/agent/avs"
	"github.com/proofgrid/proofgrid/agent/collector"
	"github.com/proofgrid/proofgrid/agent/collector/collectortest"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/internal/clocktest"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
)

// Operator addresses of the test's AVS machines, in the mixed case an
// operator may configure; the API answers in lower case.
const (
	operatorGood = "0x0A3e3d83C99b27cA7540720b54105c79cd58dbdd"
	operatorOld  = "0x1111111111111111111111111111111111111111"
	operatorDown = "0x2222222222222222222222222222222222222222"
)

// percent is a figure a fake collector reports, changed by the test.
type percent struct{ bits atomic.Uint64 }

func newPercent(v float64) *percent { p := &percent{}; p.Set(v); return p }
func (p *percent) Set(v float64)    { p.bits.Store(math.Float64bits(v)) }
func (p *percent) Get() float64     { return math.Float64frombits(p.bits.Load()) }

// machineSpec describes one in-process agent of the test.
type machineSpec struct {
	name      string
	role      string
	cluster   string
	version   string
	token     string
	disk      *percent
	gpus      []proofgrid.GPU
	avs       []avs.Deployment
	handlers  agent.RegisterFunc
	machineID string
	stop      context.CancelFunc
	done      chan error
}

// startAgent runs a real agent against the coordinator, with the memory,
// CPU, disk and GPU collectors replaced by fakes so that health figures
// are the test's to choose.
func startAgent(t *testing.T, env *coordinatortest.Env, clk *clocktest.Clock, m *machineSpec) {
	t.Helper()
	if m.disk == nil {
		m.disk = newPercent(50)
	}
	disk := m.disk
	cfg := agent.Config{
		CoordinatorURL:    env.URL,
		Token:             m.token,
		Role:              m.role,
		ClusterID:         m.cluster,
		Name:              m.name,
		StateDir:          t.TempDir(),
		HeartbeatInterval: time.Second,
		Version:           m.version,
		Now:               clk.Now,
		Logger:            slog.New(slog.DiscardHandler),
		Handlers:          m.handlers,
		Collector: collector.Config{
			Now: clk.Now,
			GPU: &collectortest.GPUDriver{GPUs: m.gpus},
			Collectors: []collector.Collector{
				collector.Func("cpu", func(_ context.Context, s *proofgrid.Sample) error {
					s.CPU = proofgrid.CPU{Model: "test", LogicalCores: 16, PhysicalCores: 8, UsagePercent: 12.5}
					return nil
				}),
				collector.Func("memory", func(_ context.Context, s *proofgrid.Sample) error {
					s.Memory = proofgrid.Memory{TotalBytes: 64 << 30, UsedBytes: 16 << 30, AvailableBytes: 48 << 30, UsedPercent: 25}
					return nil
				}),
				collector.Func("disk", func(_ context.Context, s *proofgrid.Sample) error {
					p := disk.Get()
					s.Disks = []proofgrid.Disk{
						{Mountpoint: "/", Device: "/dev/nvme0n1p1", FSType: "ext4", TotalBytes: 100 << 30, UsedBytes: 10 << 30, UsedPercent: 10},
						{Mountpoint: "/data", Device: "/dev/nvme1n1", FSType: "xfs", TotalBytes: 1 << 40, UsedBytes: uint64(p / 100 * (1 << 40)), UsedPercent: p},
					}
					return nil
				}),
			},
		},
	}
	if len(m.avs) > 0 {
		checker, err := avs.New(avs.Config{Deployments: m.avs, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		cfg.StatusFunc = checker.Report
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatalf("agent %s: %v", m.name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.stop, m.done = cancel, make(chan error, 1)
	go func() { m.done <- a.Run(ctx) }()
	t.Cleanup(func() { m.halt(t) })
	eventually(t, 20*time.Second, func() error {
		if m.machineID = a.MachineID(); m.machineID == "" {
			return fmt.Errorf("agent %s has not enrolled", m.name)
		}
		return nil
	})
}

// halt stops the agent and waits for it (idempotent).
func (m *machineSpec) halt(t *testing.T) {
	if m.stop == nil {
		return
	}
	m.stop()
	select {
	case err := <-m.done:
		if err != nil {
			t.Errorf("agent %s: %v", m.name, err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("agent %s did not stop", m.name)
	}
	m.stop = nil
}

// eventually retries check until it passes or the timeout ends.
func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type envelope struct {
	Error  []string        `json:"error"`
	Result json.RawMessage `json:"result"`
}

// call sends a request and decodes the envelope, failing the test when
// the body is not one.
func call(t testing.TB, method, url, token string, body any) (int, envelope) {
	t.Helper()
	status, raw := coordinatortest.Request(t, method, url, token, body)
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || env.Error == nil {
		t.Fatalf("%s %s: %d %s: not an Ivynet envelope (%v)", method, url, status, raw, err)
	}
	if status < 300 && (len(env.Error) != 0 || env.Result == nil) {
		t.Fatalf("%s %s: %d with errors %q", method, url, status, env.Error)
	}
	if status >= 400 && (len(env.Error) == 0 || string(env.Result) != "null") {
		t.Fatalf("%s %s: %d without an error: %s", method, url, status, raw)
	}
	return status, env
}

// get GETs path and decodes the result into out, wanting status 200.
func get(t testing.TB, base, path, token string, out any) {
	t.Helper()
	status, env := call(t, http.MethodGet, base+path, token, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s = %d %q", path, status, env.Error)
	}
	if err := json.Unmarshal(env.Result, out); err != nil {
		t.Fatalf("GET %s: result %s: %v", path, env.Result, err)
	}
}

// wantStatus checks the status code of a request.
func wantStatus(t *testing.T, method, url, token string, body any, want int) envelope {
	t.Helper()
	got, env := call(t, method, url, token, body)
	if got != want {
		t.Errorf("%s %s = %d %q, want %d", method, url, got, env.Error, want)
	}
	return env
}

type statusResult struct {
	TotalMachines      int      `json:"total_machines"`
	HealthyMachines    int      `json:"healthy_machines"`
	UnhealthyMachines  []string `json:"unhealthy_machines"`
	IdleMachines       []string `json:"idle_machines"`
	UpdateableMachines []string `json:"updateable_machines"`
	ErroringMachines   []string `json:"erroring_machines"`
	OfflineMachines    []string `json:"offline_machines"`
}

type machineInfo struct {
	MachineID string `json:"machine_id"`
	Status    string `json:"status"`
	Metrics   struct {
		CPUUsage         float64  `json:"cpu_usage"`
		MemoryUsage      float64  `json:"memory_usage"`
		DiskUsage        float64  `json:"disk_usage"`
		Uptime           uint64   `json:"uptime"`
		DeployedAVS      *string  `json:"deployed_avs"`
		DeployedAVSChain *string  `json:"deployed_avs_chain"`
		OperatorPubKey   *string  `json:"operator_pub_key"`
		Errors           []string `json:"errors"`
		RunningJobs      int      `json:"running_jobs"`
	} `json:"metrics"`
	LastChecked *time.Time      `json:"last_checked"`
	Role        string          `json:"role"`
	Health      fleet.Health    `json:"health"`
	GPUs        []proofgrid.GPU `json:"gpus"`
}

func info(t *testing.T, env *coordinatortest.Env, token, id string) machineInfo {
	t.Helper()
	var mi machineInfo
	get(t, env.URL, "/v1/client/info/"+id, token, &mi)
	return mi
}

// latestTransitions returns the newest recorded state of each machine the
// token's team can see.
func latestTransitions(t *testing.T, env *coordinatortest.Env, token string) map[string]string {
	t.Helper()
	var tr struct {
		Transitions []struct {
			MachineID string `json:"machine_id"`
			To        string `json:"to"`
		} `json:"transitions"`
	}
	get(t, env.URL, "/v1/machine/transitions?limit=1000", token, &tr)
	latest := map[string]string{}
	for _, x := range tr.Transitions { // newest first
		if _, ok := latest[x.MachineID]; !ok {
			latest[x.MachineID] = x.To
		}
	}
	return latest
}

func TestSurface(t *testing.T) {
	for _, dialect := range []string{storage.DialectSQLite, storage.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			testSurface(t, dialect)
		})
	}
}

func testSurface(t *testing.T, dialect string) {
	// The shared time of the coordinator and its agents: real time plus
	// an offset the test moves forward, so that TTLs and idle windows
	// pass without sleeping.
	clk := clocktest.Running()
	env := coordinatortest.Start(t, coordinatortest.Options{
		Dialect: dialect,
		Configure: func(cfg *coordinator.Config) {
			cfg.Now = clk.Now
			cfg.HeartbeatInterval = time.Second
			cfg.Health = fleet.Rules{HeartbeatTTL: 10 * time.Second, IdleWindow: 2 * time.Minute, AgentLatestVersion: "1.2.0"}
		},
	})
	teamA, teamB := env.Token("team-a", auth.ModeWrite), env.Token("team-b", auth.ModeWrite)
	// A prover enrols only into a cluster of its own team.
	ta, err := env.Coordinator.DB.TeamByName(context.Background(), "team-a")
	if err != nil {
		t.Fatal(err)
	}
	cluster, _, err := env.Coordinator.DB.CreateCluster(context.Background(), storage.Cluster{
		ID: "5d0c2a4e-7f1b-4c8e-9a3d-2b6f8e1c0a11", TeamID: ta.ID, Name: "a-1", NumGPUs: 2,
		DeploymentType: storage.DeploymentOnPrem, IsActive: true,
	}, 1, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	readA, adminJWT := env.Token("team-a", auth.ModeRead), env.AdminJWT()
	cat := fleet.EmbeddedCatalogue()
	latest := func(id, network string) string {
		a, ok := cat.Lookup(id)
		if !ok {
			t.Fatalf("catalogue lacks %s", id)
		}
		return a.LatestVersionOn(network)
	}

	// The AVS nodes: a health endpoint each, one of them failing.
	var goodHealth, downHealth atomic.Int32
	goodHealth.Store(http.StatusOK)
	downHealth.Store(http.StatusServiceUnavailable)
	node := func(status *atomic.Int32) string {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(int(status.Load())) }))
		t.Cleanup(ts.Close)
		return ts.URL + "/eigen/node/health"
	}
	pidFile := filepath.Join(t.TempDir(), "eigenda.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		t.Fatal(err)
	}

	// The prover's job handler holds a job until the test releases it.
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	proveHandlers := func(mux *asynq.ServeMux, _ *agent.Agent) {
		mux.HandleFunc(queue.TypeProveBlock, func(ctx context.Context, _ *asynq.Task) error {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})
	}

	avsGood := &machineSpec{name: "avs-good", role: proofgrid.RoleAVS, version: "1.2.0", token: teamA, avs: []avs.Deployment{{
		AVS: "eigenda", Chain: "mainnet", Version: latest("eigenda", "mainnet"), OperatorAddress: operatorGood,
		HealthURL: node(&goodHealth), PIDFile: pidFile,
	}}}
	avsOld := &machineSpec{name: "avs-old", role: proofgrid.RoleAVS, version: "1.1.0", token: teamA, avs: []avs.Deployment{{
		AVS: "lagrange_sc", Chain: "holesky", Version: "1.0.0", OperatorAddress: operatorOld,
	}}}
	avsDown := &machineSpec{name: "avs-down", role: proofgrid.RoleAVS, version: "1.2.0", token: teamA, avs: []avs.Deployment{{
		AVS: "witness_chain", Chain: "mainnet", Version: latest("witness_chain", "mainnet"), OperatorAddress: operatorDown,
		HealthURL: node(&downHealth), RegisteredCommand: []string{"false"},
	}}}
	prover := &machineSpec{name: "prover-1", role: proofgrid.RoleProver, cluster: cluster.ID, version: "1.2.0", token: teamA, handlers: proveHandlers,
		gpus: []proofgrid.GPU{
			{Index: 0, UUID: "GPU-0", Name: "NVIDIA H100 80GB HBM3", MemoryTotalBytes: 80 << 30, ThrottleReasons: []string{}},
			{Index: 1, UUID: "GPU-1", Name: "NVIDIA H100 80GB HBM3", MemoryTotalBytes: 80 << 30, ThrottleReasons: []string{}},
		}}
	other := &machineSpec{name: "b-avs", role: proofgrid.RoleAVS, version: "1.2.0", token: teamB, avs: []avs.Deployment{{
		AVS: "eigenda", Chain: "holesky", Version: latest("eigenda", "holesky"), OperatorAddress: operatorGood,
	}}}
	all := []*machineSpec{avsGood, avsOld, avsDown, prover, other}
	for _, m := range all {
		startAgent(t, env, clk, m)
	}
	id := func(ms ...*machineSpec) []string {
		out := []string{}
		for _, m := range ms {
			out = append(out, m.machineID)
		}
		return out
	}

	// Machines are listed by name: avs-down, avs-good, avs-old, prover-1.
	var st statusResult
	eventually(t, 20*time.Second, func() error {
		get(t, env.URL, "/v1/client/status", readA, &st)
		if st.TotalMachines != 4 || len(st.OfflineMachines) != 0 || len(st.ErroringMachines) != 1 {
			return fmt.Errorf("team A status = %+v; waiting for every first heartbeat", st)
		}
		return nil
	})
	// A freshly enrolled prover is idle only once the idle window has
	// passed since its enrolment.
	if mi := info(t, env, readA, prover.machineID); mi.Status != "Healthy" {
		t.Errorf("freshly enrolled prover is %s, want Healthy", mi.Status)
	}
	// Let the sweep record every machine's first state before the clock
	// jumps, so that no first state is judged from a stale heartbeat.
	eventually(t, 30*time.Second, func() error {
		if got := latestTransitions(t, env, readA); len(got) != 4 || got[prover.machineID] != fleet.StateHealthy {
			return fmt.Errorf("first transitions = %v", got)
		}
		return nil
	})
	clk.Advance(3 * time.Minute)
	eventually(t, 20*time.Second, func() error {
		var all statusResult
		get(t, env.URL, "/v1/client/status", env.AdminJWT(), &all)
		get(t, env.URL, "/v1/client/status", readA, &st)
		if len(all.OfflineMachines) != 0 || len(st.OfflineMachines) != 0 || len(st.IdleMachines) != 1 {
			return fmt.Errorf("status = %+v; waiting for heartbeats after the idle window", all)
		}
		return nil
	})
	want := statusResult{
		TotalMachines: 4, HealthyMachines: 1,
		UnhealthyMachines: id(avsDown, avsOld), IdleMachines: id(prover), UpdateableMachines: id(avsOld),
		ErroringMachines: id(avsDown), OfflineMachines: []string{},
	}
	checkStatus := func(path, token string, want statusResult) {
		t.Helper()
		var got statusResult
		get(t, env.URL, path, token, &got)
		if got.TotalMachines != want.TotalMachines || got.HealthyMachines != want.HealthyMachines ||
			!slices.Equal(got.UnhealthyMachines, want.UnhealthyMachines) || !slices.Equal(got.IdleMachines, want.IdleMachines) ||
			!slices.Equal(got.UpdateableMachines, want.UpdateableMachines) || !slices.Equal(got.ErroringMachines, want.ErroringMachines) ||
			!slices.Equal(got.OfflineMachines, want.OfflineMachines) {
			t.Errorf("GET %s = %+v, want %+v", path, got, want)
		}
	}
	checkStatus("/v1/client/status", readA, want)
	checkStatus("/v1/machine/status/", readA, want)

	// The periodic sweep records each machine's first state.
	eventually(t, 30*time.Second, func() error {
		want := map[string]string{
			avsGood.machineID: fleet.StateHealthy, avsOld.machineID: fleet.StateUpdateable,
			avsDown.machineID: fleet.StateErroring, prover.machineID: fleet.StateIdle,
		}
		if got := latestTransitions(t, env, readA); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("first transitions = %v, want %v", got, want)
		}
		return nil
	})

	// The id lists, under both names, with and without the slash.
	for _, base := range []string{"/v1/client", "/v1/machine"} {
		for _, l := range []struct {
			path, key string
			want      []string
		}{
			{"/idle", "idle_machines", want.IdleMachines},
			{"/unhealthy/", "unhealthy_machines", want.UnhealthyMachines},
			{"/errors", "erroring_machines", want.ErroringMachines},
			{"/updateable/", "updateable_machines", want.UpdateableMachines},
		} {
			var got map[string][]string
			get(t, env.URL, base+l.path, readA, &got)
			if !slices.Equal(got[l.key], l.want) || len(got) != 1 {
				t.Errorf("GET %s%s = %v, want %s: %v", base, l.path, got, l.key, l.want)
			}
		}
		var list struct {
			Machines []struct {
				MachineID string `json:"machine_id"`
				Status    string `json:"status"`
			} `json:"machines"`
		}
		get(t, env.URL, base+"/", readA, &list)
		got := map[string]string{}
		for _, m := range list.Machines {
			got[m.MachineID] = m.Status
		}
		wantList := map[string]string{avsDown.machineID: "Error", avsGood.machineID: "Healthy", avsOld.machineID: "Updateable", prover.machineID: "Idle"}
		if len(list.Machines) != 4 || fmt.Sprint(got) != fmt.Sprint(wantList) {
			t.Errorf("GET %s/ = %v, want %v", base, got, wantList)
		}
	}

	// Team B sees its one machine; an admin JWT sees all five.
	checkStatus("/v1/client/status", teamB, statusResult{TotalMachines: 1, HealthyMachines: 1, UnhealthyMachines: []string{},
		IdleMachines: []string{}, UpdateableMachines: []string{}, ErroringMachines: []string{}, OfflineMachines: []string{}})
	var adminStatus statusResult
	get(t, env.URL, "/v1/client/status", adminJWT, &adminStatus)
	if adminStatus.TotalMachines != 5 || adminStatus.HealthyMachines != 2 {
		t.Errorf("admin status = %+v", adminStatus)
	}

	// Machine details.
	mi := info(t, env, readA, avsGood.machineID)
	if mi.Status != "Healthy" || mi.Metrics.CPUUsage != 12.5 || mi.Metrics.MemoryUsage != 25 || mi.Metrics.DiskUsage != 50 ||
		mi.Metrics.DeployedAVS == nil || *mi.Metrics.DeployedAVS != "eigenda" || *mi.Metrics.DeployedAVSChain != "mainnet" ||
		*mi.Metrics.OperatorPubKey != strings.ToLower(operatorGood) || len(mi.Metrics.Errors) != 0 || mi.LastChecked == nil ||
		mi.Role != proofgrid.RoleAVS || len(mi.GPUs) != 0 {
		t.Errorf("info(avs-good) = %+v", mi)
	}
	mi = info(t, env, readA, avsDown.machineID)
	if mi.Status != "Error" || !slices.Contains(mi.Metrics.Errors, "UNREGISTERED_OPERATOR") ||
		!slices.ContainsFunc(mi.Metrics.Errors, func(e string) bool { return strings.HasPrefix(e, avs.CodeHealthCheckFailed+": witness_chain") }) {
		t.Errorf("info(avs-down) errors = %q, status %s", mi.Metrics.Errors, mi.Status)
	}
	mi = info(t, env, readA, prover.machineID)
	if mi.Status != "Idle" || len(mi.GPUs) != 2 || mi.GPUs[1].UUID != "GPU-1" || mi.Metrics.DeployedAVS != nil || mi.Role != proofgrid.RoleProver {
		t.Errorf("info(prover-1) = %+v", mi)
	}
	var alias machineInfo
	get(t, env.URL, "/v1/machine/info/"+prover.machineID, readA, &alias)
	if alias.MachineID != prover.machineID {
		t.Errorf("/machine/info alias = %+v", alias)
	}

	// Bad input and other teams' machines.
	wantStatus(t, "GET", env.URL+"/v1/client/info/"+avsGood.machineID, teamB, nil, http.StatusNotFound)
	wantStatus(t, "GET", env.URL+"/v1/client/info/00000000-0000-0000-0000-000000000000", readA, nil, http.StatusNotFound)
	wantStatus(t, "GET", env.URL+"/v1/client/info/machine_id3", readA, nil, http.StatusNotFound)
	wantStatus(t, "GET", env.URL+"/v1/client/transitions/"+avsGood.machineID, teamB, nil, http.StatusNotFound)
	wantStatus(t, "GET", env.URL+"/v1/client/status", "", nil, http.StatusUnauthorized)
	wantStatus(t, "GET", env.URL+"/v1/client/status", "pg_not-a-token", nil, http.StatusUnauthorized)
	wantStatus(t, "GET", env.URL+"/v1/no/such/route", readA, nil, http.StatusNotFound)

	testAVSRoutes(t, env, readA, adminJWT, teamB, avsGood, avsOld, avsDown)

	// Disk above 95 % makes the prover erroring, above 90 % a warning.
	prover.disk.Set(97)
	eventually(t, 15*time.Second, func() error {
		if mi := info(t, env, readA, prover.machineID); mi.Status != "Error" || !slices.Contains(mi.Metrics.Errors, fleet.CodeDiskCritical) {
			return fmt.Errorf("prover with a full disk: %s %q", mi.Status, mi.Metrics.Errors)
		}
		return nil
	})
	var errs map[string][]string
	get(t, env.URL, "/v1/client/errors", readA, &errs)
	if !slices.Equal(errs["erroring_machines"], id(avsDown, prover)) {
		t.Errorf("erroring = %v", errs)
	}
	prover.disk.Set(92)
	eventually(t, 15*time.Second, func() error {
		if mi := info(t, env, readA, prover.machineID); mi.Status != "Idle" || !slices.Equal(mi.Health.Warnings, []string{fleet.CodeDiskHigh}) {
			return fmt.Errorf("prover at 92%%: %s, warnings %q", mi.Status, mi.Health.Warnings)
		}
		return nil
	})

	// A running job makes the prover busy; it stays so for the idle window
	// after the job ends, and is idle again once the window has passed.
	qc := asynq.NewClient(env.Redis.ConnOpt())
	defer qc.Close()
	m := queue.ProveBlock(queue.ProveBlockPayload{BlockNumber: 1, ClusterID: cluster.ID, ClusterVersionID: 1})
	if _, err := qc.Enqueue(m.Task(), asynq.Queue(m.Queue)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		if mi := info(t, env, readA, prover.machineID); mi.Status != "Healthy" || mi.Metrics.RunningJobs != 1 {
			return fmt.Errorf("prover with a job: %s, running %d", mi.Status, mi.Metrics.RunningJobs)
		}
		return nil
	})
	releaseOnce.Do(func() { close(release) })
	eventually(t, 15*time.Second, func() error {
		if mi := info(t, env, readA, prover.machineID); mi.Status != "Healthy" || mi.Metrics.RunningJobs != 0 {
			return fmt.Errorf("prover after its job: %s, running %d", mi.Status, mi.Metrics.RunningJobs)
		}
		return nil
	})
	clk.Advance(3 * time.Minute)
	eventually(t, 15*time.Second, func() error {
		if mi := info(t, env, readA, prover.machineID); mi.Status != "Idle" {
			return fmt.Errorf("prover %s after the idle window", mi.Status)
		}
		return nil
	})

	// An agent that stops is offline once the TTL has passed, and the
	// sweep records the transition.
	avsGood.halt(t)
	clk.Advance(time.Minute)
	eventually(t, 15*time.Second, func() error {
		var got statusResult
		get(t, env.URL, "/v1/client/status", readA, &got)
		if !slices.Equal(got.OfflineMachines, id(avsGood)) || !slices.Contains(got.UnhealthyMachines, avsGood.machineID) {
			return fmt.Errorf("status after avs-good stopped = %+v", got)
		}
		return nil
	})
	if mi := info(t, env, readA, avsGood.machineID); mi.Status != "Offline" {
		t.Errorf("avs-good is %s, want Offline", mi.Status)
	}
	eventually(t, 20*time.Second, func() error {
		var tr struct {
			Transitions []struct {
				From   string    `json:"from"`
				To     string    `json:"to"`
				At     time.Time `json:"at"`
				Reason string    `json:"reason"`
			} `json:"transitions"`
		}
		get(t, env.URL, "/v1/client/transitions/"+avsGood.machineID, readA, &tr)
		if len(tr.Transitions) < 2 || tr.Transitions[0].To != fleet.StateOffline || tr.Transitions[0].From != fleet.StateHealthy ||
			!strings.Contains(tr.Transitions[0].Reason, "no heartbeat since") {
			return fmt.Errorf("avs-good transitions = %+v", tr.Transitions)
		}
		// A sweep between its enrolment and its first heartbeat (a busy
		// machine) first records it offline with no heartbeat yet.
		first := tr.Transitions[len(tr.Transitions)-1]
		if first.From == fleet.StateUnknown && strings.Contains(first.Reason, "no heartbeat yet") && len(tr.Transitions) > 2 {
			first = tr.Transitions[len(tr.Transitions)-2]
			first.From = fleet.StateUnknown
		}
		if first.From != fleet.StateUnknown || first.To != fleet.StateHealthy {
			return fmt.Errorf("first transition of avs-good = %+v", first)
		}
		return nil
	})
	// Every machine's current state reaches the fleet-wide transitions.
	// (Jumps of the clock also make running machines look silent to a
	// sweep that runs before their next heartbeat; those transitions are
	// real, so only the final states are checked.)
	eventually(t, 30*time.Second, func() error {
		want := map[string]string{
			prover.machineID: fleet.StateIdle, avsDown.machineID: fleet.StateErroring,
			avsOld.machineID: fleet.StateUpdateable, avsGood.machineID: fleet.StateOffline,
		}
		if got := latestTransitions(t, env, readA); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("latest transitions = %v, want %v", got, want)
		}
		return nil
	})
	eventually(t, 30*time.Second, func() error {
		if got := latestTransitions(t, env, teamB); len(got) != 1 || got[other.machineID] != fleet.StateHealthy {
			return fmt.Errorf("team B transitions = %v", got)
		}
		return nil
	})
	wantStatus(t, "GET", env.URL+"/v1/client/transitions?limit=0", readA, nil, http.StatusBadRequest)
}

// testAVSRoutes covers /avs/..., /operator/... and the admin extension.
func testAVSRoutes(t *testing.T, env *coordinatortest.Env, readA, adminJWT, teamB string, avsGood, avsOld, avsDown *machineSpec) {
	cat := fleet.EmbeddedCatalogue()

	var deployable struct {
		DeployableAVS []struct {
			AVSName  string   `json:"avs_name"`
			AVSID    string   `json:"avs_id"`
			Networks []string `json:"networks"`
			Source   string   `json:"source"`
		} `json:"deployable_avs"`
	}
	get(t, env.URL, "/v1/avs/", readA, &deployable)
	if len(deployable.DeployableAVS) != len(cat.AVS) || deployable.DeployableAVS[0].AVSID != "eigenda" ||
		!slices.Equal(deployable.DeployableAVS[0].Networks, []string{"mainnet", "holesky"}) || deployable.DeployableAVS[0].Source != "catalogue" {
		t.Errorf("deployable = %+v", deployable)
	}

	type deployedAVS struct {
		AVSName            string `json:"avs_name"`
		AVSID              string `json:"avs_id"`
		Network            string `json:"network"`
		AVSVersion         string `json:"avs_version"`
		MachineID          string `json:"machine_id"`
		Operator           string `json:"operator"`
		Registered         bool   `json:"registered"`
		RegistrationSource string `json:"registration_source"`
		Healthy            bool   `json:"healthy"`
	}
	var deployed struct {
		DeployedAVS []deployedAVS `json:"deployed_avs"`
	}
	get(t, env.URL, "/v1/avs/deployed/", readA, &deployed)
	wantDeployed := []deployedAVS{
		{AVSName: "Witness Chain", AVSID: "witness_chain", Network: "mainnet", MachineID: avsDown.machineID, Operator: operatorDown, Registered: false, RegistrationSource: "agent"},
		{AVSName: "EigenDA", AVSID: "eigenda", Network: "mainnet", MachineID: avsGood.machineID, Operator: strings.ToLower(operatorGood), RegistrationSource: "none", Healthy: true},
		{AVSName: "Lagrange State Committees", AVSID: "lagrange_sc", Network: "holesky", AVSVersion: "1.0.0", MachineID: avsOld.machineID, Operator: operatorOld, RegistrationSource: "none", Healthy: true},
	}
	if len(deployed.DeployedAVS) != 3 {
		t.Fatalf("deployed = %+v", deployed)
	}
	for i, w := range wantDeployed {
		g := deployed.DeployedAVS[i]
		g.AVSVersion = map[bool]string{true: g.AVSVersion, false: ""}[w.AVSVersion != ""]
		if g != w {
			t.Errorf("deployed[%d] = %+v, want %+v", i, g, w)
		}
	}

	var updateable struct {
		UpdateableAVS []struct {
			AVSID      string `json:"avs_id"`
			Network    string `json:"network"`
			AVSVersion string `json:"avs_version"`
			MachineID  string `json:"machine_id"`
		} `json:"updateable_avs"`
	}
	get(t, env.URL, "/v1/avs/updateable/", readA, &updateable)
	if len(updateable.UpdateableAVS) != 1 || updateable.UpdateableAVS[0].AVSID != "lagrange_sc" ||
		updateable.UpdateableAVS[0].MachineID != avsOld.machineID || updateable.UpdateableAVS[0].AVSVersion != "1.0.0" {
		t.Errorf("updateable AVS = %+v", updateable)
	}

	// Registration: unknown until an admin records it.
	registered := func(path, token string) bool {
		t.Helper()
		var yes bool
		get(t, env.URL, path, token, &yes)
		return yes
	}
	if registered("/v1/avs/registered/eigenda", readA) {
		t.Error("eigenda registered before anyone said so")
	}
	body := map[string]any{"avs_id": "eigenda", "network": "mainnet", "operator": operatorGood, "registered": true}
	wantStatus(t, "POST", env.URL+"/v1/admin/avs/registered", readA, body, http.StatusForbidden)
	wantStatus(t, "POST", env.URL+"/v1/admin/avs/registered", adminJWT, body, http.StatusCreated)
	wantStatus(t, "POST", env.URL+"/v1/admin/avs/registered", adminJWT, body, http.StatusOK)
	if !registered("/v1/avs/registered/eigenda", readA) || !registered("/v1/avs/registered/eigenda?network=mainnet", readA) {
		t.Error("eigenda not registered after the admin record")
	}
	if registered("/v1/avs/registered/eigenda", teamB) {
		t.Error("team B's holesky deployment counts as registered by a mainnet record")
	}
	var regs struct {
		RegisteredAVS []struct {
			AVSID      string `json:"avs_id"`
			MachineID  string `json:"machine_id"`
			Registered bool   `json:"registered"`
			Source     string `json:"source"`
		} `json:"registered_avs"`
	}
	get(t, env.URL, "/v1/avs/registered/", readA, &regs)
	if len(regs.RegisteredAVS) != 3 || regs.RegisteredAVS[1].MachineID != avsGood.machineID || !regs.RegisteredAVS[1].Registered ||
		regs.RegisteredAVS[1].Source != "admin" || regs.RegisteredAVS[0].Registered || regs.RegisteredAVS[0].Source != "agent" {
		t.Errorf("registered list = %+v", regs)
	}
	wantStatus(t, "GET", env.URL+"/v1/avs/registered/no_such_avs", readA, nil, http.StatusNotFound)
	wantStatus(t, "GET", env.URL+"/v1/avs/registered/eigenda?network=moon", readA, nil, http.StatusBadRequest)
	for _, bad := range []map[string]any{
		{"avs_id": "no_such_avs", "network": "mainnet", "operator": operatorGood, "registered": true},
		{"avs_id": "eigenda", "network": "mainnet", "operator": "0x12", "registered": true},
		{"avs_id": "eigenda", "network": "mainnet", "operator": operatorGood},
		{"avs_id": "eigenda", "network": "mainnet", "operator": operatorGood, "registered": true, "extra": 1},
	} {
		want := http.StatusBadRequest
		if bad["avs_id"] == "no_such_avs" {
			want = http.StatusNotFound
		}
		wantStatus(t, "POST", env.URL+"/v1/admin/avs/registered", adminJWT, bad, want)
	}

	// Stake: none recorded, then the draft's figures.
	wantStatus(t, "GET", env.URL+"/v1/operator/stake/"+operatorGood, readA, nil, http.StatusNotFound)
	wantStatus(t, "GET", env.URL+"/v1/operator/stake/0xnot-an-address", readA, nil, http.StatusBadRequest)
	type strategy struct {
		Name           string  `json:"name"`
		Address        string  `json:"address"`
		DelegatedStake float64 `json:"delegated_stake"`
	}
	strategies := []strategy{
		{"Cbeth", "0x54945180dB7943c0ed0FEE7EdaB2Bd24620256bc", 351}, {"Steth", "0x93c4b944D05dfe6df7645A86cd2206016c51564D", 732},
		{"Reth", "0x1BeE69b7dFFfA4E2d53C2a2Df135C388AD25dCD2", 923}, {"Sweth", "0x0Fe4F44beE93503346A3Ac9EE5A26b130a5796d6", 953},
		{"Lseth", "0xAe60d8180437b5C34bB956822ac2710972584473", 155}, {"Sfrxeth", "0x8CA7A5d6f3acd3A7A8bC468a8CD0FB14B6BD28b6", 169},
		{"Wbeth", "0x7CA911E83dabf90C90dD3De5411a10F1A6112184", 234}, {"Ethx", "0x9d7eD45EE2E8FC5482fa2428f15C971e6369011d", 604},
		{"Oseth", "0x57ba429517c3473B6d34CA9aCd56c0e735b94c02", 130}, {"Meth", "0x298aFB19A105D59E74658C4C334Ff360BadE6dd2", 705},
		{"Ankreth", "0x13760F50a9d7377e4F20CB8CF9e4c26586c658ff", 286}, {"Oeth", "0xa4C637e0F704745D182e4D38cAb7E7485321d059", 657},
		{"BeaconEth", "0xbeaC0eeEeeeeEEeEeEEEEeeEEeEeeeEeeEEBEaC0", 146},
	}
	total := 0.0
	for _, s := range strategies {
		total += s.DelegatedStake
	}

	type requirements struct {
		Physical struct {
			NodeClass string `json:"node_class"`
			Cores     int    `json:"cores"`
			Memory    uint64 `json:"memory"`
		} `json:"physical"`
		Stake struct {
			OperatorETH float64 `json:"operator_eth"`
			Source      string  `json:"source"`
		} `json:"stake"`
		Allowlist bool   `json:"allowlist"`
		Source    string `json:"source"`
	}
	eigenda, _ := cat.Lookup("eigenda")
	var req requirements
	get(t, env.URL, "/v1/avs/requirements/eigenda&"+operatorGood, readA, &req)
	if req.Physical.NodeClass != strings.ToUpper(eigenda.NodeClasses[0].Name) || req.Stake.Source != "none" || req.Source != "catalogue" {
		t.Errorf("requirements without stake = %+v", req)
	}

	stakeBody := map[string]any{"operator_address": operatorGood, "eigen": 0, "ethereum": strategies}
	wantStatus(t, "POST", env.URL+"/v1/admin/operator/stake", teamB, stakeBody, http.StatusForbidden)
	wantStatus(t, "POST", env.URL+"/v1/admin/operator/stake", adminJWT, stakeBody, http.StatusCreated)
	wantStatus(t, "POST", env.URL+"/v1/admin/operator/stake", adminJWT, map[string]any{"operator_address": "0x1"}, http.StatusBadRequest)
	var stake struct {
		EigenLayer struct {
			Eigen    float64    `json:"eigen"`
			Ethereum []strategy `json:"ethereum"`
		} `json:"eigenlayer"`
		Source string `json:"source"`
	}
	get(t, env.URL, "/v1/operator/stake/"+strings.ToUpper(operatorGood[:2])[:1]+strings.ToLower(operatorGood[1:]), readA, &stake)
	if len(stake.EigenLayer.Ethereum) != 13 || stake.EigenLayer.Ethereum[12] != strategies[12] || stake.Source != "admin" {
		t.Errorf("stake = %+v", stake)
	}
	get(t, env.URL, "/v1/avs/requirements/eigenda%26"+operatorGood, readA, &req) // "&" may come escaped
	if want := eigenda.NodeClassFor(total); req.Physical.NodeClass != strings.ToUpper(want.Name) || req.Stake.OperatorETH != total || req.Stake.Source != "admin" {
		t.Errorf("requirements with %v ETH = %+v, want class %s", total, req, want.Name)
	}

	type rewards struct {
		Dollar     *float64 `json:"dollar"`
		Ethereum   *float64 `json:"ethereum"`
		Eigen      *float64 `json:"eigen"`
		StakeETH   float64  `json:"stake_eth"`
		AnnualRate float64  `json:"annual_rate"`
	}
	var rw rewards
	get(t, env.URL, "/v1/avs/rewards/eigenda&"+operatorGood, readA, &rw)
	wantETH := total * eigenda.Rewards.AnnualRate / 12
	if rw.Dollar == nil || rw.Ethereum == nil || rw.Eigen != nil || math.Abs(*rw.Ethereum-wantETH) > 1e-6 ||
		math.Abs(*rw.Dollar-wantETH*cat.Prices.ETHUSD) > 0.01 || rw.StakeETH != total {
		t.Errorf("rewards = %+v, want %v ETH", rw, wantETH)
	}
	rw = rewards{}
	get(t, env.URL, "/v1/avs/rewards/eigenda&USD&"+operatorGood, readA, &rw)
	if rw.Dollar == nil || rw.Ethereum != nil {
		t.Errorf("rewards in USD = %+v", rw)
	}
	rw = rewards{}
	get(t, env.URL, "/v1/avs/rewards/eigenda&eigen&"+operatorGood, readA, &rw)
	if rw.Eigen == nil || rw.Dollar != nil || math.Abs(*rw.Eigen-wantETH*cat.Prices.ETHUSD/cat.Prices.EigenUSD) > 0.001 {
		t.Errorf("rewards in EIGEN = %+v", rw)
	}

	for path, code := range map[string]int{
		"/v1/avs/rewards/eigenda&doge&" + operatorGood:      http.StatusBadRequest,
		"/v1/avs/rewards/eigenda&usd&0x1234":                http.StatusBadRequest,
		"/v1/avs/rewards/no_such_avs&usd&" + operatorGood:   http.StatusNotFound,
		"/v1/avs/rewards/eigenda":                           http.StatusBadRequest,
		"/v1/avs/rewards/eigenda&usd&" + operatorGood + "&": http.StatusBadRequest,
		"/v1/avs/requirements/eigenda&0xabc":                http.StatusBadRequest,
		"/v1/avs/requirements/no_such_avs&" + operatorGood:  http.StatusNotFound,
		"/v1/avs/requirements/eigenda":                      http.StatusBadRequest,
	} {
		wantStatus(t, "GET", env.URL+path, readA, nil, code)
	}
}
