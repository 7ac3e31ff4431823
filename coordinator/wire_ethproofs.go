package coordinator

import (
	"context"
	"fmt"
	"os"

	"github.com/proofgrid/proofgrid/blocks"
	"github.com/proofgrid/proofgrid/coordinator/ethproofs"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/proofs"
	"github.com/proofgrid/proofgrid/ratelimit"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/zkvm"
)

// wireEthproofs mounts the Ethproofs surface at /api/v0, imports the zkVM
// catalogue, hands the proof service to the proof:verify handler and, when
// an RPC URL is configured, adds the block source.
func (c *Coordinator) wireEthproofs(ctx context.Context, w *wiring) error {
	cfg := c.cfg.Ethproofs
	verifiers := make(map[string]zkvm.ExecVerifier, len(cfg.Verifiers))
	for slug, command := range cfg.Verifiers {
		verifiers[slug] = zkvm.ExecVerifier{Command: command, Timeout: cfg.VerifyTimeout}
	}
	svc, err := proofs.New(proofs.Config{
		Jobs:               w.rewards,
		DB:                 c.DB,
		Blobs:              c.Blobs,
		Outbox:             c.Outbox,
		MaxProofBytes:      cfg.MaxProofBytes,
		MaxBenchmarkBytes:  cfg.MaxBenchmarkBytes,
		Verifiers:          verifiers,
		VerifyTimeout:      cfg.VerifyTimeout,
		DemoVerifyMaxSteps: cfg.VerifyMaxSteps,
		Now:                c.cfg.Now,
		Logger:             c.cfg.Logger.With("component", "ethproofs"),
	})
	if err != nil {
		return err
	}
	if err := svc.SeedCatalogue(ctx, proofs.DefaultCatalogue()); err != nil {
		return err
	}
	if cfg.CatalogueFile != "" {
		b, err := os.ReadFile(cfg.CatalogueFile)
		if err != nil {
			return fmt.Errorf("zkVM catalogue: %w", err)
		}
		cat, err := proofs.ParseCatalogue(b)
		if err != nil {
			return fmt.Errorf("zkVM catalogue %s: %w", cfg.CatalogueFile, err)
		}
		if err := svc.ImportCatalogue(ctx, cat); err != nil {
			return fmt.Errorf("zkVM catalogue %s: %w", cfg.CatalogueFile, err)
		}
	}

	var limiter *ratelimit.Limiter
	if cfg.RateLimit > 0 {
		limiter = ratelimit.New(c.Redis, ratelimit.Config{Limit: cfg.RateLimit, Window: cfg.RateWindow, Now: c.cfg.Now})
	}
	(&ethproofs.API{Proofs: svc, Auth: c.Auth, Agents: c.verifier, Limiter: limiter, Logger: c.cfg.Logger}).Mount(w.app)
	w.styles.Add(ethproofs.Prefix, web.StyleEthproofs)

	w.tasks.proofs = svc

	if cfg.RPCURL != "" {
		src, err := blocks.New(blocks.Config{
			RPCURL:        cfg.RPCURL,
			PollInterval:  cfg.PollInterval,
			StartBlock:    cfg.StartBlock,
			Confirmations: cfg.Confirmations,
			Logger:        c.cfg.Logger.With("component", "block_source"),
		}, blockRecorder{svc})
		if err != nil {
			return err
		}
		w.background = append(w.background, src.Run)
	}
	return nil
}

// blockRecorder feeds the block source's blocks to the pipeline.
type blockRecorder struct{ svc *proofs.Service }

func (r blockRecorder) RecordBlock(ctx context.Context, b blocks.Block) error {
	_, err := r.svc.RecordBlock(ctx, storage.BlockInfo{
		Number:           b.Number,
		Hash:             &b.Hash,
		Timestamp:        &b.Timestamp,
		GasUsed:          &b.GasUsed,
		TransactionCount: &b.TransactionCount,
	})
	return err
}

func (r blockRecorder) LatestBlock(ctx context.Context) (int64, bool, error) {
	return r.svc.LatestScheduledBlock(ctx)
}
