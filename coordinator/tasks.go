package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/activity"
	"github.com/proofgrid/proofgrid/claims"
	psyapi "github.com/proofgrid/proofgrid/coordinator/psy"
	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/pool"
	"github.com/proofgrid/proofgrid/proofs"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/rewards"
)

// tasks holds what the coordinator's task handlers call: the coordinator's
// own components, and the service each surface's wire function builds and
// sets here. Every handler is a method named after its task type and is
// idempotent, because delivery is at least once.
type tasks struct {
	c         *Coordinator
	monitor   *fleet.Monitor   // Ivynet
	proofs    *proofs.Service  // Ethproofs
	rewards   *rewards.Service // the reward pipeline
	rewardLog *slog.Logger
	activity  *activity.Service // Psy
	psyLog    *slog.Logger
	// psyRefreshEvery is the interval of maintenance:job_status_refresh.
	psyRefreshEvery time.Duration
	pool            *pool.Service // Pool
	poolLog         *slog.Logger
	epochs          *claims.Epochs // Merkle claims
}

// registerTasks fills mux with the handler of every task type the
// coordinator's worker runs. Handlers return plain errors: the Classified
// middleware applies the one retry rule (queue.Permanent) to all of them,
// those added later with Coordinator.HandleFunc included, and
// DropPassedWindows ends the maintenance runs that a later window's run
// covers instead of retrying or archiving them.
func registerTasks(mux *asynq.ServeMux, t *tasks) {
	mux.Use(queue.DropPassedWindows(t.c.cfg.Now), queue.Classified)
	for taskType, h := range map[string]asynq.HandlerFunc{
		queue.TypeOutboxReconcile:   t.reconcileOutbox,
		queue.TypeMetricsRetention:  t.retainMetrics,
		queue.TypeHeartbeatSweep:    t.sweepHeartbeats,
		queue.TypeProofVerify:       t.verifyProof,
		queue.TypeEventConversion:   t.convertEvents,
		queue.TypeJobStatusRefresh:  t.refreshJobStatus,
		queue.TypeRewardSweep:       t.sweepRewards,
		queue.TypeRewardCheckpoint:  t.computeCheckpoint,
		queue.TypeTPSBroadcast:      t.broadcastTPS,
		queue.TypeResultVerify:      t.verifyResult,
		queue.TypePoolWindowRewards: t.settlePoolWindow,
		queue.TypeMerkleEpoch:       t.closeEpoch,
	} {
		mux.Handle(taskType, h)
	}
}

// reconcileOutbox runs maintenance:outbox_reconcile.
func (t *tasks) reconcileOutbox(ctx context.Context, _ *asynq.Task) error {
	st, err := t.c.Outbox.Reconcile(ctx)
	if err != nil {
		return err
	}
	if st.Requeued > 0 || st.Failed > 0 {
		t.c.cfg.Logger.Info("outbox reconciled", "checked", st.Checked, "done", st.Done, "failed", st.Failed, "requeued", st.Requeued)
	}
	return nil
}

// retainMetrics runs maintenance:metrics_retention: machine metrics and
// finished outbox rows older than the retention go.
func (t *tasks) retainMetrics(ctx context.Context, _ *asynq.Task) error {
	keep := t.c.cfg.MetricsRetention
	n, err := t.c.Fleet.PruneMetrics(ctx, keep)
	if err != nil {
		return fmt.Errorf("prune metrics: %w", err)
	}
	if _, err := t.c.DB.DeleteFinishedOutbox(ctx, t.c.cfg.Now().Add(-keep)); err != nil {
		return fmt.Errorf("prune outbox: %w", err)
	}
	t.c.cfg.Logger.Info("metrics retention", "deleted", n, "keep", keep)
	return nil
}

// sweepHeartbeats runs maintenance:heartbeat_sweep (Ivynet).
func (t *tasks) sweepHeartbeats(ctx context.Context, _ *asynq.Task) error {
	res, err := t.monitor.Sweep(ctx, t.c.cfg.Now())
	if err != nil {
		return fmt.Errorf("heartbeat sweep: %w", err)
	}
	if res.Transitions > 0 {
		t.c.cfg.Logger.Info("heartbeat sweep", "machines", res.Machines, "transitions", res.Transitions)
	}
	return nil
}

// verifyProof runs proof:verify (Ethproofs). A proof that is gone or not
// proved is ENOTFOUND, which is not retried. Proof bytes missing from the
// blob store are EUNAVAILABLE, retried with asynq's backoff (10 retries,
// about 7 hours in all), because another replica may have stored them
// where this one does not look yet; the last attempt judges the proof
// cannot_verify (proofs.Service.VerifyFinal) so that it does not stay
// pending for ever.
func (t *tasks) verifyProof(ctx context.Context, task *asynq.Task) error {
	p, err := queue.Decode[queue.ProofVerifyPayload](task)
	if err != nil {
		return err
	}
	verify := t.proofs.Verify
	retried, ok1 := asynq.GetRetryCount(ctx)
	maxRetry, ok2 := asynq.GetMaxRetry(ctx)
	if ok1 && ok2 && retried >= maxRetry {
		verify = t.proofs.VerifyFinal
	}
	_, err = verify(ctx, p.ProofID)
	return err
}

// convertEvents runs maintenance:event_conversion (rewards).
func (t *tasks) convertEvents(ctx context.Context, _ *asynq.Task) error {
	n, err := t.rewards.Convert(ctx)
	if err != nil {
		return fmt.Errorf("event conversion: %w", err)
	}
	if n > 0 {
		t.rewardLog.Debug("worker events converted", "count", n)
	}
	return nil
}

