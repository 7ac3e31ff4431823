package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"

	"github.com/proofgrid/proofgrid/storage"
)

// A machine is healthy unless it is offline, erroring, updateable or idle.
// Only offline and idle depend on the passing of time, so each heartbeat
// stores whether anything else could keep its machine from being healthy
// (its conditions: notable or not). A read then judges only the machines
// that are notable, whose conditions are stale, or whose last heartbeat is
// older than the TTL, found through indexes, with the same Assess as
// always; every other machine is healthy. Conditions are judged under a
// basis, a digest of the rules, the catalogue and the admin-recorded
// registrations: when any of them changes, rows judged before are stale
// and reads judge them again.

// basisTTL is how long a heartbeat reuses the basis and catalogue it last
// read. A stale one costs only work: rows judged under it are judged again
// by the next read.
const basisTTL = time.Second

// basisCache is the basis heartbeats judge under.
type basisCache struct {
	mu    sync.Mutex
	read  time.Time // by the monotonic clock, not the injected one
	basis string
	cat   *Catalogue
}

// basis reads the catalogue and the registrations' generation and returns
// the basis they make with the rules.
func (m *Monitor) basis(ctx context.Context) (string, *Catalogue, error) {
	cat, err := m.Catalogue(ctx)
	if err != nil {
		return "", nil, err
	}
	gen, err := m.db.HealthGeneration(ctx, storage.GenerationRegistrations)
	if err != nil {
		return "", nil, err
	}
	doc, err := json.Marshal(struct {
		Rules         Rules      `json:"rules"`
		Catalogue     *Catalogue `json:"catalogue"`
		Registrations string     `json:"registrations"`
	}{m.rules, cat, gen})
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(doc)
	basis := hex.EncodeToString(sum[:16])
	c := m.cache
	c.mu.Lock()
	c.read, c.basis, c.cat = time.Now(), basis, cat
	c.mu.Unlock()
	return basis, cat, nil
}

func (m *Monitor) cachedBasis(ctx context.Context) (string, *Catalogue, error) {
	c := m.cache
	c.mu.Lock()
	basis, cat, fresh := c.basis, c.cat, c.cat != nil && time.Since(c.read) < basisTTL
	c.mu.Unlock()
	if fresh {
		return basis, cat, nil
	}
	return m.basis(ctx)
}

// farFuture is when notable judges a machine: late enough that a machine
// without AVS or running job is idle, with the machine seen just then.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// notable reports whether anything but time can keep mh from being
// healthy: judged as if it had just been seen, far in the future, it is
// erroring, updateable or idle. Offline aside, a machine that is not
// notable is healthy at any time: erroring and updateable do not depend
// on the time, and a machine idle at some time is idle later too.
func (m *Monitor) notable(mh MachineHealth, cat *Catalogue) bool {
	in := mh.input()
	seen := farFuture
	in.LastSeenAt = &seen
	h := Assess(in, farFuture, m.rules, cat)
	return h.Erroring || h.Updateable || h.Idle
}

// Condition judges a machine's conditions as a heartbeat left them; it is
// the storage.ConditionFunc that heartbeats call (storage.DB's
// SetConditionFunc). On an error it answers a stale basis, which the next
// read judges again.
func (m *Monitor) Condition(ctx context.Context, r storage.FleetMachine) (notable bool, basis string) {
	basis, cat, err := m.cachedBasis(ctx)
	if err != nil {
		return false, ""
	}
	return m.notable(machineOf(r), cat), basis
}

var _ storage.ConditionFunc = (*Monitor)(nil).Condition

// NotHealthy is the part of a fleet that is not healthy.
type NotHealthy struct {
	// Total counts every machine of the fleet.
	Total int
	// Machines are those that are not healthy, ordered by name and then
	// id, with their health.
	Machines []MachineHealth
	// Catalogue is the catalogue they were judged against.
	Catalogue *Catalogue
	// CheckedAt is when they were judged.
	CheckedAt time.Time
}

// NotHealthy returns the machines of teamID (0: every team) that are not
// healthy now and how many machines there are, judging with Assess only
// the machines that may not be healthy: the answer is that of Fleet
// without the healthy machines. It stores the conditions of the stale
// machines it judged.
func (m *Monitor) NotHealthy(ctx context.Context, teamID int64) (NotHealthy, error) {
	now := m.Now()
	// Counted first: a machine enrolled meanwhile is then left out of the
	// total rather than counted healthy without being judged.
	total, err := m.db.CountMachines(ctx, teamID)
	if err != nil {
		return NotHealthy{}, err
	}
	basis, cat, err := m.basis(ctx)
	if err != nil {
		return NotHealthy{}, err
	}
	stale, err := m.db.StaleConditions(ctx, teamID, basis)
	if err != nil {
		return NotHealthy{}, err
	}
	// Offline is "seen before now - TTL"; stored times have microseconds,
	// so the bound is rounded up: the query may return a few more machines
	// than are offline, which Assess then judges, never fewer.
	before := now.Add(-m.rules.HeartbeatTTL).Truncate(time.Microsecond).Add(time.Microsecond)
	rows, err := m.db.FleetMachines(ctx, storage.FleetFilter{
		TeamID: teamID, Suspects: &storage.Suspects{Basis: basis, OfflineBefore: before},
	})
	if err != nil {
		return NotHealthy{}, err
	}
	versions := make(map[string]int64, len(stale))
	for _, s := range stale {
		versions[s.MachineID] = s.Version
	}
	out := NotHealthy{Total: total, Machines: []MachineHealth{}, Catalogue: cat, CheckedAt: now}
	var judged []storage.Condition
	for _, r := range rows {
		mh := m.healthOf(r, now, cat)
		if v, ok := versions[r.ID]; ok {
			judged = append(judged, storage.Condition{MachineID: r.ID, Notable: m.notable(mh, cat), Basis: basis, Version: v})
		}
		if !mh.Health.Healthy() {
			out.Machines = append(out.Machines, mh)
		}
	}
	if err := m.db.SetConditions(ctx, judged); err != nil {
		return NotHealthy{}, err
	}
	return out, nil
}

// MachineState is a machine of a fleet listing with its health state.
type MachineState struct {
	storage.MachineSummary
	State string
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
	states := make(map[string]string, len(nh.Machines))
	for _, mh := range nh.Machines {
		states[mh.ID] = mh.Health.State
	}
	out := make([]MachineState, len(list))
	for i, s := range list {
		st, ok := states[s.ID]
		if !ok {
			st = StateHealthy
		}
		out[i] = MachineState{MachineSummary: s, State: st}
	}
	return out, nil
}
