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

func (c *Console) fleetData(ctx *fiber.Ctx, v *visit) (fleetData, error) {
	rctx := ctx.UserContext()
	ms, _, err := c.cfg.Monitor.Fleet(rctx, v.Scope())
	if err != nil {
		return fleetData{}, err
	}
	clusterOf, err := c.cfg.DB.MachineClusters(rctx, v.Scope())
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
	state := ctx.Query("state")
	if !slices.Contains(fleetStates, state) {
		state = ""
	}
	query := strings.TrimSpace(ctx.Query("q"))
	d := fleetData{State: state, Query: query, Latest: c.cfg.Monitor.Rules().AgentLatestVersion, Machines: len(ms)}
	counts := map[string]int{}
	now := c.cfg.Monitor.Now()
	ttl := c.cfg.Monitor.Rules().HeartbeatTTL
	var rows []machineRow
	for _, m := range ms {
		r := machineRow{MachineHealth: m, ClusterID: clusterOf[m.ID]}
		r.Cluster = names[r.ClusterID]
		if r.Cluster == "" && r.ClusterID != "" {
			r.Cluster = r.ClusterID[:min(8, len(r.ClusterID))]
		}
		if o := m.Observation; o != nil {
			r.GPUs, r.Busy = o.GPUCount, o.RunningJobs > 0
		}
		d.GPUs += r.GPUs
		if r.Busy {
			d.GPUsBusy += r.GPUs
		}
		if m.Health.Unhealthy() {
			d.Unhealthy++
		}
		counts[m.Health.State]++
		r.AgeClass = "age-none"
		if m.LastSeenAt != nil {
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
		}
		if state != "" && m.Health.State != state {
			continue
		}
		if query != "" && !matches(query, m.Name, m.Role, r.Cluster, r.ClusterID, m.ID) {
			continue
		}
		rows = append(rows, r)
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
	d.Pager = c.newPager(u, page, int64(len(rows)))
	if offset < len(rows) {
		d.Rows = rows[offset:min(offset+c.cfg.PageSize, len(rows))]
	}
	d.InFlight, err = c.proofsInFlight(ctx, v, ids)
	return d, err
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
