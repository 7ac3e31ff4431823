package console

import (
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/storage"
)

// fleetStates are the health states in the order the filter lists them.
var fleetStates = []string{fleet.StateHealthy, fleet.StateIdle, fleet.StateErroring, fleet.StateUpdateable, fleet.StateOffline}

type stateCount struct {
	State  string
	Count  int
	Active bool
	URL    string
}

type machineRow struct {
	fleet.MachineHealth
	Cluster    string
	ClusterID  string
	Age        string
	AgeClass   string
	GPUs       int
	Busy       bool
	LatestHint string
}

type fleetData struct {
	Machines, Unhealthy, GPUs, GPUsBusy int
	InFlight                            int64
	States                              []stateCount
	State, Query                        string
	Rows                                []machineRow
	Pager                               pager
	Latest                              string
	AllCount                            int
	AllURL                              string
}

func (c *Console) fleetPage(ctx *fiber.Ctx, v *visit) error {
	d, err := c.fleetData(ctx, v)
	if err != nil {
		return err
	}
	return c.render(ctx, fiber.StatusOK, "fleet", pageData{Title: "Fleet", Nav: "fleet", Visit: v, Data: d})
}

// fleetData builds the fleet page. The listing, its filters and its counts
// come from the stored judgements (Monitor.States, which /v1/client/status
// also answers from), so the page costs about what that read costs at any
// fleet size; only the machines on the page are loaded and judged in full
// (Monitor.Machines).
func (c *Console) fleetData(ctx *fiber.Ctx, v *visit) (fleetData, error) {
	rctx := ctx.UserContext()
	ms, err := c.cfg.Monitor.States(rctx, v.Scope())
	if err != nil {
		return fleetData{}, err
	}
	clusters, err := c.cfg.DB.ConsoleClusters(rctx, v.Scope())
	if err != nil {
		return fleetData{}, err
	}
	names := make(map[string]string, len(clusters))
	ids := make([]string, len(clusters))
	for i, cl := range clusters {
		names[cl.ID], ids[i] = cl.Name, cl.ID
	}
	clusterName := func(id string) string {
		if n := names[id]; n != "" || id == "" {
			return n
		}
		return id[:min(8, len(id))]
	}
	state := ctx.Query("state")
	if !slices.Contains(fleetStates, state) {
		state = ""
	}
	query := strings.TrimSpace(ctx.Query("q"))
	// A search matches clusters, so it needs every machine's; without
	// one only the machines on the page are looked up.
	var clusterOf map[string]string
	if query != "" {
		if clusterOf, err = c.cfg.DB.MachineClusters(rctx, v.Scope()); err != nil {
			return fleetData{}, err
		}
	}
	d := fleetData{State: state, Query: query, Latest: c.cfg.Monitor.Rules().AgentLatestVersion, Machines: len(ms)}
	if d.GPUs, d.GPUsBusy, err = c.cfg.DB.FleetGPUs(rctx, v.Scope()); err != nil {
		return fleetData{}, err
	}
	counts := map[string]int{}
	var listed []string
	for _, m := range ms {
		if m.Unhealthy {
			d.Unhealthy++
		}
		counts[m.State]++
		if state != "" && m.State != state {
			continue
		}
		if query != "" && !matches(query, m.Name, m.Role, clusterName(clusterOf[m.ID]), clusterOf[m.ID], m.ID) {
			continue
		}
		listed = append(listed, m.ID)
	}
	u := requestURL(ctx)
	link := func(st string) string {
		q := u.Query()
		q.Del("page")
		if st == "" {
			q.Del("state")
		} else {
			q.Set("state", st)
		}
		if len(q) == 0 {
			return u.Path
		}
		return u.Path + "?" + q.Encode()
	}
	for _, st := range fleetStates {
		d.States = append(d.States, stateCount{State: st, Count: counts[st], Active: st == state, URL: link(st)})
	}
	d.AllCount, d.AllURL = len(ms), link("")
	page, offset := c.pageOf(ctx)
	d.Pager = c.newPager(u, page, int64(len(listed)))
	if offset < len(listed) {
		pageIDs := listed[offset:min(offset+c.cfg.PageSize, len(listed))]
		shown, err := c.cfg.Monitor.Machines(rctx, v.Scope(), pageIDs)
		if err != nil {
			return fleetData{}, err
		}
		if clusterOf == nil {
			if clusterOf, err = c.cfg.DB.MachineClusters(rctx, v.Scope(), pageIDs...); err != nil {
				return fleetData{}, err
			}
		}
		now, ttl := c.cfg.Monitor.Now(), c.cfg.Monitor.Rules().HeartbeatTTL
		for _, m := range shown {
			r := newMachineRow(m, now, ttl)
			r.ClusterID = clusterOf[m.ID]
			r.Cluster = clusterName(r.ClusterID)
			d.Rows = append(d.Rows, r)
		}
	}
	d.InFlight, err = c.proofsInFlight(ctx, v, ids)
	return d, err
}

// newMachineRow is m as a row of the fleet table, without its cluster;
// ttl colours its last heartbeat by age.
func newMachineRow(m fleet.MachineHealth, now time.Time, ttl time.Duration) machineRow {
	r := machineRow{MachineHealth: m, AgeClass: "age-none"}
	if o := m.Observation; o != nil {
		r.GPUs, r.Busy = o.GPUCount, o.RunningJobs > 0
	}
	if m.LastSeenAt == nil {
		return r
	}
	age := now.Sub(*m.LastSeenAt)
	r.Age = ago(max(age, 0))
	switch {
	case age <= ttl/3*2:
		r.AgeClass = "age-fresh"
	case age <= ttl:
		r.AgeClass = "age-late"
	default:
		r.AgeClass = "age-old"
	}
	return r
}

func matches(q string, fields ...string) bool {
	q = strings.ToLower(q)
	for _, f := range fields {
		if strings.Contains(strings.ToLower(f), q) {
			return true
		}
	}
	return false
}

// proofsInFlight counts the queued and proving proofs of the visitor's
// clusters (every cluster for an operator).
func (c *Console) proofsInFlight(ctx *fiber.Ctx, v *visit, clusterIDs []string) (int64, error) {
	if !v.Operator() && len(clusterIDs) == 0 {
		return 0, nil
	}
	var ids []string
	if !v.Operator() {
		ids = clusterIDs
	}
	var total int64
	for _, st := range []string{storage.ProofQueued, storage.ProofProving} {
		_, n, err := c.cfg.DB.ListProofs(ctx.UserContext(), storage.ProofFilter{Status: st, ClusterIDs: ids, Limit: 1})
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// since is the start of the history a machine page charts.
const historyWindow = 24 * time.Hour
