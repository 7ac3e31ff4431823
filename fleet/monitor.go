package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
)

// MonitorConfig configures a Monitor. Zero values mean defaults.
type MonitorConfig struct {
	// Rules are the health thresholds; zero fields take DefaultRules.
	Rules Rules
	// HeartbeatInterval is the interval agents are told to use; the
	// default TTL is a multiple of it (default 15 s).
	HeartbeatInterval time.Duration
	Now               func() time.Time
}

// Monitor derives fleet health from what agents reported and keeps the AVS
// catalogue and the facts admins record. It holds no state of its own
// beyond its configuration: every replica reads the same database.
type Monitor struct {
	db    *storage.DB
	rules Rules
	now   func() time.Time
	cache *basisCache
}

// NewMonitor returns a Monitor over db.
func NewMonitor(db *storage.DB, cfg MonitorConfig) *Monitor {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Monitor{db: db, rules: cfg.Rules.withDefaults(cfg.HeartbeatInterval), now: cfg.Now, cache: &basisCache{}}
}

// Rules returns the resolved health rules.
func (m *Monitor) Rules() Rules { return m.rules }

// Now returns the monitor's current time.
func (m *Monitor) Now() time.Time { return m.now().UTC() }

// MachineHealth is a machine's identity, what its newest heartbeat said and
// the health derived from it.
type MachineHealth struct {
	ID           string
	TeamID       int64
	Name         string
	Role         string
	AgentVersion string
	EnrolledAt   time.Time
	LastSeenAt   *time.Time
	// Observation is nil before the first heartbeat.
	Observation *storage.Observation
	Deployments []Deployment
	Health      Health
}

// Fleet returns the health of every machine of teamID (0: every team),
// ordered by name and then id, together with the catalogue it was judged
// against. It reads the whole fleet in one query.
func (m *Monitor) Fleet(ctx context.Context, teamID int64) ([]MachineHealth, *Catalogue, error) {
	return m.fleet(ctx, storage.FleetFilter{TeamID: teamID}, m.Now())
}

// Machines returns the health of the named machines of teamID (0: every
// team), ordered by name and then id; ids that name no such machine are
// left out. A page of a fleet listing loads and judges its own machines
// only: the listing itself comes from States.
func (m *Monitor) Machines(ctx context.Context, teamID int64, ids []string) ([]MachineHealth, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ms, _, err := m.fleet(ctx, storage.FleetFilter{TeamID: teamID, MachineIDs: ids}, m.Now())
	return ms, err
}

