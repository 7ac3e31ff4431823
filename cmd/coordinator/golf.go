package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/proofgrid/proofgrid/coordinator"
	golfapi "github.com/proofgrid/proofgrid/coordinator/golf"
	"github.com/proofgrid/proofgrid/golf/contest"
	"github.com/proofgrid/proofgrid/internal/envflag"
	"github.com/proofgrid/proofgrid/storage"
)

// golfFlags binds the zkGolf settings. Zero values leave the defaults.
func golfFlags(s *envflag.Set, cfg *golfapi.Config) {
	s.Int64(&cfg.Limits.MaxFileBytes, "golf-max-file-bytes", 0,
		"largest artifact of a zkGolf submission; default 256 KiB", "PROOFGRID_GOLF_MAX_FILE_BYTES")
	s.Int64(&cfg.Limits.MaxSubmissionBytes, "golf-max-submission-bytes", 0,
		"artifacts of one submission together; default 1 MiB", "PROOFGRID_GOLF_MAX_SUBMISSION_BYTES")
	s.Int(&cfg.MaxQueued, "golf-max-queued", 0,
		"submissions pending or verifying in all before new ones get 429; default 100", "PROOFGRID_GOLF_MAX_QUEUED")
	s.Int(&cfg.MaxActivePerUser, "golf-max-active-per-user", 0,
		"one user's submissions pending or verifying before 429; default 3", "PROOFGRID_GOLF_MAX_ACTIVE_PER_USER")
	s.Int64(&cfg.MaxLogBytes, "golf-max-log-bytes", 0, "verification log kept per submission; default 1 MiB", "PROOFGRID_GOLF_MAX_LOG_BYTES")
	s.String(&cfg.ChallengesDir, "golf-challenges", "", "zk-golf-challenges checkout imported at start", "PROOFGRID_GOLF_CHALLENGES")
}

// golfService opens the database for a one-off zkGolf command.
func golfService(ctx context.Context, dbURL string) (*contest.Service, func(), error) {
	db, err := storage.Open(ctx, dbURL)
	if err != nil {
		return nil, nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, nil, err
	}
	svc, err := contest.New(contest.Config{DB: db})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return svc, func() { db.Close() }, nil
}

// challengesCommand is "coordinator challenges import DIR".
func challengesCommand(ctx context.Context, args []string) error {
	const use = "usage: coordinator challenges import [--database-url URL] DIR"
	if len(args) == 0 || args[0] != "import" {
		return errors.New(use)
	}
	fs := envflag.New("challenges import")
	var dbURL string
	fs.String(&dbURL, "database-url", coordinator.DefaultDatabaseURL, "database", "PROOFGRID_DATABASE_URL")
	if err := fs.Parse(args[1:], os.Getenv); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New(use)
	}
	svc, done, err := golfService(ctx, dbURL)
	if err != nil {
		return err
	}
	defer done()
	res, err := svc.Import(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	for _, c := range res.Challenges {
		fmt.Printf("%-32s %-28s baseline %d\n", c.Slug, c.Instance, c.Baseline.Score())
	}
	fmt.Fprintf(os.Stderr, "imported %d challenges; project %s (%d bytes) is served as /challenges.tar.gz\n",
		len(res.Challenges), res.Project.SHA256[:12], res.Project.SizeBytes)
	return nil
}

// golfCommand is "coordinator golf token create --user NAME".
func golfCommand(ctx context.Context, args []string) error {
	const use = "usage: coordinator golf token create --user NAME [--label TEXT]"
	if len(args) < 2 || args[0] != "token" || args[1] != "create" {
		return errors.New(use)
	}
	fs := envflag.New("golf token create")
	var dbURL, user, label string
	fs.String(&dbURL, "database-url", coordinator.DefaultDatabaseURL, "database", "PROOFGRID_DATABASE_URL")
	fs.String(&user, "user", "", "zkGolf user name (created when new)")
	fs.String(&label, "label", "", "free text shown in listings")
	if err := fs.Parse(args[2:], os.Getenv); err != nil {
		return err
	}
	if user == "" {
		return errors.New(use)
	}
	svc, done, err := golfService(ctx, dbURL)
	if err != nil {
		return err
	}
	defer done()
	plain, tok, err := svc.CreateToken(ctx, user, label)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "created zkGolf token %d for user %q; it is shown once, store it now:\n", tok.ID, tok.UserName)
	fmt.Println(plain)
	return nil
}
