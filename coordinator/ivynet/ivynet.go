// Package ivynet serves the Ivynet fleet-monitoring API at /v1: machine
// health lists and details, AVS deployments, registrations, requirements
// and rewards, and operator stake, all from what proofgrid agents report
// and from fleet's AVS catalogue. Every answer is the document's envelope
// {"error": [...], "result": ...}.
//
// The draft's /client/... routes are also served as /machine/..., the name
// the real service moved to. proofgrid adds a few routes of its own, each
// marked as an extension in docs/ivynet.md: health transitions, and admin
// routes that record AVS registrations and operator stake.
package ivynet

import (
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/storage"
)

// Prefix is where the surface is mounted.
const Prefix = "/v1"

// maxAdminBody caps the body of an admin route; a stake record with every
// strategy is a few KiB.
const maxAdminBody = 64 << 10

// API serves the routes.
type API struct {
	Monitor *fleet.Monitor
	Auth    web.Authenticator
}

// Mount registers the routes on app.
func (a *API) Mount(app fiber.Router) {
	r := app.Group(Prefix)
	read := web.RequireToken(a.Auth, auth.ModeRead)
	admin := web.RequireOperator(a.Auth) // stake and registrations are global facts

	// Fiber's default (non-strict) routing serves each path with and
	// without its trailing slash.
	for _, base := range []string{"/client", "/machine"} {
		r.Get(base+"/status", read, a.status)
		r.Get(base, read, a.machines)
		r.Get(base+"/info/:machine_id", read, a.info)
		r.Get(base+"/idle", read, a.list("idle_machines", func(v fleet.Verdict) bool { return v.Idle }))
		r.Get(base+"/unhealthy", read, a.list("unhealthy_machines", fleet.Verdict.Unhealthy))
		r.Get(base+"/errors", read, a.list("erroring_machines", func(v fleet.Verdict) bool { return v.Erroring }))
		r.Get(base+"/updateable", read, a.list("updateable_machines", func(v fleet.Verdict) bool { return v.AgentUpdateable }))
		r.Get(base+"/transitions", read, a.transitions)
		r.Get(base+"/transitions/:machine_id", read, a.transitions)
	}
	r.Get("/avs", read, a.deployable)
	r.Get("/avs/deployed", read, a.deployed)
	r.Get("/avs/registered", read, a.registrations)
	r.Get("/avs/registered/:avs_id", read, a.registered)
	r.Get("/avs/updateable", read, a.updateableAVS)
	r.Get("/avs/requirements/:spec", read, a.requirements)
	r.Get("/avs/rewards/:spec", read, a.rewards)
	r.Get("/operator/stake/:operator_address", read, a.stake)

	r.Post("/admin/operator/stake", web.LimitBody(maxAdminBody), admin, a.recordStake)
	r.Post("/admin/avs/registered", web.LimitBody(maxAdminBody), admin, a.recordRegistration)
	r.Get("/openapi.json", openAPI)
	r.Get("/docs", docs)
}

// envelope is the shape of every answer of the surface.
type envelope struct {
	Error  []string `json:"error"`
	Result any      `json:"result"`
}

func ok(c *fiber.Ctx, status int, result any) error {
	return c.Status(status).JSON(envelope{Error: []string{}, Result: result})
}

func teamOf(c *fiber.Ctx) int64 {
	p, _ := web.PrincipalOf(c)
	return web.ReadScope(p)
}

// param returns a path parameter, unescaped: clients may send "&" as %26.
func param(c *fiber.Ctx, name string) (string, error) {
	v, err := url.PathUnescape(c.Params(name))
	if err != nil {
		return "", web.Invalid("%s is not a valid path segment", name)
	}
	return v, nil
}

// Status values of the Ivynet document, by fleet state.
var statusNames = map[string]string{
	fleet.StateHealthy:    "Healthy",
	fleet.StateIdle:       "Idle",
	fleet.StateUpdateable: "Updateable",
	fleet.StateErroring:   "Error",
	fleet.StateOffline:    "Offline",
}

// StatusName returns the Ivynet status of a fleet health state.
func StatusName(state string) string {
	if s, ok := statusNames[state]; ok {
		return s
	}
	return state
}

