package ivynet_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/storage"
)

// BenchmarkClientStatus fills a coordinator's database with machines that
// each sent a heartbeat and measures GET /v1/client/status and
// /v1/client/unhealthy over HTTP for the team that owns them all, on both
// databases. PROOFGRID_BENCH_MACHINES sets the fleet sizes, a
// comma-separated list (default 10000); PROOFGRID_BENCH_DIALECT limits the
// run to "sqlite" or "postgres". Each iteration also times a trivial Fiber
// endpoint on the same machine, so the report carries a ratio that does
// not depend on the host's speed. Run it with a fixed count for stable
// quantiles:
//
//	scripts/testenv.sh go test -run '^$' -bench ClientStatus -benchtime 200x ./coordinator/ivynet/
//	PROOFGRID_BENCH_MACHINES=1000,10000,100000 scripts/testenv.sh go test -run '^$' -bench ClientStatus -benchtime 50x -timeout 60m ./coordinator/ivynet/
func BenchmarkClientStatus(b *testing.B) {
	sizes, dialects := benchFleets(b)
	for _, dialect := range dialects {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/machines=%d", dialect, n), func(b *testing.B) { benchStatus(b, dialect, n) })
		}
	}
}

// benchFleets returns the fleet sizes (PROOFGRID_BENCH_MACHINES, a
// comma-separated list, default 10000) and databases
// (PROOFGRID_BENCH_DIALECT, default both) a fleet benchmark runs.
func benchFleets(b *testing.B) (sizes []int, dialects []string) {
	sizes = []int{10000}
	if v := os.Getenv("PROOFGRID_BENCH_MACHINES"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("PROOFGRID_BENCH_MACHINES=%q is not a list of positive counts", v)
			}
			sizes = append(sizes, n)
		}
	}
	dialects = []string{storage.DialectSQLite, storage.DialectPostgres}
	if v := os.Getenv("PROOFGRID_BENCH_DIALECT"); v != "" {
		dialects = []string{v}
	}
	return sizes, dialects
}

