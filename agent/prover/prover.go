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
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent"
	"github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/queue"
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
	return &Handler{cfg: cfg, rep: rep, log: cfg.Logger.With("component", "prover")}
}

// clusterInfo is what the agent learns about its cluster from
// GET /api/v0/clusters.
type clusterInfo struct {
	Index          int64  `json:"id"`
	UUID           string `json:"uuid"`
	IsActive       bool   `json:"is_active"`
	ClusterVersion *struct {
		ID     int64   `json:"id"`
		VKPath *string `json:"vk_path"`
	} `json:"cluster_version"`
}

// ProcessTask proves one block for the agent's cluster.
func (h *Handler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := queue.Decode[queue.ProveBlockPayload](t)
	if err != nil {
		return err
	}
	log := h.log.With("block_number", p.BlockNumber, "cluster_id", p.ClusterID, "cluster_version_id", p.ClusterVersionID)
	if p.ClusterID != h.cfg.ClusterID {
		return fmt.Errorf("prover: task for cluster %s reached an agent of cluster %s: %w", p.ClusterID, h.cfg.ClusterID, asynq.SkipRetry)
	}
	cluster, err := h.cluster(ctx)
	if err != nil {
		return classify(err)
	}
	if proved, err := h.alreadyProved(ctx, p); err != nil {
		return classify(err)
	} else if proved {
		log.Info("block already proved for this cluster; nothing to do")
		return nil
	}
	job := Job{BlockNumber: p.BlockNumber, RPCURL: h.cfg.RPCURL}
	if cluster.ClusterVersion != nil && cluster.ClusterVersion.VKPath != nil {
		job.VKPath = *cluster.ClusterVersion.VKPath
	}
	if job.BlockHash, err = h.blockHash(ctx, p); err != nil {
		return classify(err)
	}
	report := map[string]any{"block_number": p.BlockNumber, "cluster_id": cluster.Index}
	for _, status := range []string{"queued", "proving"} {
		if err := h.post(ctx, "/api/v0/proofs/"+status, report); proofgrid.ErrorCode(err) == proofgrid.ECONFLICT {
			log.Info("block proved meanwhile by another agent")
			return nil
		} else if err != nil {
			return classify(err)
		}
	}

	start := time.Now()
	res, err := h.cfg.Backend.Prove(ctx, job)
	if errors.Is(err, ErrUnknownHash) {
		// Not a failure of the prover: the block is retried once its hash
		// is known.
		return err
	} else if err != nil {
		h.reportFailure(ctx, cluster.Index, p, start, err)
		return fmt.Errorf("prover: block %d: %w", p.BlockNumber, err)
	}
	ms := float64(res.ProvingTime) / float64(time.Millisecond)
	proved := map[string]any{
		"block_number": p.BlockNumber,
		"cluster_id":   cluster.Index,
		// Ethproofs wants a positive time; sub-microsecond demo proofs
		// still took some.
		"proving_time": max(ms, 0.001),
		"proof":        base64.StdEncoding.EncodeToString(res.Proof),
	}
	if res.Cycles > 0 {
		proved["proving_cycles"] = res.Cycles
	}
	if h.cfg.VerifierID != "" {
		proved["verifier_id"] = h.cfg.VerifierID
	}
	if err := h.post(ctx, "/api/v0/proofs/proved", proved); proofgrid.ErrorCode(err) == proofgrid.ECONFLICT {
		log.Info("block proved first by another agent; this proof is dropped")
		return nil
	} else if err != nil {
		return classify(err)
	}
	log.Info("block proved", "proving_time_ms", ms, "size_bytes", len(res.Proof))
	return nil
}

// cluster finds the agent's cluster among its team's.
func (h *Handler) cluster(ctx context.Context) (clusterInfo, error) {
	var list []clusterInfo
	if err := h.rep.DoSigned(ctx, http.MethodGet, "/api/v0/clusters", nil, &list); err != nil {
		return clusterInfo{}, err
	}
	for _, c := range list {
		if c.UUID == h.cfg.ClusterID {
			return c, nil
		}
	}
	return clusterInfo{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "cluster %s is not one of this agent's team's clusters", h.cfg.ClusterID)
}

// alreadyProved reports whether the block has a proved proof for the
// payload's cluster version or a newer one, where a report now would land.
func (h *Handler) alreadyProved(ctx context.Context, p queue.ProveBlockPayload) (bool, error) {
	var resp struct {
		Proofs []struct {
			ProofStatus    string `json:"proof_status"`
			ClusterVersion struct {
				ID int64 `json:"id"`
			} `json:"cluster_version"`
		} `json:"proofs"`
	}
	q := url.Values{"block": {strconv.FormatUint(p.BlockNumber, 10)}, "clusters": {h.cfg.ClusterID}}
	if err := h.rep.DoSigned(ctx, http.MethodGet, "/api/v0/proofs?"+q.Encode(), nil, &resp); err != nil {
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
		var b struct {
			Hash string `json:"hash"`
		}
		if err := h.rep.DoSigned(ctx, http.MethodGet, "/api/v0/blocks/"+strconv.FormatUint(p.BlockNumber, 10), nil, &b); err != nil {
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
		return out, fmt.Errorf("prover: block %d has a malformed hash %q: %w", p.BlockNumber, s, asynq.SkipRetry)
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
		var out struct {
			ProofID int64 `json:"proof_id"`
		}
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

// reportFailure records a failed or cancelled job with the coordinator,
// on a context of its own: when the agent is stopping, ctx is already
// cancelled, and the report is still worth a try.
func (h *Handler) reportFailure(ctx context.Context, index int64, p queue.ProveBlockPayload, start time.Time, cause error) {
	status := "Failed"
	if ctx.Err() != nil {
		status = "Cancelled"
	}
	attempt, _ := asynq.GetRetryCount(ctx)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	body := map[string]any{
		"block_number": p.BlockNumber, "cluster_id": index, "status": status, "attempt": attempt,
		"started_at": start.UTC().Format(time.RFC3339Nano), "ended_at": time.Now().UTC().Format(time.RFC3339Nano), "error": msg,
	}
	if err := h.rep.DoSigned(rctx, http.MethodPost, "/api/v0/worker-events", body, nil); err != nil {
		h.log.Warn("could not report the failed job", "block_number", p.BlockNumber, "error", err)
	}
}

// classify stops asynq from retrying what cannot pass (a cluster that is
// not the agent's, a report the coordinator refuses as malformed) and lets
// it retry the rest: the coordinator unreachable, overloaded or rate
// limiting, or refusing a signature while the agent re-enrols.
func classify(err error) error {
	var pe *proofgrid.Error
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case proofgrid.EINVALID, proofgrid.ENOTFOUND, proofgrid.EFORBIDDEN, proofgrid.ETOOLARGE, proofgrid.EUNSUPPORTED, proofgrid.EUNPROCESSABLE:
		return fmt.Errorf("prover: %w: %w", err, asynq.SkipRetry)
	}
	return err
}