// StatusResult answers /client/status.
type StatusResult struct {
	TotalMachines      int      `json:"total_machines"`
	HealthyMachines    int      `json:"healthy_machines"`
	UnhealthyMachines  []string `json:"unhealthy_machines"`
	IdleMachines       []string `json:"idle_machines"`
	UpdateableMachines []string `json:"updateable_machines"`
	ErroringMachines   []string `json:"erroring_machines"`
	// OfflineMachines and CheckedAt are proofgrid extensions.
	OfflineMachines []string  `json:"offline_machines"`
	CheckedAt       time.Time `json:"checked_at"`
}

// status and the id lists read only the machines that are not healthy
// (fleet's NotHealthy): every machine they name is one.
func (a *API) status(c *fiber.Ctx) error {
	nh, err := a.Monitor.NotHealthy(c.UserContext(), teamOf(c))
	if err != nil {
		return err
	}
	r := StatusResult{
		TotalMachines: nh.Total, HealthyMachines: nh.Total - len(nh.Machines), UnhealthyMachines: []string{}, IdleMachines: []string{},
		UpdateableMachines: []string{}, ErroringMachines: []string{}, OfflineMachines: []string{},
		CheckedAt: nh.CheckedAt,
	}
	for _, m := range nh.Machines {
		if m.Unhealthy() {
			r.UnhealthyMachines = append(r.UnhealthyMachines, m.ID)
		}
		if m.Idle {
			r.IdleMachines = append(r.IdleMachines, m.ID)
		}
		if m.AgentUpdateable {
			r.UpdateableMachines = append(r.UpdateableMachines, m.ID)
		}
		if m.Erroring {
			r.ErroringMachines = append(r.ErroringMachines, m.ID)
		}
		if m.Offline {
			r.OfflineMachines = append(r.OfflineMachines, m.ID)
		}
	}
	return ok(c, fiber.StatusOK, r)
}

// MachineSummary is one machine of /client/. Name, Role and LastChecked
// are proofgrid extensions.
type MachineSummary struct {
	MachineID   string     `json:"machine_id"`
	Status      string     `json:"status"`
	Name        string     `json:"name"`
	Role        string     `json:"role"`
	LastChecked *time.Time `json:"last_checked"`
}

func (a *API) machines(c *fiber.Ctx) error {
	ms, err := a.Monitor.States(c.UserContext(), teamOf(c))
	if err != nil {
		return err
	}
	out := make([]MachineSummary, len(ms))
	for i, m := range ms {
		out[i] = MachineSummary{MachineID: m.ID, Status: StatusName(m.State), Name: m.Name, Role: m.Role, LastChecked: m.LastSeenAt}
	}
	return ok(c, fiber.StatusOK, fiber.Map{"machines": out})
}

// list answers one of the id lists (/client/idle, ...) under key. keep
// holds only for machines that are not healthy.
func (a *API) list(key string, keep func(fleet.Verdict) bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		nh, err := a.Monitor.NotHealthy(c.UserContext(), teamOf(c))
		if err != nil {
			return err
		}
		ids := []string{}
		for _, m := range nh.Machines {
			if keep(m) {
				ids = append(ids, m.ID)
			}
		}
		return ok(c, fiber.StatusOK, fiber.Map{key: ids})
	}
}

// Metrics are the machine metrics of /client/info. Percentages are 0..100;
// CPU usage covers the whole machine, not one core; disk usage is that of
// the fullest filesystem; uptime is in seconds. The deployed AVS fields
// describe the machine's first AVS deployment and are null without one.
// RunningJobs and GPUCount are proofgrid extensions.
type Metrics struct {
	CPUUsage         float64  `json:"cpu_usage"`
	MemoryUsage      float64  `json:"memory_usage"`
	DiskUsage        float64  `json:"disk_usage"`
	Uptime           uint64   `json:"uptime"`
	DeployedAVS      *string  `json:"deployed_avs"`
	DeployedAVSChain *string  `json:"deployed_avs_chain"`
	OperatorPubKey   *string  `json:"operator_pub_key"`
	Errors           []string `json:"errors"`
	RunningJobs      int      `json:"running_jobs"`
	GPUCount         int      `json:"gpu_count"`
}

