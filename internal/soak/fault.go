package main

import (
	"context"
	"fmt"
	"time"
)

// agentKill records an agent killed in the middle of a proof.
type agentKill struct {
	agent            string
	workerKey        string
	block            int64
	clusterVersionID int64
	cluster          string
	at               time.Time
	// midProof is whether the proof was still in proving right after the
	// kill, i.e. the agent died holding the task.
	midProof bool
}

// injectFaults runs the four faults one after the other, spread over the
// feeding time that ctx bounds: a coordinator killed at 15 %, an agent at
// 35 %, Redis at 60 %, a PostgreSQL restart at 80 %. It returns the agent
// kills it made.
func (s *system) injectFaults(ctx context.Context, begin time.Time) []agentKill {
	d := s.cfg.duration
	at := func(frac float64) bool {
		t := begin.Add(time.Duration(frac * float64(d)))
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Until(t)):
			return true
		}
	}
	pause := func(p time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(p):
			return true
		}
	}
	var kills []agentKill

	if !at(0.15) {
		return kills
	}
	s.timeline.add("FAULT SIGKILL %s", s.coords[0].name)
	s.coords[0].kill()
	if !pause(5 * time.Second) {
		return kills
	}
	if err := s.startCoordinator(ctx, 0); err != nil {
		s.timeline.add("restart of %s failed: %v", s.coords[0].name, err)
	} else {
		s.timeline.add("%s restarted and ready", s.coords[0].name)
	}

	if !at(0.35) {
		return kills
	}
	if k, ok := s.killProvingAgent(ctx, begin.Add(time.Duration(0.55*float64(d)))); ok {
		kills = append(kills, k)
		if pause(15 * time.Second) {
			for _, a := range s.agents {
				if a.name == k.agent {
					if err := a.start(); err != nil {
						s.timeline.add("restart of %s failed: %v", a.name, err)
					} else {
						s.timeline.add("%s restarted", a.name)
					}
				}
			}
		}
	}

	if !at(0.6) {
		return kills
	}
	s.timeline.add("FAULT SIGKILL redis")
	s.redis.kill()
	if !pause(3 * time.Second) {
		return kills
	}
	if err := s.startRedis(ctx, s.redisPort()); err != nil {
		s.timeline.add("restart of redis failed: %v", err)
	} else {
		s.timeline.add("redis restarted on the same AOF")
	}

	if !at(0.8) {
		return kills
	}
	s.timeline.add("FAULT pg_ctl restart -m fast")
	if err := s.pg.restart(); err != nil {
		s.timeline.add("PostgreSQL restart failed: %v", err)
	} else {
		s.timeline.add("PostgreSQL restarted")
	}
	return kills
}

// killProvingAgent waits, until deadline, for one of the soak's agents to
// report a proof in proving, and kills that agent with SIGKILL.
func (s *system) killProvingAgent(ctx context.Context, deadline time.Time) (agentKill, bool) {
	var row struct {
		Block   int64  `db:"block_number"`
		CV      int64  `db:"cluster_version_id"`
		Cluster string `db:"cluster_id"`
		Key     string `db:"worker_key"`
		Name    string `db:"name"`
	}
	for time.Now().Before(deadline) {
		// The latest proof to start proving is the likeliest to be still
		// running when the signal lands.
		err := s.db.GetContext(ctx, &row, `
SELECT p.block_number, p.cluster_version_id, p.cluster_id, p.worker_key, m.name
  FROM proofs p JOIN machines m ON m.public_key = p.worker_key
 WHERE p.status = 'proving' AND m.name LIKE 'soak-agent-%'
 ORDER BY p.proving_at DESC LIMIT 1`)
		if err == nil {
			for _, a := range s.agents {
				if a.name != row.Name || !a.running() {
					continue
				}
				a.kill()
				k := agentKill{agent: a.name, workerKey: row.Key, block: row.Block, clusterVersionID: row.CV,
					cluster: s.clusters[a.cluster].name, at: time.Now()}
				var status string
				if s.db.GetContext(ctx, &status, `SELECT status FROM proofs WHERE block_number = $1 AND cluster_version_id = $2`,
					row.Block, row.CV) == nil {
					k.midProof = status == "proving"
				}
				s.timeline.add("FAULT SIGKILL %s while proving block %d for cluster %s (still proving after the kill: %v)",
					a.name, row.Block, k.cluster, k.midProof)
				return k, true
			}
		}
		select {
		case <-ctx.Done():
			return agentKill{}, false
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.timeline.add("no agent was seen proving before %s: no agent killed", deadline.Format("15:04:05"))
	return agentKill{}, false
}

// outboxStale is the age from which an unfinished outbox row counts as
// stuck. A row is marked done only by the reconciler, which runs every
// 30 s and leaves rows alone for 30 s after enqueueing, and the scheduler
// adds a reward:checkpoint row every 30 s, so the outbox is never empty.
const outboxStale = "90 seconds"

// settle waits up to timeout for every fed block to have one proved and
// verified proof per active cluster version and for the outbox to hold no
// failed row and no unfinished row older than outboxStale. It prints
// progress every 15 s.
func (s *system) settle(ctx context.Context, fed feedResult, timeout time.Duration) bool {
	s.timeline.add("waiting up to %v for the system to settle", timeout)
	deadline := time.Now().Add(timeout)
	lastLog := time.Now()
	for {
		var st struct {
			Want     int64 `db:"want"`
			Proved   int64 `db:"proved"`
			Verified int64 `db:"verified"`
			Outbox   int64 `db:"outbox"`
		}
		err := s.db.GetContext(ctx, &st, `
SELECT (SELECT count(*) FROM cluster_versions WHERE is_active) * $1::bigint AS want,
       (SELECT count(*) FROM proofs WHERE status = 'proved' AND block_number = ANY($2)) AS proved,
       (SELECT count(*) FROM proofs WHERE verification IS NOT NULL AND block_number = ANY($2)) AS verified,
       (SELECT count(*) FROM outbox WHERE state = 'failed'
            OR (state <> 'done' AND created_at < now() - $3::interval)) AS outbox`,
			len(fed.blocks), fed.blocks, outboxStale)
		if err == nil && st.Proved >= st.Want && st.Verified >= st.Want && st.Outbox == 0 {
			return true
		}
		if time.Since(lastLog) >= 15*time.Second {
			lastLog = time.Now()
			if err != nil {
				s.timeline.add("settling: %v", err)
			} else {
				s.timeline.add("settling: %d/%d proved, %d verified, %d outbox rows failed or unfinished for over "+outboxStale, st.Proved, st.Want, st.Verified, st.Outbox)
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Second):
		}
	}
}

func (k agentKill) String() string {
	return fmt.Sprintf("%s (block %d, cluster %s)", k.agent, k.block, k.cluster)
}
