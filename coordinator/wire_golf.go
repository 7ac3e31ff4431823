package coordinator

import (
	"context"
	"fmt"

	golfapi "github.com/proofgrid/proofgrid/coordinator/golf"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/golf/contest"
)

// wireGolf mounts the zkGolf surface (/api/agent/v1, the downloads and the
// verifier routes) and imports the configured challenge project. zkGolf
// has no task handler on the coordinator: submission:verify runs on
// verifier agents (queue verify.golf).
func (c *Coordinator) wireGolf(ctx context.Context, w *wiring) error {
	cfg := c.cfg.Golf
	svc, err := contest.New(contest.Config{
		DB: c.DB, Outbox: c.Outbox, Limits: cfg.Limits, MaxQueued: cfg.MaxQueued, MaxActivePerUser: cfg.MaxActivePerUser,
		MaxLogBytes: cfg.MaxLogBytes, Now: c.cfg.Now, Logger: c.cfg.Logger.With("surface", "zkgolf"),
	})
	if err != nil {
		return err
	}
	if cfg.ChallengesDir != "" {
		if _, err := svc.Import(ctx, cfg.ChallengesDir); err != nil {
			return fmt.Errorf("zkgolf challenges %s: %w", cfg.ChallengesDir, err)
		}
	}
	(&golfapi.API{Contest: svc, Auth: c.Auth, Verifier: c.verifier, Logger: c.cfg.Logger}).Mount(w.app)
	for _, p := range []string{golfapi.Prefix, golfapi.DownloadPrefix, golfapi.ProjectPath, golfapi.VerifierPrefix} {
		w.styles.Add(p, web.StylePlain)
	}
	c.Golf = svc
	return nil
}