// refreshJobStatus runs maintenance:job_status_refresh (Psy rollups).
func (t *tasks) refreshJobStatus(ctx context.Context, _ *asynq.Task) error {
	// Stop in time to commit what was done before the task's 30 s
	// timeout; the next run goes on from there.
	caught, err := t.activity.Refresh(ctx, min(t.psyRefreshEvery*2, 20*time.Second))
	if err != nil {
		return fmt.Errorf("job status refresh: %w", err)
	}
	if !caught {
		t.psyLog.Info("job status refresh is behind; it goes on next run")
	}
	return nil
}

// sweepRewards runs maintenance:reward_sweep (rewards): it closes due
// checkpoints and enqueues their reward:checkpoint tasks.
func (t *tasks) sweepRewards(ctx context.Context, _ *asynq.Task) error {
	res, err := t.rewards.Sweep(ctx)
	if err != nil {
		return fmt.Errorf("reward sweep: %w", err)
	}
	if len(res.Closed) > 0 || len(res.Pending) > 0 {
		t.rewardLog.Info("reward sweep", "converted", res.Converted, "closed", res.Closed, "pending", res.Pending)
	}
	return nil
}

// computeCheckpoint runs reward:checkpoint (rewards). A checkpoint that does
// not exist (ENOTFOUND) or is still open (ECONFLICT) is not retried: the
// sweep enqueues it again once it is closed.
func (t *tasks) computeCheckpoint(ctx context.Context, task *asynq.Task) error {
	p, err := queue.Decode[queue.RewardCheckpointPayload](task)
	if err != nil {
		return err
	}
	ds, err := t.rewards.Compute(ctx, p.CheckpointID)
	if err != nil {
		return fmt.Errorf("reward checkpoint %d: %w", p.CheckpointID, err)
	}
	t.rewardLog.Info("checkpoint rewards computed", "checkpoint_id", p.CheckpointID, "rows", len(ds))
	return nil
}

// broadcastTPS runs maintenance:tps_broadcast (Psy): the current TPS goes
// to every replica's WebSocket clients through Redis.
func (t *tasks) broadcastTPS(ctx context.Context, _ *asynq.Task) error {
	tps, err := t.activity.CurrentTPS(ctx)
	if err != nil {
		return fmt.Errorf("tps: %w", err)
	}
	msg, err := json.Marshal(psyapi.TPSMessage(tps))
	if err != nil {
		return err
	}
	if err := psyapi.Publish(ctx, t.c.Redis, msg); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("publish tps: %w", err)
	}
	return nil
}

// verifyResult runs result:verify (Pool): it decides the result from its
// evaluations. A result without consensus (ECONFLICT: not yet, or
// disputed) is not an error: the next evaluation enqueues another check.
func (t *tasks) verifyResult(ctx context.Context, task *asynq.Task) error {
	p, err := queue.Decode[queue.ResultVerifyPayload](task)
	if err != nil {
		return err
	}
	v, err := t.pool.VerifyResult(ctx, p.ResultID)
	if proofgrid.ErrorCode(err) == proofgrid.ECONFLICT {
		t.poolLog.Debug("result not verified", "result_id", p.ResultID, "status", v.Result.Status, "reason", proofgrid.ErrorMessage(err))
		return nil
	} else if err != nil {
		return fmt.Errorf("verify result %d: %w", p.ResultID, err)
	}
	t.poolLog.Info("result verified", "result_id", p.ResultID, "task_type", v.Result.TaskType, "score_micros", v.Consensus.Micros)
	return nil
}

// settlePoolWindow runs pool:window_rewards (Pool): it settles the window
// that ended one window before this run's and hands its credits to the
// ledger. It is idempotent: a settled window is settled once, and credits
// are handed over again only until the ledger took them.
func (t *tasks) settlePoolWindow(ctx context.Context, task *asynq.Task) error {
	p, err := queue.Decode[queue.WindowPayload](task)
	if err != nil {
		return err
	}
	w, err := t.pool.SettleDue(ctx, time.Unix(p.Window, 0))
	if err != nil {
		return fmt.Errorf("pool window rewards: %w", err)
	}
	t.poolLog.Info("pool window settled", "window_start", w.Start, "miners", len(w.Rewards), "distributed", w.Distributed, "credited", w.Credited)
	return nil
}

// closeEpoch runs merkle:epoch. The periodic run of a window closes the
// epoch that ends where the window starts; a run for an epoch id (from the
// outbox of a cut) publishes that epoch. Both are idempotent: the epoch's
// cut-off and id are unique, and a published epoch is not built again.
func (t *tasks) closeEpoch(ctx context.Context, task *asynq.Task) error {
	p, err := queue.Decode[struct {
		EpochID int64 `json:"epoch_id"`
		Window  int64 `json:"window"`
	}](task)
	if err != nil {
		return err
	}
	ep, ok, err := t.epochs.Run(ctx, p.EpochID, time.Unix(p.Window, 0))
	if err != nil {
		return fmt.Errorf("merkle epoch: %w", err)
	}
	if !ok {
		t.c.cfg.Logger.Debug("merkle epoch: no ledger entries since the latest epoch", "window", p.Window)
	} else {
		t.c.cfg.Logger.Info("merkle epoch", "epoch_id", ep.ID, "leaves", ep.LeafCount)
	}
	return nil
}