func (m *Monitor) fleet(ctx context.Context, f storage.FleetFilter, now time.Time) ([]MachineHealth, *Catalogue, error) {
	cat, err := m.Catalogue(ctx)
	if err != nil {
		return nil, nil, err
	}
	rows, err := m.db.FleetMachines(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	out := make([]MachineHealth, len(rows))
	for i, r := range rows {
		out[i] = m.healthOf(r, now, cat)
	}
	return out, cat, nil
}

// healthOf converts a stored machine and derives its health at now.
func (m *Monitor) healthOf(r storage.FleetMachine, now time.Time, cat *Catalogue) MachineHealth {
	mh := machineOf(r)
	mh.Health = Assess(mh.input(), now, m.rules, cat)
	return mh
}

// machineOf converts a stored machine, without its health.
func machineOf(r storage.FleetMachine) MachineHealth {
	mh := MachineHealth{
		ID: r.ID, TeamID: r.TeamID, Name: r.Name, Role: r.Role, AgentVersion: r.AgentVersion,
		LastSeenAt: r.LastSeenAt, Observation: r.Observation, EnrolledAt: r.EnrolledAt,
	}
	if len(r.Deployments) > 0 {
		mh.Deployments = make([]Deployment, len(r.Deployments))
		for j, d := range r.Deployments {
			mh.Deployments[j] = deploymentOf(d)
		}
	}
	if r.Observation == nil && r.Sample != nil && r.LastSeenAt != nil {
		// Heartbeats from before observations were kept: derive one
		// from the stored sample and status.
		hb := proofgrid.Heartbeat{Sample: *r.Sample}
		if r.Status != nil {
			hb.Status = *r.Status
		}
		obs, legacy := Observe(r.ID, *r.LastSeenAt, hb)
		mh.Observation = &obs
		for _, d := range legacy {
			mh.Deployments = append(mh.Deployments, deploymentOf(d))
		}
	}
	return mh
}

func (mh MachineHealth) input() Input {
	return Input{
		AgentVersion: mh.AgentVersion, EnrolledAt: mh.EnrolledAt, LastSeenAt: mh.LastSeenAt,
		Observation: mh.Observation, Deployments: mh.Deployments,
	}
}

// MachineReport is one machine in full: as stored, with its latest sample
// and status, and its health.
type MachineReport struct {
	Machine proofgrid.Machine
	MachineHealth
	// Catalogue is the catalogue the machine was judged against.
	Catalogue *Catalogue
}

// Machine returns the report of a machine visible to teamID (0: any team).
// A machine of another team is not found, like one that does not exist.
func (m *Monitor) Machine(ctx context.Context, teamID int64, id string) (MachineReport, error) {
	if _, err := uuid.Parse(id); err != nil {
		return MachineReport{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "machine %q not found", id)
	}
	list, cat, err := m.fleet(ctx, storage.FleetFilter{TeamID: teamID, MachineID: id}, m.Now())
	if err != nil {
		return MachineReport{}, err
	}
	if len(list) == 0 {
		return MachineReport{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "machine %q not found", id)
	}
	full, err := m.db.MachineByID(ctx, id)
	if err != nil {
		return MachineReport{}, err
	}
	return MachineReport{Machine: full, MachineHealth: list[0], Catalogue: cat}, nil
}

// SweepResult counts what one sweep did.
type SweepResult struct {
	Machines int `json:"machines"`
	// Transitions is how many machines this sweep moved to a new state.
	Transitions int `json:"transitions"`
}

// maxReasonLen bounds a transition's stored reason.
const maxReasonLen = 1000

// Sweep records the machines whose health state changed since the last
// sweep, each with a transition row. Running it twice, or on two replicas
// at once, records each change once: a change is only written while the
// machine is still in the state it was judged to leave.
//
// It does not judge every machine: the machines that are not healthy at
// now come from their stored judgements (as NotHealthy reads them), and
// only those whose state differs from the recorded one (or that have none
// recorded yet) are loaded and judged in full, which also gives their
// transition its reason. A sweep of a settled fleet reads the not healthy
// machines and the recorded states that are not healthy, nothing more.
func (m *Monitor) Sweep(ctx context.Context, now time.Time) (SweepResult, error) {
	now = now.UTC()
	if _, err := m.db.RepairFleetCounts(ctx); err != nil {
		return SweepResult{}, err
	}
	count, err := m.db.CountFleet(ctx, 0)
	if err != nil {
		return SweepResult{}, err
	}
	machines := count.Machines
	unrecorded, err := m.db.MachinesWithoutHealthState(ctx, machines)
	if err != nil {
		return SweepResult{}, err
	}
	recorded, err := m.db.HealthStatesOtherThan(ctx, StateHealthy)
	if err != nil {
		return SweepResult{}, err
	}
	nh, err := m.notHealthyAt(ctx, 0, now)
	if err != nil {
		return SweepResult{}, err
	}
	// Candidates: a machine not healthy now in another recorded state, a
	// machine recorded not healthy that is healthy now, and a machine
	// with no recorded state.
	candidates := map[string]bool{}
	notHealthy := make(map[string]bool, len(nh.Machines))
	for _, v := range nh.Machines {
		notHealthy[v.ID] = true
		if recorded[v.ID].State != v.State {
			candidates[v.ID] = true
		}
	}
	for id := range recorded {
		if !notHealthy[id] {
			candidates[id] = true
		}
	}
	isUnrecorded := make(map[string]bool, len(unrecorded))
	for _, id := range unrecorded {
		candidates[id], isUnrecorded[id] = true, true
	}
	if len(candidates) == 0 {
		return SweepResult{Machines: machines}, nil
	}
	ids := make([]string, 0, len(candidates))
	for id := range candidates {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var changes []storage.HealthChange
	for start := 0; start < len(ids); start += staleBatch {
		rows, err := m.db.FleetMachines(ctx, storage.FleetFilter{MachineIDs: ids[start:min(start+staleBatch, len(ids))]})
		if err != nil {
			return SweepResult{}, err
		}
		for _, r := range rows {
			mh := m.healthOf(r, now, nh.Catalogue)
			from := recorded[mh.ID].State
			if from == "" && !isUnrecorded[mh.ID] {
				from = StateHealthy
			}
			if from == mh.Health.State {
				continue
			}
			reason := mh.Health.Reason()
			if len(reason) > maxReasonLen {
				reason = reason[:maxReasonLen]
			}
			changes = append(changes, storage.HealthChange{MachineID: mh.ID, From: from, To: mh.Health.State, At: now, Reason: reason})
		}
	}
	n, err := m.db.ApplyHealthChanges(ctx, changes)
	if err != nil {
		return SweepResult{Machines: machines, Transitions: n}, fmt.Errorf("record health changes: %w", err)
	}
	return SweepResult{Machines: machines, Transitions: n}, nil
}

// StateUnknown names the state a machine had before its first sweep.
const StateUnknown = "unknown"

// Transitions returns recorded health transitions of teamID's machines (0:
// every team), or of one of them, newest first. A machine the team cannot
// see is not found.
func (m *Monitor) Transitions(ctx context.Context, teamID int64, machineID string, since time.Time, limit int) ([]storage.HealthTransition, error) {
	if machineID != "" {
		if _, err := uuid.Parse(machineID); err != nil {
			return nil, proofgrid.Errorf(proofgrid.ENOTFOUND, "machine %q not found", machineID)
		}
		rows, err := m.db.FleetMachines(ctx, storage.FleetFilter{TeamID: teamID, MachineID: machineID})
		if err != nil {
			return nil, err
		}
		if len(rows) == 0 {
			return nil, proofgrid.Errorf(proofgrid.ENOTFOUND, "machine %q not found", machineID)
		}
	}
	ts, err := m.db.HealthTransitions(ctx, storage.TransitionFilter{TeamID: teamID, MachineID: machineID, Since: since, Limit: limit})
	if err != nil {
		return nil, err
	}
	for i := range ts {
		if ts[i].From == "" {
			ts[i].From = StateUnknown
		}
	}
	return ts, nil
}

// Catalogue returns the AVS catalogue as stored. Before any load it is
// empty, not an error.
func (m *Monitor) Catalogue(ctx context.Context) (*Catalogue, error) {
	entries, err := m.db.CatalogueEntries(ctx)
	if err != nil {
		return nil, err
	}
	settings, err := m.db.CatalogueSettings(ctx)
	if err != nil {
		return nil, err
	}
	c := &Catalogue{AVS: make([]AVS, 0, len(entries))}
	for _, e := range entries {
		var a AVS
		if err := json.Unmarshal(e.Document, &a); err != nil {
			return nil, fmt.Errorf("catalogue entry %s: %w", e.AVSID, err)
		}
		a.Source, a.AsOf = e.Source, e.AsOf
		c.AVS = append(c.AVS, a)
	}
	if s, ok := settings[settingCatalogue]; ok {
		c.Description, c.AsOf = s.Value, s.AsOf
	}
	if s, ok := settings[settingAgentLatest]; ok {
		c.Agent.LatestVersion = s.Value
	}
	if s, ok := settings[settingPrices]; ok {
		if err := json.Unmarshal([]byte(s.Value), &c.Prices); err != nil {
			return nil, fmt.Errorf("catalogue prices: %w", err)
		}
	}
	return c, nil
}

// LoadCatalogue validates c and stores it, marking its entries with
// source. With replace false (a coordinator starting with its built-in
// catalogue) stored data is kept where it has a later as_of than c; with
// replace true (an explicit import) c wins. AVSs that c does not list stay
// as they are. It returns how many entries and settings it wrote.
func (m *Monitor) LoadCatalogue(ctx context.Context, c Catalogue, source string, replace bool) (int, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	entries := make([]storage.CatalogueEntry, 0, len(c.AVS))
	for i, a := range c.AVS {
		doc, err := json.Marshal(a)
		if err != nil {
			return 0, fmt.Errorf("encode catalogue entry %s: %w", a.ID, err)
		}
		entries = append(entries, storage.CatalogueEntry{
			AVSID: a.ID, Name: a.Name, Position: i, Document: doc, Source: source, AsOf: c.AsOf,
		})
	}
	prices, err := json.Marshal(c.Prices)
	if err != nil {
		return 0, fmt.Errorf("encode catalogue prices: %w", err)
	}
	settings := []storage.CatalogueSetting{
		{Name: settingCatalogue, Value: c.Description, Source: source, AsOf: c.AsOf},
		{Name: settingAgentLatest, Value: c.Agent.LatestVersion, Source: source, AsOf: c.AsOf},
		{Name: settingPrices, Value: string(prices), Source: source, AsOf: c.AsOf},
	}
	return m.db.UpsertCatalogue(ctx, entries, settings, replace)
}
