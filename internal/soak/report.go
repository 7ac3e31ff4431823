package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid/queue"
)

// pair is a block and a cluster version: the unit that gets exactly one
// proof.
type pair struct {
	block, version int64
}

// proofRow is one proof as the report reads it.
type proofRow struct {
	ID           int64      `db:"id"`
	Block        int64      `db:"block_number"`
	Version      int64      `db:"cluster_version_id"`
	Status       string     `db:"status"`
	Verification *string    `db:"verification"`
	WorkerName   string     `db:"worker_name"`
	BlockCreated time.Time  `db:"block_created_at"`
	ProvedAt     *time.Time `db:"proved_at"`
	VerifiedAt   *time.Time `db:"verified_at"`
}

// checkpointRow is a reward checkpoint and what was paid from it.
type checkpointRow struct {
	ID       int64  `db:"id"`
	Status   string `db:"status"`
	Pool     int64  `db:"pool"`
	Paid     int64  `db:"paid"`
	Jobs     int64  `db:"jobs"`
	Eligible int64  `db:"eligible"`
}

// recovery is how an agent kill ended: when, and by whom, the block it
// held was proved.
type recovery struct {
	kill     agentKill
	provedAt *time.Time
	by       string
}

// report is the soak's result, read from the database after settling.
type report struct {
	settled bool
	fed     []int64
	failed  int
	// blocks holds the numbers of the blocks in the database.
	blocks   map[int64]bool
	versions []int64
	proofs   []proofRow
	// events counts completed worker events by job id; failedEvents
	// counts failed or cancelled prove:block events (retries, kills).
	events       map[string]int
	failedEvents int
	checkpoints  []checkpointRow
	// outbox counts failed outbox rows and those unfinished for longer
	// than outboxStale, by "state task_type"; outboxRecent counts the
	// younger unfinished ones, which the reconciler has not reached yet.
	outbox       map[string]int
	outboxRecent int
	recoveries   []recovery
	// queues holds asynq's counters per queue, read from Redis: tasks
	// that failed (and were retried) show agents or handlers hitting a
	// fault.
	queues []queueStat
	// logs counts lines of the agents' logs that mark a fault handled.
	logs map[string]int
}

// queueStat is one asynq queue's counters.
type queueStat struct {
	name                                            string
	processed, failed, pending, active, retry, dead int
}

// logPatterns are agent log lines worth counting: each is a fault the
// agent noticed and worked around.
var logPatterns = []struct{ label, text string }{
	{"agent jobs failed (asynq retries them)", `msg="job failed"`},
	{"agent re-enrolments (Redis forgot its ACL user)", "enrolling again for new ones"},
	{"agent heartbeats failed", `msg="heartbeat failed"`},
}

