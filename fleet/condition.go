package fleet

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/proofgrid/proofgrid/storage"
)

// A machine is healthy unless it is offline, erroring, updateable or idle.
// Only offline and idle depend on the passing of time, so a machine is
// judged when its inputs change (by its heartbeat, or by the next read
// when they changed otherwise) and the judgement is stored: the flags that
// time cannot change, and the times after which time alone makes it
// offline or idle (storage.Judgement). A read then selects, through an
// index, the machines due by now (not healthy at some time before it) and
// derives their health from the stored judgement and the time; only the
// machines whose judgement is stale are loaded and judged with Assess.
// Judgements are made under a basis, a digest of the rules, the catalogue
// and the admin-recorded registrations: when any of them changes, those
// made before are stale.

// basisTTL is how long a heartbeat reuses the basis and catalogue it last
// read. A stale one costs only work: rows judged under it are judged again
// by the next read.
const basisTTL = time.Second

// basisCache is the basis heartbeats judge under, with the admin-recorded
// registrations of its generation, which heartbeats resolve their
// deployments' registrations from instead of reading them.
type basisCache struct {
	mu      sync.Mutex
	read    time.Time // by the monotonic clock, not the injected one
	basis   string
	cat     *Catalogue
	regs    map[registrationKey]storage.AVSRegistration
	regsGen string
	// catGen is the catalogue generation cat and basis were read at.
	catGen string
}

type registrationKey struct{ avs, chain, operator string }

// basis returns the basis of the rules, the catalogue and the registrations,
// with the catalogue. Catalogue and registrations are read again only when
// their generation changed, so a read costs one small query; the returned
// catalogue is shared and must not be modified.
func (m *Monitor) basis(ctx context.Context) (string, *Catalogue, error) {
	gens, err := m.db.HealthGenerations(ctx)
	if err != nil {
		return "", nil, err
	}
	catGen, regsGen := gens[storage.GenerationCatalogue], gens[storage.GenerationRegistrations]
	c := m.cache
	c.mu.Lock()
	basis, cat, regs := c.basis, c.cat, c.regs
	if c.catGen != catGen || c.regsGen != regsGen {
		basis = ""
	}
	if c.catGen != catGen {
		cat = nil
	}
	if c.regsGen != regsGen {
		regs = nil
	}
	c.mu.Unlock()
	// Each input is read after its generation: one newer than it is
	// judged under a basis that the next read finds stale, never the
	// reverse.
	if cat == nil {
		if cat, err = m.Catalogue(ctx); err != nil {
			return "", nil, err
		}
	}
	if regs == nil {
		list, err := m.db.AVSRegistrations(ctx, "")
		if err != nil {
			return "", nil, err
		}
		regs = make(map[registrationKey]storage.AVSRegistration, len(list))
		for _, r := range list {
			regs[registrationKey{r.AVSID, r.Chain, r.OperatorAddress}] = r
		}
	}
	if basis == "" {
		doc, err := json.Marshal(struct {
			Rules         Rules      `json:"rules"`
			Catalogue     *Catalogue `json:"catalogue"`
			Registrations string     `json:"registrations"`
		}{m.rules, cat, regsGen})
		if err != nil {
			return "", nil, err
		}
		sum := sha256.Sum256(doc)
		basis = hex.EncodeToString(sum[:16])
	}
	c.mu.Lock()
	c.read, c.basis, c.cat, c.regs, c.regsGen, c.catGen = time.Now(), basis, cat, regs, regsGen, catGen
	c.mu.Unlock()
	return basis, cat, nil
}

