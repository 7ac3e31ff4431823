package agent

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/client"
)

// Bounds on an interval the coordinator asks for, so that a bad answer can
// neither flood it nor silence the agent.
const (
	minServerInterval = time.Second
	maxServerInterval = time.Hour
)

// enrollUntilDone enrols, retrying with backoff while the coordinator is
// unreachable or failing, and gives up only when it refuses for good or
// ctx ends.
func (a *Agent) enrollUntilDone(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := a.enroll(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if fatal := a.enrollFatal(err); fatal != nil {
			return fatal
		}
		d := jitter(backoff(attempt, enrollRetryBase, enrollRetryMax), a.random())
		a.log.Warn("enrolment failed; retrying", "error", err, "attempt", attempt+1, "retry_in", d)
		if !sleep(ctx, d) {
			return ctx.Err()
		}
	}
}

// enrollFatal returns the error to stop with when err is a refusal that
// retrying cannot change, and nil when a later try may succeed.
func (a *Agent) enrollFatal(err error) error {
	var pe *proofgrid.Error
	if !errors.As(err, &pe) {
		return nil
	}
	switch pe.Code {
	case proofgrid.EUNAUTHORIZED, proofgrid.EFORBIDDEN:
		return fmt.Errorf("%w by the coordinator at %s (check the token): %w", ErrTokenRefused, a.cfg.CoordinatorURL, err)
	case proofgrid.EINVALID, proofgrid.EUNPROCESSABLE, proofgrid.ECONFLICT, proofgrid.ETOOLARGE, proofgrid.EUNSUPPORTED:
		return fmt.Errorf("%w by the coordinator at %s: %w", ErrEnrollRejected, a.cfg.CoordinatorURL, err)
	}
	return nil
}

// enroll makes one enrolment attempt and adopts its answer.
func (a *Agent) enroll(ctx context.Context) error {
	sample := a.sampler.Collect(ctx)
	a.mu.Lock()
	key := a.key
	a.mu.Unlock()
	req := proofgrid.EnrollRequest{
		Name:         a.cfg.Name,
		Role:         a.cfg.Role,
		ClusterID:    a.cfg.ClusterID,
		AgentVersion: a.cfg.Version,
		Host:         sample.Host,
	}
	resp, err := a.client.Enroll(ctx, a.cfg.Token, key, req)
	if err != nil {
		return err
	}
	if resp.MachineID == "" {
		return errors.New("coordinator answered the enrolment without a machine id")
	}

	a.mu.Lock()
	prev := a.machine
	st := machineState{
		MachineID:         resp.MachineID,
		Queues:            cleanQueues(resp.Queues),
		RedisURL:          resp.RedisURL,
		HeartbeatInterval: resp.HeartbeatInterval,
		CoordinatorURL:    a.cfg.CoordinatorURL,
		Role:              a.cfg.Role,
		ClusterID:         a.cfg.ClusterID,
		PublicKey:         client.PublicKeyID(key.Public().(ed25519.PublicKey)),
		EnrolledAt:        a.cfg.Now().UTC(),
	}
	a.machine = st
	a.serverInterval = serverInterval(resp.HeartbeatInterval)
	a.mu.Unlock()

	if prev.MachineID != "" && prev.MachineID != st.MachineID {
		a.log.Warn("coordinator assigned a different machine id", "old_machine_id", prev.MachineID, "machine_id", st.MachineID)
	}
	if err := saveMachine(a.cfg.StateDir, st); err != nil {
		// The key alone keeps the identity (same key, same machine id), so
		// a read-only state directory is worth a warning, not a stop.
		a.log.Warn("cannot store enrolment record", "error", err)
		a.setCondition("state", "cannot store enrolment record: "+err.Error())
	} else {
		a.setCondition("state", "")
	}
	a.log.Info("enrolled", "machine_id", st.MachineID, "queues", st.Queues, "redis_url", redactURL(st.RedisURL))
	return nil
}

// cleanQueues drops empty names, which asynq would refuse anyway, and
// never returns nil so that the status lists "queues": [].
func cleanQueues(qs []string) []string {
	out := []string{}
	for _, q := range qs {
		if q != "" {
			out = append(out, q)
		}
	}
	return out
}

// serverInterval converts the coordinator's interval in seconds, 0 meaning
// none, into a bounded duration.
func serverInterval(seconds int) time.Duration {
	if seconds <= 0 {
		return 0
	}
	d := time.Duration(seconds) * time.Second
	return min(max(d, minServerInterval), maxServerInterval)
}

// interval is the time between heartbeats while all is well.
func (a *Agent) interval() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.serverInterval > 0 {
		return a.serverInterval
	}
	return a.cfg.HeartbeatInterval
}

// heartbeatRetry is the delay before the next try after failures failed
// heartbeats in a row: from a second (or the interval, if shorter) up to
// the interval, and never more than heartbeatMaxGap, so that a coordinator
// that comes back hears from the agent soon.
func (a *Agent) heartbeatRetry(failures int) time.Duration {
	iv := a.interval()
	base := min(time.Second, iv)
	ceiling := min(max(iv, base), heartbeatMaxGap)
	return jitter(backoff(failures-1, base, ceiling), a.random())
}