// report reads the report's facts from the database.
func (s *system) report(ctx context.Context, fed feedResult, kills []agentKill) (*report, error) {
	r := &report{fed: fed.blocks, failed: fed.failures, blocks: map[int64]bool{}, events: map[string]int{}, outbox: map[string]int{}}
	var blocks []int64
	if err := s.db.SelectContext(ctx, &blocks, `SELECT block_number FROM blocks`); err != nil {
		return nil, fmt.Errorf("read blocks: %w", err)
	}
	for _, b := range blocks {
		r.blocks[b] = true
	}
	if err := s.db.SelectContext(ctx, &r.versions, `SELECT id FROM cluster_versions WHERE is_active ORDER BY id`); err != nil {
		return nil, fmt.Errorf("read cluster versions: %w", err)
	}
	err := s.db.SelectContext(ctx, &r.proofs, `
SELECT p.id, p.block_number, p.cluster_version_id, p.status, p.verification, COALESCE(m.name, p.worker_key) AS worker_name,
       b.created_at AS block_created_at, p.proved_at, p.verified_at
  FROM proofs p JOIN blocks b ON b.block_number = p.block_number
  LEFT JOIN machines m ON m.public_key = p.worker_key`)
	if err != nil {
		return nil, fmt.Errorf("read proofs: %w", err)
	}
	var events []struct {
		JobID  string `db:"job_id"`
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	err = s.db.SelectContext(ctx, &events, `
SELECT job_id, status, count(*) AS n FROM worker_events
 WHERE topic IN ($1, $2) GROUP BY job_id, status`, queue.TypeProveBlock, queue.TypeProofVerify)
	if err != nil {
		return nil, fmt.Errorf("read worker events: %w", err)
	}
	for _, e := range events {
		if e.Status == "Completed" {
			r.events[e.JobID] += e.N
		} else {
			r.failedEvents += e.N
		}
	}
	err = s.db.SelectContext(ctx, &r.checkpoints, `
SELECT c.id, c.status, c.pool,
       COALESCE((SELECT sum(d.total_rewards) FROM psy_reward_distributions d WHERE d.checkpoint_id = c.id), 0) AS paid,
       COALESCE((SELECT sum(d.job_count) FROM psy_reward_distributions d WHERE d.checkpoint_id = c.id), 0) AS jobs,
       (SELECT count(*) FROM psy_job_events j WHERE j.checkpoint_id = c.id AND j.eligible AND j.status = 'Completed') AS eligible
  FROM psy_checkpoints c ORDER BY c.id`)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	var outbox []struct {
		State string `db:"state"`
		Type  string `db:"task_type"`
		Stale bool   `db:"stale"`
		N     int    `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &outbox, `
SELECT state, task_type, created_at < now() - $1::interval AS stale, count(*) AS n
  FROM outbox WHERE state <> 'done' GROUP BY 1, 2, 3`, outboxStale); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	for _, o := range outbox {
		if o.State == "failed" || o.Stale {
			r.outbox[o.State+" "+o.Type] += o.N
		} else {
			r.outboxRecent += o.N
		}
	}
	ins := asynq.NewInspector(asynq.RedisClientOpt{Addr: fmt.Sprintf("127.0.0.1:%d", s.redisPort())})
	defer ins.Close()
	if qs, err := ins.Queues(); err == nil {
		slices.Sort(qs)
		for _, q := range qs {
			if i, err := ins.GetQueueInfo(q); err == nil {
				r.queues = append(r.queues, queueStat{name: q, processed: i.ProcessedTotal, failed: i.FailedTotal,
					pending: i.Pending, active: i.Active, retry: i.Retry, dead: i.Archived})
			}
		}
	}
	r.logs = map[string]int{}
	for _, a := range s.agents {
		b, _ := os.ReadFile(a.log)
		for _, p := range logPatterns {
			r.logs[p.label] += bytes.Count(b, []byte(p.text))
		}
	}
	for _, k := range kills {
		rec := recovery{kill: k}
		for _, p := range r.proofs {
			if p.Block == k.block && p.Version == k.clusterVersionID && p.Status == "proved" {
				rec.provedAt, rec.by = p.ProvedAt, p.WorkerName
			}
		}
		r.recoveries = append(r.recoveries, rec)
	}
	return r, nil
}

// problems lists everything lost or doubled; empty means the soak passed.
func (r *report) problems() []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	var missing []int64
	for _, b := range r.fed {
		if !r.blocks[b] {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		add("%d fed blocks missing from the database: %s", len(missing), list(missing))
	}
	byPair := map[pair][]proofRow{}
	for _, p := range r.proofs {
		byPair[pair{p.Block, p.Version}] = append(byPair[pair{p.Block, p.Version}], p)
	}
	var unproved, doubled, unverified, verifyDoubled, eventsLost, eventsDoubled []string
	for _, b := range r.fed {
		for _, v := range r.versions {
			ps := byPair[pair{b, v}]
			name := fmt.Sprintf("%d/%d", b, v)
			switch {
			case len(ps) > 1:
				doubled = append(doubled, name)
			case len(ps) == 0 || ps[0].Status != "proved":
				unproved = append(unproved, name)
				continue
			}
			p := ps[0]
			switch n := r.events[queue.ProveBlockID(uint64(b), v)]; {
			case n == 0:
				eventsLost = append(eventsLost, name)
			case n > 1:
				eventsDoubled = append(eventsDoubled, name)
			}
			if p.Verification == nil {
				unverified = append(unverified, name)
				continue
			}
			if n := r.events[queue.ProofVerifyID(p.ID)]; n != 1 {
				verifyDoubled = append(verifyDoubled, fmt.Sprintf("%s (%d verdict events)", name, n))
			}
		}
	}
	for _, c := range []struct {
		what  string
		items []string
	}{
		{"block/cluster-version pairs without a proved proof (lost)", unproved},
		{"block/cluster-version pairs with more than one proof (doubled)", doubled},
		{"proved proofs without a verdict (lost)", unverified},
		{"proofs whose verdict is not exactly one worker event", verifyDoubled},
		{"proved proofs without their completed prove:block worker event (lost)", eventsLost},
		{"proofs with more than one completed prove:block worker event (doubled)", eventsDoubled},
	} {
		if len(c.items) > 0 {
			add("%d %s: %s", len(c.items), c.what, strings.Join(first(c.items, 10), ", "))
		}
	}
	for _, c := range r.checkpoints {
		if c.Status != "processed" {
			continue
		}
		if c.Eligible > 0 && c.Paid != c.Pool {
			add("checkpoint %d paid %d of its pool %d", c.ID, c.Paid, c.Pool)
		}
		if c.Jobs != c.Eligible {
			add("checkpoint %d rewarded %d jobs, it has %d eligible completed jobs", c.ID, c.Jobs, c.Eligible)
		}
	}
	if n := r.outboxUnfinished(); n > 0 {
		add("%d outbox rows failed or unfinished for over %s", n, outboxStale)
	}
	return out
}

func (r *report) outboxUnfinished() int {
	n := 0
	for _, c := range r.outbox {
		n += c
	}
	return n
}

func (r *report) ok() bool { return len(r.problems()) == 0 }

// print writes the report: the fault timeline, the table of counts and
// the verdict.
func (r *report) print(w io.Writer, tl *timeline, cfg config) {
	fmt.Fprintf(w, "\n== proofgrid soak: %v of blocks every %v, %d demo steps a proof ==\n", cfg.duration, cfg.blockEvery, cfg.demoSteps)
	fmt.Fprintln(w, "\ntimeline")
	for _, e := range tl.events {
		fmt.Fprintf(w, "  %s  +%6.1fs  %s\n", e.at.Format("15:04:05.000"), e.at.Sub(tl.start).Seconds(), e.what)
	}

	var proved, verdicts = 0, map[string]int{}
	var toProved, toVerified []time.Duration
	counts := map[pair]int{}
	for _, p := range r.proofs {
		counts[pair{p.Block, p.Version}]++
		if p.Status != "proved" {
			continue
		}
		proved++
		v := "none yet"
		if p.Verification != nil {
			v = *p.Verification
		}
		verdicts[v]++
		if p.ProvedAt != nil {
			toProved = append(toProved, p.ProvedAt.Sub(p.BlockCreated))
		}
		if p.VerifiedAt != nil {
			toVerified = append(toVerified, p.VerifiedAt.Sub(p.BlockCreated))
		}
	}
	perPair := map[int]int{}
	for _, b := range r.fed {
		for _, v := range r.versions {
			perPair[counts[pair{b, v}]]++
		}
	}
	inDB := 0
	for _, b := range r.fed {
		if r.blocks[b] {
			inDB++
		}
	}

	fmt.Fprintln(w, "\ncounts")
	row := func(k string, v any) { fmt.Fprintf(w, "  %-52s %v\n", k, v) }
	row("settled", r.settled)
	row("blocks fed (accepted by a replica)", len(r.fed))
	row("block posts refused or failed (retried)", r.failed)
	row("fed blocks in the database", inDB)
	row("active cluster versions", len(r.versions))
	row("block/cluster-version pairs expected", len(r.fed)*len(r.versions))
	for _, n := range sortedKeys(perPair) {
		row(fmt.Sprintf("pairs with %d proof rows", n), perPair[n])
	}
	row("proofs proved", proved)
	for _, v := range sortedKeys(verdicts) {
		row("verdict "+v, verdicts[v])
	}
	row("failed/cancelled prove:block worker events", r.failedEvents)
	row("outbox rows not done, younger than "+outboxStale, r.outboxRecent)
	if len(r.outbox) == 0 {
		row("outbox rows failed or older and not done", 0)
	}
	for _, k := range sortedKeys(r.outbox) {
		row("outbox rows failed or older and not done: "+k, r.outbox[k])
	}
	row("longest block created -> proved", maxDur(toProved))
	row("median block created -> proved", median(toProved))
	row("longest block created -> verified", maxDur(toVerified))
	row("median block created -> verified", median(toVerified))
	for _, rec := range r.recoveries {
		k := rec.kill
		if rec.provedAt == nil {
			row("killed "+k.String()+" -> proved", "not proved")
			continue
		}
		row("killed "+k.String()+" -> proved", fmt.Sprintf("%v by %s (mid-proof at the kill: %v)",
			rec.provedAt.Sub(k.at).Round(100*time.Millisecond), rec.by, k.midProof))
	}

	for _, p := range logPatterns {
		row(p.label, r.logs[p.label])
	}

	fmt.Fprintln(w, "\nasynq queues (totals since start; Redis may lose the last second of counters on SIGKILL)")
	for _, q := range r.queues {
		fmt.Fprintf(w, "  %-52s processed %-5d failed %-4d pending %-3d active %-3d retry %-3d archived %d\n",
			q.name, q.processed, q.failed, q.pending, q.active, q.retry, q.dead)
	}

	fmt.Fprintln(w, "\nreward checkpoints (processed ones must pay exactly their pool when they have eligible jobs)")
	if len(r.checkpoints) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, c := range r.checkpoints {
		fmt.Fprintf(w, "  checkpoint %-12d %-9s pool %-9d paid %-9d jobs rewarded %-4d eligible completed jobs %d\n",
			c.ID, c.Status, c.Pool, c.Paid, c.Jobs, c.Eligible)
	}

	fmt.Fprintln(w)
	if ps := r.problems(); len(ps) > 0 {
		fmt.Fprintln(w, "FAIL: work lost or doubled")
		for _, p := range ps {
			fmt.Fprintln(w, "  - "+p)
		}
	} else {
		fmt.Fprintln(w, "PASS: nothing lost, nothing doubled")
	}
	if c := verdicts["cannot_verify"]; c > 0 {
		fmt.Fprintf(w, "note: %d proofs could not be verified (cannot_verify), e.g. their blob lives on the other replica's data dir\n", c)
	}
}

func list(ns []int64) string {
	s := make([]string, 0, len(ns))
	for _, n := range first(ns, 10) {
		s = append(s, fmt.Sprint(n))
	}
	if len(ns) > 10 {
		s = append(s, "...")
	}
	return strings.Join(s, ", ")
}

func first[T any](s []T, n int) []T {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func sortedKeys[K int | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func maxDur(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	return slices.Max(ds).Round(100 * time.Millisecond).String()
}

func median(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2].Round(100 * time.Millisecond).String()
}