// cachedBasis returns the basis, catalogue and registrations of the cache,
// read again when older than basisTTL.
func (m *Monitor) cachedBasis(ctx context.Context) (string, *Catalogue, map[registrationKey]storage.AVSRegistration, error) {
	c := m.cache
	c.mu.Lock()
	basis, cat, regs, fresh := c.basis, c.cat, c.regs, c.cat != nil && time.Since(c.read) < basisTTL
	c.mu.Unlock()
	if fresh {
		return basis, cat, regs, nil
	}
	if _, _, err := m.basis(ctx); err != nil {
		return "", nil, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.basis, c.cat, c.regs, nil
}

// farFuture is when judge looks at a machine to find the flags that time
// cannot change: late enough that a machine that can be idle is idle, with
// the machine seen just then.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// dueAlways is the due time of a machine that is not healthy at any time.
var dueAlways = time.Unix(0, 0).UTC()

// Judgement flags: storage.Judgement's Flags.
const (
	flagErroring = 1 << iota
	flagAgentUpdateable
	flagAVSUpdateable
	flagHasAVS
)

// judge judges mh under basis for storing. Seen just now, it is erroring
// or updateable at any time while it is not offline (neither depends on
// the time); idle once its idle window has passed since it was last active,
// if it is idle when seen far in the future; offline a TTL after it was
// last seen.
func (m *Monitor) judge(mh MachineHealth, cat *Catalogue, basis string) storage.Judgement {
	in := mh.input()
	seen := farFuture
	in.LastSeenAt = &seen
	h := Assess(in, farFuture, m.rules, cat)
	j := storage.Judgement{Basis: basis, DueAt: dueAlways}
	for _, f := range []struct {
		set  bool
		flag int
	}{{h.Erroring, flagErroring}, {h.AgentUpdateable, flagAgentUpdateable}, {h.AVSUpdateable, flagAVSUpdateable}, {h.HasAVS, flagHasAVS}} {
		if f.set {
			j.Flags |= f.flag
		}
	}
	if mh.LastSeenAt != nil {
		at := mh.LastSeenAt.Add(m.rules.HeartbeatTTL)
		j.OfflineAt = &at
	}
	if h.Idle {
		at := dueAlways
		if since := in.activeSince(); since != nil {
			at = since.Add(m.rules.IdleWindow)
		}
		j.IdleAt = &at
	}
	if j.OfflineAt != nil && !h.Erroring && !h.Updateable {
		j.DueAt = *j.OfflineAt
		if j.IdleAt != nil && j.IdleAt.Before(j.DueAt) {
			j.DueAt = *j.IdleAt
		}
	}
	return j
}

// Verdict is a machine's health as a stored judgement gives it: the state
// and flags of Health, without its errors, warnings and reasons.
type Verdict struct {
	ID   string
	Name string
	// State is the worst state that applies.
	State           string
	Offline         bool
	Erroring        bool
	Updateable      bool
	AgentUpdateable bool
	AVSUpdateable   bool
	Idle            bool
	HasAVS          bool
}

// Unhealthy is Health's Unhealthy.
func (v Verdict) Unhealthy() bool { return unhealthy(v.Offline, v.HasAVS, v.Erroring, v.Updateable) }

// verdictOf returns the flags and state of h.
func verdictOf(id, name string, h Health) Verdict {
	return Verdict{
		ID: id, Name: name, State: h.State, Offline: h.Offline, Erroring: h.Erroring, Updateable: h.Updateable,
		AgentUpdateable: h.AgentUpdateable, AVSUpdateable: h.AVSUpdateable, Idle: h.Idle, HasAVS: h.HasAVS,
	}
}

// verdictAt derives a machine's health at now from its stored judgement,
// as Assess does from the machine: offline after OfflineAt, and then
// neither erroring nor idle; idle after IdleAt.
func verdictAt(r storage.ConditionRow, now time.Time) Verdict {
	v := Verdict{
		ID: r.MachineID, Name: r.Name,
		Offline:         r.OfflineAt == nil || now.After(*r.OfflineAt),
		AgentUpdateable: r.Flags&flagAgentUpdateable != 0,
		AVSUpdateable:   r.Flags&flagAVSUpdateable != 0,
		HasAVS:          r.Flags&flagHasAVS != 0,
	}
	v.Updateable = v.AgentUpdateable || v.AVSUpdateable
	if !v.Offline {
		v.Erroring = r.Flags&flagErroring != 0
		v.Idle = r.IdleAt != nil && now.After(*r.IdleAt)
	}
	v.State = stateOf(v.Offline, v.Erroring, v.Updateable, v.Idle)
	return v
}

// Condition judges a machine as a heartbeat left it; it is the
// storage.ConditionFunc that heartbeats call (storage.DB's
// SetConditionFunc). On an error it answers a stale basis, which the next
// read judges again.
func (m *Monitor) Condition(ctx context.Context, r storage.FleetMachine) storage.Judgement {
	basis, cat, regs, err := m.cachedBasis(ctx)
	if err != nil {
		return storage.Judgement{DueAt: dueAlways}
	}
	if r.RegistrationsUnread {
		for i, d := range r.Deployments {
			if rec, ok := regs[registrationKey{d.AVSID, d.Chain, d.OperatorAddress}]; ok {
				r.Deployments[i].Recorded = &rec
			}
		}
	}
	return m.judge(machineOf(r), cat, basis)
}

var _ storage.ConditionFunc = (*Monitor)(nil).Condition

// NotHealthy is the part of a fleet that is not healthy.
type NotHealthy struct {
	// Total counts every machine of the fleet.
	Total int
	// Machines are those that are not healthy, ordered by name and then
	// id.
	Machines []Verdict
	// Catalogue is the catalogue they were judged against.
	Catalogue *Catalogue
	// CheckedAt is when they were judged.
	CheckedAt time.Time
}

// staleBatch bounds the machines judged again in one read of FleetMachines.
const staleBatch = 500

// NotHealthy returns the machines of teamID (0: every team) that are not
// healthy now and how many machines there are: the answer of Fleet
// without the healthy machines, derived from the stored judgements of the
// machines due by now. Machines whose judgement is stale are loaded and
// judged with Assess, and their judgements stored.
func (m *Monitor) NotHealthy(ctx context.Context, teamID int64) (NotHealthy, error) {
	return m.notHealthyAt(ctx, teamID, m.Now())
}

// notHealthyAt is NotHealthy at now.
func (m *Monitor) notHealthyAt(ctx context.Context, teamID int64, now time.Time) (NotHealthy, error) {
	// Counted first: a machine enrolled meanwhile is then left out of the
	// total rather than counted healthy without being judged.
	count, err := m.db.CountFleet(ctx, teamID)
	if err != nil {
		return NotHealthy{}, err
	}
	basis, cat, err := m.basis(ctx)
	if err != nil {
		return NotHealthy{}, err
	}
	// Stored times have microseconds, so the bound is rounded up: the
	// query may return a few machines that are healthy now, which
	// verdictAt tells, never fewer.
	before := now.Truncate(time.Microsecond).Add(time.Microsecond)
	rows, err := m.db.DueConditions(ctx, teamID, basis, before)
	if err != nil {
		return NotHealthy{}, err
	}
	out := NotHealthy{Total: count.Machines, Machines: make([]Verdict, 0, len(rows)), Catalogue: cat, CheckedAt: now}
	versions := map[string]int64{}
	var stale []string
	for _, r := range rows {
		if r.Basis != basis {
			versions[r.MachineID] = r.Version
			stale = append(stale, r.MachineID)
			continue
		}
		if v := verdictAt(r, now); v.State != StateHealthy {
			out.Machines = append(out.Machines, v)
		}
	}
	var judged []storage.Condition
	for start := 0; start < len(stale); start += staleBatch {
		ms, err := m.db.FleetMachines(ctx, storage.FleetFilter{TeamID: teamID, MachineIDs: stale[start:min(start+staleBatch, len(stale))]})
		if err != nil {
			return NotHealthy{}, err
		}
		for _, r := range ms {
			mh := m.healthOf(r, now, cat)
			judged = append(judged, storage.Condition{
				MachineID: r.ID, Name: r.Name, Judgement: m.judge(mh, cat, basis), Version: versions[r.ID],
			})
			if !mh.Health.Healthy() {
				out.Machines = append(out.Machines, verdictOf(r.ID, r.Name, mh.Health))
			}
		}
	}
	slices.SortFunc(out.Machines, func(a, b Verdict) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	if err := m.db.SetConditions(ctx, judged); err != nil {
		return NotHealthy{}, err
	}
	return out, nil
}

// MachineState is a machine of a fleet listing with its health state.
type MachineState struct {
	storage.MachineSummary
	State string
	// Unhealthy is Health's Unhealthy: not every state but healthy is
	// (an idle machine, or an offline one without an AVS, is not).
	Unhealthy bool
}

// States returns every machine of teamID (0: every team) with its health
// state now, ordered by name and then id: the states of Fleet, judging
// only the machines that may not be healthy.
func (m *Monitor) States(ctx context.Context, teamID int64) ([]MachineState, error) {
	// Listed first: every machine listed then exists when NotHealthy
	// judges, so none is called healthy without being judged.
	list, err := m.db.MachineSummaries(ctx, teamID)
	if err != nil {
		return nil, err
	}
	nh, err := m.NotHealthy(ctx, teamID)
	if err != nil {
		return nil, err
	}
	verdicts := make(map[string]Verdict, len(nh.Machines))
	for _, v := range nh.Machines {
		verdicts[v.ID] = v
	}
	out := make([]MachineState, len(list))
	for i, s := range list {
		out[i] = MachineState{MachineSummary: s, State: StateHealthy}
		if v, ok := verdicts[s.ID]; ok {
			out[i].State, out[i].Unhealthy = v.State, v.Unhealthy()
		}
	}
	return out, nil
}
