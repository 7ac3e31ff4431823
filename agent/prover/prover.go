// Package prover is the prove:block job of prover agents. An agent started
// with role prover and a cluster consumes its cluster's queue; for each
// block it reports queued, then proving, to the coordinator's Ethproofs
// API, runs a proving backend (the built-in demo chain or a real zkVM
// prover command) and reports the proof as proved.
//
// Reports are requests signed with the agent's key, which the coordinator
// accepts as its team's write key for the agent's own cluster, so an agent
// needs no Ethproofs API key. The job is idempotent: a block whose proof is
// already proved for the cluster is not proved again, and a report refused
// with 409 (another agent proved it first) counts as success. The
// coordinator's upsert key (block, cluster version) guarantees one proof
// per block and cluster version whatever the agents do.
package prover

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent"
	"github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/zkvm"
)

// Reporter sends requests signed as the agent; *agent.Agent is one.
type Reporter interface {
	DoSigned(ctx context.Context, method, path string, in, out any) error
}

// Config configures the job.
type Config struct {
	// ClusterID is the UUID of the agent's cluster (its --cluster).
	ClusterID string
	// Backend proves the blocks. Required.
	Backend Backend
	// RPCURL is handed to the backend for fetching blocks and witnesses.
	RPCURL string
	// VerifierID, when set, is reported with each proof (Ethproofs'
	// verifier_id: the vkey or image id of the program).
	VerifierID string
	// ReportAttempts is how often a failed report is tried within one
	// delivery before the job fails and waits for asynq's retry (default
	// 6, which waits out about half a minute of rate limiting);
	// ReportBackoff is the first pause between them (default 1 s,
	// doubling).
	ReportAttempts int
	ReportBackoff  time.Duration
	Logger         *slog.Logger
}

// Register returns the agent.RegisterFunc that serves prove:block with
// cfg.
func Register(cfg Config) agent.RegisterFunc {
	return func(mux *asynq.ServeMux, a *agent.Agent) {
		mux.Handle(queue.TypeProveBlock, NewHandler(cfg, a))
	}
}

// Handler is the prove:block handler.
type Handler struct {
	cfg Config
	rep Reporter
	log *slog.Logger
	// index is the cluster's index within its team (Ethproofs' cluster
	// id) from the last lookup that found it, -1 before the first: a
	// failure report names the cluster by it, so a later lookup that
	// fails can still be reported.
	index atomic.Int64
}

// NewHandler returns a handler that reports through rep.
func NewHandler(cfg Config, rep Reporter) *Handler {
	if cfg.ReportAttempts <= 0 {
		cfg.ReportAttempts = 6
	}
	if cfg.ReportBackoff <= 0 {
		cfg.ReportBackoff = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, rep: rep, log: cfg.Logger.With("component", "prover")}
	h.index.Store(-1)
	return h
}

// ProcessTask proves one block for the agent's cluster. Every delivery
// that ends in an error the coordinator can receive, before the backend
// runs as well as during, is reported as a failed (or cancelled) job, once
// per delivery: a lookup that fails, a block hash that is malformed or not
// known yet, a report refused, a backend that fails. A task for another
// cluster is not reported, since it is not this cluster's job.
func (h *Handler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := queue.Decode[queue.ProveBlockPayload](t)
	if err != nil {
		return err
	}
	if p.ClusterID != h.cfg.ClusterID {
		return classify(proofgrid.Errorf(proofgrid.EINVALID, "task for cluster %s reached an agent of cluster %s", p.ClusterID, h.cfg.ClusterID))
	}
	start := time.Now()
	if err := h.prove(ctx, p); err != nil {
		h.reportFailure(ctx, p, start, err)
		return classify(fmt.Errorf("block %d: %w", p.BlockNumber, err))
	}
	return nil
}

// prove runs one delivery of the job.
func (h *Handler) prove(ctx context.Context, p queue.ProveBlockPayload) error {
	log := h.log.With("block_number", p.BlockNumber, "cluster_id", p.ClusterID, "cluster_version_id", p.ClusterVersionID)
	cluster, err := h.cluster(ctx)
	if err != nil {
		return err
	}
	h.index.Store(cluster.ID)
	if proved, err := h.alreadyProved(ctx, p); err != nil {
		return err
	} else if proved {
		log.Info("block already proved for this cluster; nothing to do")
		return nil
	}
	index := cluster.ID
	job := Job{BlockNumber: p.BlockNumber, RPCURL: h.cfg.RPCURL}
	if cluster.ClusterVersion != nil && cluster.ClusterVersion.VKPath != nil {
		job.VKPath = *cluster.ClusterVersion.VKPath
	}
	if job.BlockHash, err = h.blockHash(ctx, p); err != nil {
		return err
	}
	report := client.ProofReport{BlockNumber: p.BlockNumber, ClusterID: index}
	for _, path := range []string{client.PathProofsQueued, client.PathProofsProving} {
		if err := h.post(ctx, path, report); proofgrid.ErrorCode(err) == proofgrid.ECONFLICT {
			log.Info("block proved meanwhile by another agent")
			return nil
		} else if err != nil {
			return err
		}
	}

	res, err := h.cfg.Backend.Prove(ctx, job)
	if errors.Is(err, ErrUnknownHash) {
		// Not a fault of the prover, but a delivery that did not prove:
		// it is reported like any other, and the block is retried once
		// its hash is known.
		return err
	} else if err != nil {
		if ee, ok := errors.AsType[*zkvm.ExitError](err); ok {
			// The prover's own words stay on this machine: the error that
			// leaves it says only how the prover ended.
			log.Warn("prover failed", "error", err, "output", ee.Output)
		}
		return err
	}
	ms := float64(res.ProvingTime) / float64(time.Millisecond)
	proved := client.ProvedReport{
		BlockNumber: p.BlockNumber,
		ClusterID:   index,
		// Ethproofs wants a positive time; sub-microsecond demo proofs
		// still took some.
		ProvingTime:   max(ms, 0.001),
		ProvingCycles: res.Cycles,
		Proof:         res.Proof,
		VerifierID:    h.cfg.VerifierID,
	}
	if err := h.post(ctx, client.PathProofsProved, proved); proofgrid.ErrorCode(err) == proofgrid.ECONFLICT {
		log.Info("block proved first by another agent; this proof is dropped")
		return nil
	} else if err != nil {
		return err
	}
	log.Info("block proved", "proving_time_ms", ms, "size_bytes", len(res.Proof))
	return nil
}