func benchStatus(b *testing.B, dialect string, n int) {
	env := coordinatortest.Start(b, coordinatortest.Options{Dialect: dialect})
	token := env.Token("bench", auth.ModeRead)
	team, err := env.Coordinator.DB.TeamByName(context.Background(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	fillFleet(b, env, team.ID, n)
	b.Logf("%s: %d machines with a heartbeat each stored in %s", dialect, n, time.Since(start).Round(time.Millisecond))
	if dialect == storage.DialectPostgres {
		// What autovacuum does to a table that just grew by n rows, so
		// that reads meet the steady state (visibility map and planner
		// statistics) rather than a table loaded a second ago.
		if _, err := env.Coordinator.DB.SQL().ExecContext(context.Background(), "VACUUM ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}

	// A fleet that has been running is swept: its first sweep, which
	// records every machine's first state, is long past.
	if _, err := env.Coordinator.Monitor.Sweep(context.Background(), time.Now()); err != nil {
		b.Fatal(err)
	}

	hello := helloServer(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	fetch := func(url, token string) time.Duration {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
		}
		return d
	}
	statusURL := env.URL + "/v1/client/status"
	var st statusResult
	get(b, env.URL, "/v1/client/status", token, &st) // warms pools and caches
	if st.TotalMachines != n {
		b.Fatalf("status counts %d machines, want %d", st.TotalMachines, n)
	}
	b.Logf("%s: healthy %d, unhealthy %d, idle %d, updateable %d, erroring %d", dialect, st.HealthyMachines,
		len(st.UnhealthyMachines), len(st.IdleMachines), len(st.UpdateableMachines), len(st.ErroringMachines))

	unhealthyURL := env.URL + "/v1/client/unhealthy"
	var status, unhealthy, trivial []time.Duration
	for b.Loop() {
		status = append(status, fetch(statusURL, token))
		unhealthy = append(unhealthy, fetch(unhealthyURL, token))
		trivial = append(trivial, fetch(hello, ""))
	}
	sp50, sp99 := quantile(status, 0.50), quantile(status, 0.99)
	tp50, tp99 := quantile(trivial, 0.50), quantile(trivial, 0.99)
	b.ReportMetric(ms(sp50), "status-p50-ms")
	b.ReportMetric(ms(sp99), "status-p99-ms")
	b.ReportMetric(ms(quantile(unhealthy, 0.99)), "unhealthy-p99-ms")
	b.ReportMetric(ms(tp50), "hello-p50-ms")
	b.ReportMetric(ms(tp99), "hello-p99-ms")
	b.ReportMetric(float64(sp50)/float64(tp50), "p50-ratio")
	b.ReportMetric(float64(sp99)/float64(tp99), "p99-ratio")
}

// fillFleet stores n machines of team with one heartbeat each, through the
// fleet service as the agent API does. A quarter are 8-GPU provers, the
// rest AVS machines; the mix of states is that of a fleet someone looks
// after: about 5 % of AVS nodes a release behind, 2 % unhealthy, 1.5 %
// with a full disk, a fifth of the provers without a job.
func fillFleet(b *testing.B, env *coordinatortest.Env, team int64, n int) {
	ctx := context.Background()
	db, svc := env.Coordinator.DB, env.Coordinator.Fleet
	cat := fleet.EmbeddedCatalogue()
	var avsIDs []fleet.AVS
	for _, id := range []string{"eigenda", "lagrange_sc", "witness_chain", "altlayer_mach", "hyperlane"} {
		a, ok := cat.Lookup(id)
		if !ok {
			b.Fatalf("catalogue lacks %s", id)
		}
		avsIDs = append(avsIDs, a)
	}
	workers := 1
	if db.Dialect() == storage.DialectPostgres {
		workers = 8 // SQLite has one writer anyway
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := addMachine(ctx, db, svc, team, i, avsIDs); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

func addMachine(ctx context.Context, db *storage.DB, svc *fleet.Service, team int64, i int, avsIDs []fleet.AVS) error {
	role := proofgrid.RoleAVS
	if i%4 == 0 {
		role = proofgrid.RoleProver
	}
	m, _, err := db.UpsertMachine(ctx, proofgrid.Machine{
		ID: uuid.NewString(), TeamID: team, Name: fmt.Sprintf("machine-%05d", i), Role: role,
		PublicKey: fmt.Sprintf("bench-key-%d", i), AgentVersion: agentVersion,
	})
	if err != nil {
		return err
	}
	s := proofgrid.Sample{
		CollectedAt: time.Now(),
		Host:        proofgrid.Host{Hostname: m.Name, OS: "linux", Platform: "ubuntu", PlatformVersion: "24.04", KernelVersion: "6.8.0", KernelArch: "x86_64", UptimeSeconds: 86400},
		CPU:         proofgrid.CPU{Model: "AMD EPYC 9654", LogicalCores: 192, PhysicalCores: 96, UsagePercent: float64(i % 100), Load1: 3, Load5: 2, Load15: 1},
		Memory:      proofgrid.Memory{TotalBytes: 512 << 30, UsedBytes: 128 << 30, AvailableBytes: 384 << 30, UsedPercent: 25},
		Disks: []proofgrid.Disk{
			{Mountpoint: "/", Device: "/dev/nvme0n1p1", FSType: "ext4", TotalBytes: 1 << 40, UsedBytes: 1 << 38, UsedPercent: 25},
			{Mountpoint: "/data", Device: "/dev/nvme1n1", FSType: "xfs", TotalBytes: 8 << 40, UsedBytes: 4 << 40, UsedPercent: float64(30 + i%67)},
		},
		Network: proofgrid.NetworkIO{RxBytesPerSec: 1e6, TxBytesPerSec: 2e6, RxBytesTotal: 1 << 40, TxBytesTotal: 1 << 41},
		GPUs:    []proofgrid.GPU{},
	}
	st := proofgrid.AgentStatus{Queues: []string{}}
	if role == proofgrid.RoleProver {
		for g := range 8 {
			s.GPUs = append(s.GPUs, proofgrid.GPU{
				Index: g, UUID: fmt.Sprintf("GPU-%d-%d", i, g), Name: "NVIDIA H100 80GB HBM3", DriverVersion: "550.54.15",
				MemoryTotalBytes: 80 << 30, MemoryUsedBytes: 60 << 30, UtilizationPercent: 95, TemperatureC: 70,
				PowerDrawWatts: 650, PowerLimitWatts: 700, SMClockMHz: 1980, MemClockMHz: 2619, ThrottleReasons: []string{},
			})
		}
		if i%5 != 0 {
			st.RunningJobs = 1
		}
	} else {
		a := avsIDs[i%len(avsIDs)]
		version := a.LatestVersionOn("mainnet")
		if i%20 == 1 {
			version = "0.0.1"
		}
		st.AVS = []proofgrid.AVSReport{{
			AVS: a.ID, Chain: "mainnet", Version: version,
			OperatorAddress: fmt.Sprintf("0x%040x", i), Healthy: i%50 != 3,
		}}
	}
	_, err = svc.Heartbeat(ctx, m.ID, proofgrid.Heartbeat{AgentVersion: agentVersion, Sample: s, Status: st})
	return err
}

// agentVersion is the agent release of the benchmark's machines, the
// built-in catalogue's latest.
var agentVersion = fleet.EmbeddedCatalogue().Agent.LatestVersion

// helloServer serves a trivial Fiber endpoint on a loopback port.
func helloServer(b *testing.B) string {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/hello", func(c *fiber.Ctx) error { return c.SendString("hello") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go app.Listener(ln)
	b.Cleanup(func() { app.Shutdown() })
	return "http://" + ln.Addr().String() + "/hello"
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkHeartbeatSweep measures one heartbeat sweep of a settled fleet
// (every machine's first state recorded, as in a coordinator that has been
// running) against judging every machine with Monitor.Fleet in the same
// run, which is what a sweep did before it judged only the machines whose
// state may have changed. PROOFGRID_BENCH_MACHINES and
// PROOFGRID_BENCH_DIALECT as for BenchmarkClientStatus:
//
//	PROOFGRID_BENCH_MACHINES=10000 scripts/testenv.sh go test -run '^$' -bench HeartbeatSweep -benchtime 20x ./coordinator/ivynet/
func BenchmarkHeartbeatSweep(b *testing.B) {
	sizes, dialects := benchFleets(b)
	for _, dialect := range dialects {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/machines=%d", dialect, n), func(b *testing.B) {
				ctx := context.Background()
				env := coordinatortest.Start(b, coordinatortest.Options{Dialect: dialect})
				env.Token("bench", auth.ModeRead)
				team, err := env.Coordinator.DB.TeamByName(ctx, "bench")
				if err != nil {
					b.Fatal(err)
				}
				fillFleet(b, env, team.ID, n)
				if dialect == storage.DialectPostgres {
					if _, err := env.Coordinator.DB.SQL().ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
						b.Fatal(err)
					}
				}
				mon := env.Coordinator.Monitor
				if _, err := mon.Sweep(ctx, time.Now()); err != nil {
					b.Fatal(err)
				}
				var sweep, full time.Duration
				for b.Loop() {
					t0 := time.Now()
					res, err := mon.Sweep(ctx, time.Now())
					if err != nil || res.Machines != n {
						b.Fatalf("sweep = %+v, %v", res, err)
					}
					sweep += time.Since(t0)
					t0 = time.Now()
					if ms, _, err := mon.Fleet(ctx, 0); err != nil || len(ms) != n {
						b.Fatalf("fleet: %d machines, %v", len(ms), err)
					}
					full += time.Since(t0)
				}
				b.ReportMetric(ms(sweep/time.Duration(b.N)), "sweep-ms")
				b.ReportMetric(ms(full/time.Duration(b.N)), "judge-all-ms")
				b.ReportMetric(float64(sweep)/float64(full), "ratio")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