// MachineInfo answers /client/info/{machine_id}. Fields after LastChecked
// are proofgrid extensions.
type MachineInfo struct {
	MachineID    string            `json:"machine_id"`
	Status       string            `json:"status"`
	Metrics      Metrics           `json:"metrics"`
	LastChecked  *time.Time        `json:"last_checked"`
	Name         string            `json:"name"`
	Role         string            `json:"role"`
	ClusterID    string            `json:"cluster_id,omitempty"`
	AgentVersion string            `json:"agent_version"`
	Health       fleet.Health      `json:"health"`
	Deployments  []DeployedAVS     `json:"deployments"`
	GPUs         []proofgrid.GPU   `json:"gpus"`
	Disks        []proofgrid.Disk  `json:"disks"`
	Host         *proofgrid.Host   `json:"host"`
	Memory       *proofgrid.Memory `json:"memory"`
}

func (a *API) info(c *fiber.Ctx) error {
	id, err := param(c, "machine_id")
	if err != nil {
		return err
	}
	rep, err := a.Monitor.Machine(c.UserContext(), teamOf(c), id)
	if err != nil {
		return err
	}
	m, cat := rep.Machine, rep.Catalogue
	info := MachineInfo{
		MachineID: m.ID, Status: StatusName(rep.Health.State), LastChecked: m.LastSeenAt,
		Name: m.Name, Role: m.Role, ClusterID: m.ClusterID, AgentVersion: m.AgentVersion,
		Health: rep.Health, Deployments: []DeployedAVS{}, GPUs: []proofgrid.GPU{}, Disks: []proofgrid.Disk{},
	}
	info.Metrics.Errors = rep.Health.Errors
	if o := rep.Observation; o != nil {
		info.Metrics.CPUUsage = round2(o.CPUPercent)
		info.Metrics.MemoryUsage = round2(o.MemoryPercent)
		info.Metrics.DiskUsage = round2(o.DiskMaxPercent)
		info.Metrics.RunningJobs = o.RunningJobs
		info.Metrics.GPUCount = o.GPUCount
	}
	if s := m.Latest; s != nil {
		info.Metrics.Uptime = s.Host.UptimeSeconds
		info.Host, info.Memory = &s.Host, &s.Memory
		if s.GPUs != nil {
			info.GPUs = s.GPUs
		}
		if s.Disks != nil {
			info.Disks = s.Disks
		}
	}
	for i, d := range rep.Deployments {
		if i == 0 {
			avs, chain, op := d.AVSID, d.Chain, d.OperatorAddress
			info.Metrics.DeployedAVS, info.Metrics.DeployedAVSChain, info.Metrics.OperatorPubKey = &avs, &chain, &op
		}
		info.Deployments = append(info.Deployments, deployedOf(m.ID, d, cat))
	}
	return ok(c, fiber.StatusOK, info)
}

func round2(f float64) float64 {
	return float64(int64(f*100+0.5)) / 100
}