// heartbeatLoop sends heartbeats until ctx ends. It is the only sender, so
// a heartbeat is never in flight twice.
func (a *Agent) heartbeatLoop(ctx context.Context) {
	failures := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-a.heartbeatNow:
			// A job found the coordinator unreachable: ask it now
			// rather than at the next interval.
		}
		if a.redisRefused.Swap(false) {
			a.log.Warn("Redis refuses this machine's credentials; enrolling again for new ones")
			if err := a.reenroll(ctx); err != nil {
				a.redisRefused.Store(true) // try again next time
			}
		}
		err := a.heartbeat(ctx)
		if isUnknownMachine(err) && ctx.Err() == nil {
			a.log.Warn("coordinator does not accept this machine; enrolling again", "error", err)
			if err = a.reenroll(ctx); err == nil {
				err = a.heartbeat(ctx)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			a.setCoordinatorDown(false, nil)
		} else if client.Unreachable(err) {
			a.setCoordinatorDown(true, err)
		}
		var wait time.Duration
		if err == nil {
			if failures > 0 {
				a.log.Info(fmt.Sprintf("coordinator reachable again after %d failures", failures), "failures", failures)
			}
			failures = 0
			wait = a.interval()
		} else {
			failures++
			wait = a.heartbeatRetry(failures)
			a.log.Warn("heartbeat failed", "error", err, "failures", failures, "unreachable", errors.Is(err, client.ErrUnreachable), "retry_in", wait)
		}
		select { // a parked job server does its own looking now
		case a.beats <- struct{}{}:
		default:
		}
		timer.Reset(wait)
	}
}

// isUnknownMachine reports a coordinator refusing the machine's signature,
// which a fresh enrolment cures when the machine was forgotten; with the
// same key it costs nothing otherwise.
func isUnknownMachine(err error) bool {
	var pe *proofgrid.Error
	return errors.As(err, &pe) && pe.Code == proofgrid.EUNAUTHORIZED
}

// reenroll enrols once from the heartbeat loop and hands a changed job
// source to Run, which owns the job server.
func (a *Agent) reenroll(ctx context.Context) error {
	before := a.machineState()
	if err := a.enroll(ctx); err != nil {
		if a.enrollFatal(err) != nil {
			// Jobs keep running: a revoked token is the operator's call to
			// act on, not a reason to abandon work in progress.
			a.log.Error("coordinator refused to enrol this machine again", "error", err)
			a.setCondition("enrol", "enrolment refused: "+proofgrid.ErrorMessage(err))
		}
		return err
	}
	a.setCondition("enrol", "")
	after := a.machineState()
	if !after.sameJobs(before) {
		select {
		case <-a.sources: // replace an unread older one
		default:
		}
		a.sources <- after
	}
	return nil
}

// heartbeat collects a sample and sends it with the status.
func (a *Agent) heartbeat(ctx context.Context) error {
	sample := a.sampler.Collect(ctx)
	st, sentSeq := a.status(ctx)
	a.mu.Lock()
	id, key := a.machine.MachineID, a.key
	a.mu.Unlock()
	resp, err := a.client.Heartbeat(ctx, id, key, proofgrid.Heartbeat{
		AgentVersion: a.cfg.Version,
		Sample:       sample,
		Status:       st,
	})
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// Errors that arrived while this heartbeat was in flight stay for the
	// next one.
	i := 0
	for i < len(a.recent) && a.recent[i].seq <= sentSeq {
		i++
	}
	a.recent = append(a.recent[:0], a.recent[i:]...)
	if d := serverInterval(resp.HeartbeatInterval); d > 0 {
		a.serverInterval = d
	}
	return nil
}

// status builds the heartbeat's status and returns the sequence number of
// the newest recorded error it includes.
func (a *Agent) status(ctx context.Context) (proofgrid.AgentStatus, uint64) {
	st := proofgrid.AgentStatus{Queues: a.Queues(), RunningJobs: a.RunningJobs()}
	if ns := a.lastJob.Load(); ns != 0 {
		at := time.Unix(0, ns).UTC()
		st.LastJobAt = &at
	}
	if a.cfg.StatusFunc != nil {
		a.cfg.StatusFunc(ctx, &st)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	names := make([]string, 0, len(a.conditions))
	for n := range a.conditions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		st.Errors = append(st.Errors, a.conditions[n])
	}
	var seq uint64
	for _, e := range a.recent {
		st.Errors = append(st.Errors, e.msg)
		seq = e.seq
	}
	return st, seq
}

// backoff returns the delay before retry number attempt (counting from 0):
// base doubled per attempt, capped at ceiling.
func backoff(attempt int, base, ceiling time.Duration) time.Duration {
	if ceiling < base {
		ceiling = base
	}
	d := base
	for i := 0; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// jitter spreads d over [d/2, d) by r in [0, 1), so that agents which lost
// the coordinator together do not return in lockstep, while no delay
// shrinks below half its backoff.
func jitter(d time.Duration, r float64) time.Duration {
	half := d / 2
	return half + time.Duration(r*float64(d-half))
}

func randomFloat() float64 { return rand.Float64() }

// sleep waits d or until ctx ends, reporting whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