// cluster finds the agent's cluster among its team's.
func (h *Handler) cluster(ctx context.Context) (client.Cluster, error) {
	var list []client.Cluster
	if err := h.rep.DoSigned(ctx, http.MethodGet, client.PathClusters, nil, &list); err != nil {
		return client.Cluster{}, err
	}
	for _, c := range list {
		if c.UUID == h.cfg.ClusterID {
			return c, nil
		}
	}
	return client.Cluster{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "cluster %s is not one of this agent's team's clusters", h.cfg.ClusterID)
}

// alreadyProved reports whether the block has a proved proof for the
// payload's cluster version or a newer one, where a report now would land.
func (h *Handler) alreadyProved(ctx context.Context, p queue.ProveBlockPayload) (bool, error) {
	var resp client.ProofList
	q := url.Values{"block": {strconv.FormatUint(p.BlockNumber, 10)}, "clusters": {h.cfg.ClusterID}}
	if err := h.rep.DoSigned(ctx, http.MethodGet, client.PathProofs+"?"+q.Encode(), nil, &resp); err != nil {
		return false, err
	}
	for _, pr := range resp.Proofs {
		if pr.ProofStatus == "proved" && pr.ClusterVersion.ID >= p.ClusterVersionID {
			return true, nil
		}
	}
	return false, nil
}

// blockHash returns the payload's hash or, when the block was scheduled
// before its hash was known, the coordinator's.
func (h *Handler) blockHash(ctx context.Context, p queue.ProveBlockPayload) ([32]byte, error) {
	s := p.BlockHash
	if s == "" {
		var b client.Block
		if err := h.rep.DoSigned(ctx, http.MethodGet, client.PathBlocks+strconv.FormatUint(p.BlockNumber, 10), nil, &b); err != nil {
			return [32]byte{}, err
		}
		s = b.Hash
	}
	var out [32]byte
	if s == "" {
		return out, nil
	}
	raw, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(raw) != 32 {
		return out, proofgrid.Errorf(proofgrid.EINVALID, "block %d has a malformed hash %q", p.BlockNumber, s)
	}
	copy(out[:], raw)
	return out, nil
}

// post sends one report, trying again on temporary failures (the
// coordinator restarting, a rate limit) so that a finished proof is not
// thrown away for a blip.
func (h *Handler) post(ctx context.Context, path string, body any) error {
	wait := h.cfg.ReportBackoff
	var err error
	for attempt := 1; ; attempt++ {
		var out client.ReportResponse
		err = h.rep.DoSigned(ctx, http.MethodPost, path, body, &out)
		if err == nil || !client.Temporary(err) || attempt >= h.cfg.ReportAttempts {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// reportFailure records a failed or cancelled delivery with the
// coordinator, on a context of its own: when the agent is stopping, ctx is
// already cancelled, and the report is still worth a try. The coordinator
// publishes the report as a worker event, keyed by job, machine and
// attempt, so a resent report is not a second event. Its error says how
// the job ended and nothing an exec prover printed (see zkvm.ExitError).
//
// A coordinator that could not be reached cannot receive the report
// either, so none is sent: the failure is in the agent's log and asynq's
// retry. Nor can a cluster that no lookup has found yet be named.
func (h *Handler) reportFailure(ctx context.Context, p queue.ProveBlockPayload, start time.Time, cause error) {
	status := client.JobFailed
	if ctx.Err() != nil {
		status = client.JobCancelled
	} else if errors.Is(cause, client.ErrUnreachable) {
		return
	}
	index := h.index.Load()
	if index < 0 {
		h.log.Warn("could not report the failed job: its cluster was never found", "block_number", p.BlockNumber, "error", cause)
		return
	}
	attempt, _ := asynq.GetRetryCount(ctx)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	msg := cause.Error()
	if len(msg) > maxReportedError {
		msg = msg[:maxReportedError]
	}
	body := client.FailureReport{
		BlockNumber: p.BlockNumber, ClusterID: index, Status: status, Attempt: attempt,
		StartedAt: start.UTC(), EndedAt: time.Now().UTC(), Error: msg,
	}
	var out client.FailureResponse
	if err := h.rep.DoSigned(rctx, http.MethodPost, client.PathWorkerEvents, body, &out); err != nil {
		h.log.Warn("could not report the failed job", "block_number", p.BlockNumber, "error", err)
	}
}

// maxReportedError caps the error text of a failure report.
const maxReportedError = 1000

// classify applies the retry rule of every task (queue.Classify): what
// cannot pass (a cluster that is not the agent's, a malformed block hash, a
// report the coordinator refuses as malformed) is not retried; the rest is
// (the coordinator unreachable, overloaded or rate limiting, or refusing a
// signature while the agent re-enrols).
func classify(err error) error {
	if err == nil {
		return nil
	}
	return queue.Classify(fmt.Errorf("prover: %w", err))
}