// Transition is one health change of a machine (proofgrid extension).
type Transition struct {
	MachineID string    `json:"machine_id"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	At        time.Time `json:"at"`
	Reason    string    `json:"reason"`
}

func (a *API) transitions(c *fiber.Ctx) error {
	id, err := param(c, "machine_id")
	if err != nil {
		return err
	}
	limit, err := web.IntQuery(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	var since time.Time
	if s := c.Query("since"); s != "" {
		if since, err = time.Parse(time.RFC3339, s); err != nil {
			return web.Invalid("since must be an RFC 3339 time, got %q", s)
		}
	}
	ts, err := a.Monitor.Transitions(c.UserContext(), teamOf(c), id, since, limit)
	if err != nil {
		return err
	}
	out := make([]Transition, len(ts))
	for i, t := range ts {
		out[i] = Transition{MachineID: t.MachineID, From: t.From, To: t.To, At: t.At, Reason: t.Reason}
	}
	return ok(c, fiber.StatusOK, fiber.Map{"transitions": out})
}

// DeployableAVS is one entry of /avs/. Fields after Networks are proofgrid
// extensions.
type DeployableAVS struct {
	AVSName       string    `json:"avs_name"`
	AVSID         string    `json:"avs_id"`
	Networks      []string  `json:"networks"`
	LatestVersion string    `json:"latest_version"`
	Allowlist     bool      `json:"allowlist"`
	Description   string    `json:"description,omitempty"`
	Source        string    `json:"source"`
	AsOf          time.Time `json:"as_of"`
}

func (a *API) deployable(c *fiber.Ctx) error {
	cat, err := a.Monitor.Catalogue(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]DeployableAVS, len(cat.AVS))
	for i, v := range cat.AVS {
		out[i] = DeployableAVS{
			AVSName: v.Name, AVSID: v.ID, Networks: v.NetworkNames(), LatestVersion: v.LatestVersion,
			Allowlist: v.Allowlist, Description: v.Description, Source: fleet.SourceCatalogue, AsOf: v.AsOf,
		}
	}
	return ok(c, fiber.StatusOK, fiber.Map{"deployable_avs": out})
}

// DeployedAVS is one deployment of /avs/deployed/. Fields after Registered
// are proofgrid extensions: where the registration status came from and
// when it held, the node's own health, and the catalogue's latest version.
type DeployedAVS struct {
	AVSName            string     `json:"avs_name"`
	AVSID              string     `json:"avs_id"`
	Network            string     `json:"network"`
	AVSVersion         string     `json:"avs_version"`
	MachineID          string     `json:"machine_id"`
	Operator           string     `json:"operator"`
	Registered         bool       `json:"registered"`
	RegistrationSource string     `json:"registration_source"`
	RegistrationAsOf   *time.Time `json:"registration_as_of"`
	Healthy            bool       `json:"healthy"`
	Error              string     `json:"error"`
	LatestVersion      string     `json:"latest_version"`
	Updateable         bool       `json:"updateable"`
	Source             string     `json:"source"`
	ReportedAt         time.Time  `json:"reported_at"`
}

func deployedOf(machineID string, d fleet.Deployment, cat *fleet.Catalogue) DeployedAVS {
	out := DeployedAVS{
		AVSName: d.AVSID, AVSID: d.AVSID, Network: d.Chain, AVSVersion: d.Version, MachineID: machineID,
		Operator: d.OperatorAddress, RegistrationSource: d.Registration.Source, RegistrationAsOf: d.Registration.AsOf,
		Healthy: d.Healthy, Error: d.Error, Source: fleet.SourceAgent, ReportedAt: d.ReportedAt,
	}
	if r := d.Registration.Registered; r != nil {
		out.Registered = *r
	}
	if v, found := cat.Lookup(d.AVSID); found {
		out.AVSName = v.Name
		out.LatestVersion = v.LatestVersionOn(d.Chain)
		out.Updateable = fleet.Behind(d.Version, out.LatestVersion)
	}
	return out
}

func (a *API) deployed(c *fiber.Ctx) error {
	deps, cat, err := a.Monitor.Deployments(c.UserContext(), teamOf(c))
	if err != nil {
		return err
	}
	out := make([]DeployedAVS, len(deps))
	for i, d := range deps {
		out[i] = deployedOf(d.MachineID, d.Deployment, cat)
	}
	return ok(c, fiber.StatusOK, fiber.Map{"deployed_avs": out})
}

// RegisteredAVS is one entry of /avs/registered/. Source and AsOf are
// proofgrid extensions: "agent", "admin" or "none" (nobody said, and
// registered is false). MachineID is "" for an admin record that no
// deployment of the team covers.
type RegisteredAVS struct {
	AVSName    string     `json:"avs_name"`
	AVSID      string     `json:"avs_id"`
	Network    string     `json:"network"`
	MachineID  string     `json:"machine_id"`
	Operator   string     `json:"operator"`
	Registered bool       `json:"registered"`
	Source     string     `json:"source"`
	AsOf       *time.Time `json:"as_of"`
}

func (a *API) registrations(c *fiber.Ctx) error {
	deps, cat, err := a.Monitor.Deployments(c.UserContext(), teamOf(c))
	if err != nil {
		return err
	}
	recs, err := a.Monitor.RecordedRegistrations(c.UserContext())
	if err != nil {
		return err
	}
	type key struct{ avs, chain, operator string }
	covered := make(map[key]bool, len(deps))
	out := make([]RegisteredAVS, len(deps), len(deps)+len(recs))
	for i, d := range deps {
		covered[key{d.AVSID, d.Chain, d.OperatorAddress}] = true
		r := RegisteredAVS{
			AVSName: d.AVSName, AVSID: d.AVSID, Network: d.Chain, MachineID: d.MachineID,
			Operator: d.OperatorAddress, Source: d.Registration.Source, AsOf: d.Registration.AsOf,
		}
		if v := d.Registration.Registered; v != nil {
			r.Registered = *v
		}
		out[i] = r
	}
	// An admin record stands on its own, as /avs/registered/{avs_id}
	// counts it: listing only deployments would answer false in one
	// place and true in the other.
	for _, rec := range recs {
		if covered[key{rec.AVSID, rec.Chain, rec.OperatorAddress}] {
			continue
		}
		name := rec.AVSID
		if v, found := cat.Lookup(rec.AVSID); found {
			name = v.Name
		}
		asOf := rec.AsOf
		out = append(out, RegisteredAVS{
			AVSName: name, AVSID: rec.AVSID, Network: rec.Chain, Operator: rec.OperatorAddress,
			Registered: rec.Registered, Source: rec.Source, AsOf: &asOf,
		})
	}
	return ok(c, fiber.StatusOK, fiber.Map{"registered_avs": out})
}

func (a *API) registered(c *fiber.Ctx) error {
	id, err := param(c, "avs_id")
	if err != nil {
		return err
	}
	yes, err := a.Monitor.Registered(c.UserContext(), fleet.RegistrationQuery{
		TeamID: teamOf(c), AVSID: id, Network: c.Query("network"), Operator: c.Query("operator"),
	})
	if err != nil {
		return err
	}
	return ok(c, fiber.StatusOK, yes)
}

// UpdateableAVS is one entry of /avs/updateable/. AVSName and
// LatestVersion are proofgrid extensions.
type UpdateableAVS struct {
	AVSID         string `json:"avs_id"`
	Network       string `json:"network"`
	AVSVersion    string `json:"avs_version"`
	MachineID     string `json:"machine_id"`
	AVSName       string `json:"avs_name"`
	LatestVersion string `json:"latest_version"`
}

func (a *API) updateableAVS(c *fiber.Ctx) error {
	deps, _, err := a.Monitor.Deployments(c.UserContext(), teamOf(c))
	if err != nil {
		return err
	}
	out := []UpdateableAVS{}
	for _, d := range deps {
		if d.Updateable {
			out = append(out, UpdateableAVS{
				AVSID: d.AVSID, Network: d.Chain, AVSVersion: d.Version, MachineID: d.MachineID,
				AVSName: d.AVSName, LatestVersion: d.LatestVersion,
			})
		}
	}
	return ok(c, fiber.StatusOK, fiber.Map{"updateable_avs": out})
}

// splitSpec splits the "a&b&c" path parameter of the requirements and
// rewards routes into between min and max parts.
func splitSpec(c *fiber.Ctx, min, max int, form string) ([]string, error) {
	spec, err := param(c, "spec")
	if err != nil {
		return nil, err
	}
	parts := strings.Split(spec, "&")
	if len(parts) < min || len(parts) > max {
		return nil, web.Invalid("path must be %s, got %q", form, spec)
	}
	for _, p := range parts {
		if p == "" {
			return nil, web.Invalid("path must be %s, got %q", form, spec)
		}
	}
	return parts, nil
}

// Physical is the hardware part of /avs/requirements: memory and disk in
// bytes, bandwidth in bits per second.
type Physical struct {
	NodeClass string `json:"node_class"`
	Cores     int    `json:"cores"`
	Memory    uint64 `json:"memory"`
	Disk      uint64 `json:"disk"`
	Bandwidth uint64 `json:"bandwidth"`
	GPU       string `json:"gpu,omitempty"`
}

// StakeRequirement is the stake part of /avs/requirements, which the
// draft left empty: the AVS's minimum, the operator's delegated ETH, and
// where that figure came from ("admin", or "none" when nothing is
// recorded).
type StakeRequirement struct {
	MinimumETH   float64    `json:"minimum_eth"`
	OperatorETH  float64    `json:"operator_eth"`
	MeetsMinimum bool       `json:"meets_minimum"`
	Source       string     `json:"source"`
	AsOf         *time.Time `json:"as_of"`
}

// RequirementsResult answers /avs/requirements/{avs_id}&{operator_address}.
// Source and AsOf (proofgrid extensions) date the catalogue figures.
type RequirementsResult struct {
	Physical  Physical         `json:"physical"`
	Stake     StakeRequirement `json:"stake"`
	Allowlist bool             `json:"allowlist"`
	Source    string           `json:"source"`
	AsOf      time.Time        `json:"as_of"`
}

func (a *API) requirements(c *fiber.Ctx) error {
	parts, err := splitSpec(c, 2, 2, "{avs_id}&{operator_address}")
	if err != nil {
		return err
	}
	if _, err := fleet.ParseOperatorAddress(parts[1]); err != nil {
		return err
	}
	req, err := a.Monitor.Requirements(c.UserContext(), parts[0], parts[1])
	if err != nil {
		return err
	}
	nc := req.NodeClass
	return ok(c, fiber.StatusOK, RequirementsResult{
		Physical: Physical{NodeClass: strings.ToUpper(nc.Name), Cores: nc.Cores, Memory: nc.MemoryBytes, Disk: nc.DiskBytes, Bandwidth: nc.BandwidthBPS, GPU: nc.GPU},
		Stake: StakeRequirement{
			MinimumETH: req.AVS.MinimumStakeETH, OperatorETH: req.Stake.ETH, MeetsMinimum: req.MeetsMinimum,
			Source: req.Stake.Source, AsOf: req.Stake.AsOf,
		},
		Allowlist: req.AVS.Allowlist,
		Source:    fleet.SourceCatalogue,
		AsOf:      req.AVS.AsOf,
	})
}

// RewardsResult answers /avs/rewards/{avs_id}&{currency}&{operator_address}:
// the monthly reward in the asked currency, or in dollars and ETH when the
// path names none. Fields after Eigen are proofgrid extensions saying how
// the figure was reached.
type RewardsResult struct {
	Dollar       *float64   `json:"dollar,omitempty"`
	Ethereum     *float64   `json:"ethereum,omitempty"`
	Eigen        *float64   `json:"eigen,omitempty"`
	AnnualRate   float64    `json:"annual_rate"`
	PaidIn       string     `json:"paid_in"`
	StakeETH     float64    `json:"stake_eth"`
	StakeSource  string     `json:"stake_source"`
	StakeAsOf    *time.Time `json:"stake_as_of"`
	Source       string     `json:"source"`
	AsOf         time.Time  `json:"as_of"`
	PricesAsOf   time.Time  `json:"prices_as_of"`
	PeriodMonths int        `json:"period_months"`
}

func (a *API) rewards(c *fiber.Ctx) error {
	parts, err := splitSpec(c, 2, 3, "{avs_id}&{currency}&{operator_address}")
	if err != nil {
		return err
	}
	currency, operator := "", parts[len(parts)-1]
	if len(parts) == 3 {
		if currency, err = fleet.ParseCurrency(parts[1]); err != nil {
			return err
		}
	}
	if _, err := fleet.ParseOperatorAddress(operator); err != nil {
		return err
	}
	est, err := a.Monitor.Rewards(c.UserContext(), parts[0], operator)
	if err != nil {
		return err
	}
	r := RewardsResult{
		AnnualRate: est.AVS.Rewards.AnnualRate, PaidIn: est.AVS.Rewards.PaidIn,
		StakeETH: est.Stake.ETH, StakeSource: est.Stake.Source, StakeAsOf: est.Stake.AsOf,
		Source: fleet.SourceCatalogue, AsOf: est.AVS.AsOf, PricesAsOf: est.Prices.AsOf, PeriodMonths: 1,
	}
	switch currency {
	case "":
		r.Dollar, r.Ethereum = &est.Dollar, &est.Ethereum
	case fleet.CurrencyDollar:
		r.Dollar = &est.Dollar
	case fleet.CurrencyEthereum:
		r.Ethereum = &est.Ethereum
	case fleet.CurrencyEigen:
		r.Eigen = &est.Eigen
	}
	return ok(c, fiber.StatusOK, r)
}

// EigenLayerStake is the delegated stake of an operator per the draft:
// EIGEN, and ETH per strategy.
type EigenLayerStake struct {
	Eigen    float64                 `json:"eigen"`
	Ethereum []storage.StakeStrategy `json:"ethereum"`
}

// StakeResult answers /operator/stake/{operator_address}. Fields after
// EigenLayer are proofgrid extensions.
type StakeResult struct {
	EigenLayer EigenLayerStake `json:"eigenlayer"`
	Operator   string          `json:"operator"`
	Source     string          `json:"source"`
	AsOf       time.Time       `json:"as_of"`
}

func stakeResult(s storage.OperatorStake) StakeResult {
	strategies := s.Strategies
	if strategies == nil {
		strategies = []storage.StakeStrategy{}
	}
	return StakeResult{
		EigenLayer: EigenLayerStake{Eigen: s.Eigen, Ethereum: strategies},
		Operator:   s.OperatorAddress, Source: s.Source, AsOf: s.AsOf,
	}
}

func (a *API) stake(c *fiber.Ctx) error {
	addr, err := param(c, "operator_address")
	if err != nil {
		return err
	}
	s, err := a.Monitor.Stake(c.UserContext(), addr)
	if err != nil {
		return err
	}
	return ok(c, fiber.StatusOK, stakeResult(s))
}

// StakeRecord is the body of POST /v1/admin/operator/stake.
type StakeRecord struct {
	OperatorAddress string                  `json:"operator_address"`
	Eigen           float64                 `json:"eigen"`
	Ethereum        []storage.StakeStrategy `json:"ethereum"`
	AsOf            *time.Time              `json:"as_of"`
}

func (a *API) recordStake(c *fiber.Ctx) error {
	var body StakeRecord
	if err := web.DecodeJSON(c, &body); err != nil {
		return err
	}
	if body.OperatorAddress == "" {
		return web.ErrMissing("operator_address")
	}
	s := storage.OperatorStake{OperatorAddress: body.OperatorAddress, Eigen: body.Eigen, Strategies: body.Ethereum}
	if body.AsOf != nil {
		s.AsOf = *body.AsOf
	}
	s, created, err := a.Monitor.RecordStake(c.UserContext(), s)
	if err != nil {
		return err
	}
	return ok(c, createdStatus(created), stakeResult(s))
}

// RegistrationRecord is the body of POST /v1/admin/avs/registered.
type RegistrationRecord struct {
	AVSID      string     `json:"avs_id"`
	Network    string     `json:"network"`
	Operator   string     `json:"operator"`
	Registered *bool      `json:"registered"`
	AsOf       *time.Time `json:"as_of"`
}

// RecordedRegistration answers POST /v1/admin/avs/registered.
type RecordedRegistration struct {
	AVSID      string    `json:"avs_id"`
	Network    string    `json:"network"`
	Operator   string    `json:"operator"`
	Registered bool      `json:"registered"`
	Source     string    `json:"source"`
	AsOf       time.Time `json:"as_of"`
}

func (a *API) recordRegistration(c *fiber.Ctx) error {
	var body RegistrationRecord
	if err := web.DecodeJSON(c, &body); err != nil {
		return err
	}
	switch {
	case body.AVSID == "":
		return web.ErrMissing("avs_id")
	case body.Operator == "":
		return web.ErrMissing("operator")
	case body.Registered == nil:
		return web.ErrMissing("registered")
	}
	r := storage.AVSRegistration{AVSID: body.AVSID, Chain: body.Network, OperatorAddress: body.Operator, Registered: *body.Registered}
	if body.AsOf != nil {
		r.AsOf = *body.AsOf
	}
	r, created, err := a.Monitor.RecordRegistration(c.UserContext(), r)
	if err != nil {
		return err
	}
	return ok(c, createdStatus(created), RecordedRegistration{
		AVSID: r.AVSID, Network: r.Chain, Operator: r.OperatorAddress, Registered: r.Registered, Source: r.Source, AsOf: r.AsOf,
	})
}

func createdStatus(created bool) int {
	if created {
		return fiber.StatusCreated
	}
	return fiber.StatusOK
}
