package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	golfapi "github.com/proofgrid/proofgrid/coordinator/golf"
	"github.com/proofgrid/proofgrid/golf/contest"
	"github.com/proofgrid/proofgrid/storage"
)

// golfFlags binds the zkGolf settings. Zero values leave the defaults.
func golfFlags(fs *flag.FlagSet, cfg *golfapi.Config) {
	fs.Int64Var(&cfg.Limits.MaxFileBytes, "golf-max-file-bytes", int64(atoi(env("0", "PROOFGRID_GOLF_MAX_FILE_BYTES"))),
		"largest artifact of a zkGolf submission; default 256 KiB (PROOFGRID_GOLF_MAX_FILE_BYTES)")
	fs.Int64Var(&cfg.Limits.MaxSubmissionBytes, "golf-max-submission-bytes", int64(atoi(env("0", "PROOFGRID_GOLF_MAX_SUBMISSION_BYTES"))),
		"artifacts of one submission together; default 1 MiB (PROOFGRID_GOLF_MAX_SUBMISSION_BYTES)")
	fs.IntVar(&cfg.MaxQueued, "golf-max-queued", atoi(env("0", "PROOFGRID_GOLF_MAX_QUEUED")),
		"submissions pending or verifying in all before new ones get 429; default 100 (PROOFGRID_GOLF_MAX_QUEUED)")
	fs.IntVar(&cfg.MaxActivePerUser, "golf-max-active-per-user", atoi(env("0", "PROOFGRID_GOLF_MAX_ACTIVE_PER_USER")),
		"one user's submissions pending or verifying before 429; default 3 (PROOFGRID_GOLF_MAX_ACTIVE_PER_USER)")
	fs.Int64Var(&cfg.MaxLogBytes, "golf-max-log-bytes", int64(atoi(env("0", "PROOFGRID_GOLF_MAX_LOG_BYTES"))),
		"verification log kept per submission; default 1 MiB (PROOFGRID_GOLF_MAX_LOG_BYTES)")
	fs.StringVar(&cfg.ChallengesDir, "golf-challenges", env("", "PROOFGRID_GOLF_CHALLENGES"),
		"zk-golf-challenges checkout imported at start (PROOFGRID_GOLF_CHALLENGES)")
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
	fs := flag.NewFlagSet("challenges import", flag.ContinueOnError)
	dbURL := fs.String("database-url", env("sqlite://./data/proofgrid.db", "PROOFGRID_DATABASE_URL"), "database (PROOFGRID_DATABASE_URL)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New(use)
	}
	svc, done, err := golfService(ctx, *dbURL)
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
	fs := flag.NewFlagSet("golf token create", flag.ContinueOnError)
	dbURL := fs.String("database-url", env("sqlite://./data/proofgrid.db", "PROOFGRID_DATABASE_URL"), "database (PROOFGRID_DATABASE_URL)")
	user := fs.String("user", "", "zkGolf user name (created when new)")
	label := fs.String("label", "", "free text shown in listings")
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	if *user == "" {
		return errors.New(use)
	}
	svc, done, err := golfService(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer done()
	plain, tok, err := svc.CreateToken(ctx, *user, *label)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "created zkGolf token %d for user %q; it is shown once, store it now:\n", tok.ID, tok.UserName)
	fmt.Println(plain)
	return nil
}
