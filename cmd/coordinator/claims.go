package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid/claims"
	"github.com/proofgrid/proofgrid/coordinator"
	claimsapi "github.com/proofgrid/proofgrid/coordinator/claims"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/merkle"
	"github.com/proofgrid/proofgrid/storage"
)

// claimsFlags binds the Merkle claim settings, with the seed's names.
func claimsFlags(fs *flag.FlagSet, cfg *claimsapi.Config) {
	enabled := env("true", "MERKLE_CLAIM_ENABLED") != "false"
	fs.Func("merkle-claim-enabled", "mount the claim routes (MERKLE_CLAIM_ENABLED, default true)", func(s string) error {
		cfg.Disabled = s == "false"
		return nil
	})
	cfg.Disabled = !enabled
	fs.StringVar(&cfg.PathPrefix, "merkle-claim-path-prefix", env("/claims", "MERKLE_CLAIM_PATH_PREFIX"), "where the claim routes are mounted (MERKLE_CLAIM_PATH_PREFIX)")
	fs.BoolVar(&cfg.Simulation, "claim-simulation", env("", "PROOFGRID_CLAIM_SIMULATION") == "true",
		"register POST claim and the claim ledger routes (PROOFGRID_CLAIM_SIMULATION=true)")
	fs.DurationVar(&cfg.EpochLength, "epoch-length", envDuration("PROOFGRID_EPOCH_LENGTH", 24*time.Hour),
		"how often merkle:epoch closes an epoch (PROOFGRID_EPOCH_LENGTH)")
}

// epochCommand runs `coordinator epoch close`: close an epoch now and
// publish its tree, without Redis (the merkle:epoch task it enqueues
// through the outbox finds it published).
func epochCommand(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "close" {
		return errors.New("usage: coordinator epoch close [--database-url URL]")
	}
	fs := flag.NewFlagSet("epoch close", flag.ContinueOnError)
	dbURL := fs.String("database-url", env("sqlite://./data/proofgrid.db", "PROOFGRID_DATABASE_URL"), "database (PROOFGRID_DATABASE_URL)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	db, err := storage.Open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	ep, ok, err := claims.NewEpochs(db, claims.EpochConfig{}).Close(ctx, time.Now())
	if err != nil {
		return err
	}
	if !ok {
		fmt.Println("nothing to publish: no ledger entries since the latest epoch")
		return nil
	}
	fmt.Printf("epoch %d published: root %s, %d accounts, %s units in total (%s new)\n",
		ep.ID, merkle.Hex(ep.Root), ep.LeafCount, ep.TotalUnits, ep.NewUnits)
	return nil
}

// claimsServe runs `coordinator claims serve`: the claim routes alone, with
// no prefix, on their own port (API_PORT), read-only on the coordinator's
// database. It neither migrates nor writes, so claim simulation, which
// records claims, is not served here.
func claimsServe(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "serve" {
		return errors.New("usage: coordinator claims serve [--addr :8434] [--database-url URL]")
	}
	fs := flag.NewFlagSet("claims serve", flag.ContinueOnError)
	addr := fs.String("addr", ":"+env("8434", "API_PORT"), "listen address (API_PORT sets the port)")
	dbURL := fs.String("database-url", env("sqlite://./data/proofgrid.db", "PROOFGRID_DATABASE_URL"), "database (PROOFGRID_DATABASE_URL)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	db, err := storage.Open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	logger, err := newLogger(env("info", "PROOFGRID_LOG_LEVEL"), env("text", "PROOFGRID_LOG_FORMAT"))
	if err != nil {
		return err
	}
	styles := &web.Styles{}
	styles.Add("/", web.StyleDetail)
	app := fiber.New(fiber.Config{AppName: "proofgrid-claims", DisableStartupMessage: true, BodyLimit: 1 << 20,
		ErrorHandler: web.ErrorHandler(styles, logger)})
	(&claimsapi.API{Claims: claims.New(db, nil)}).MountClaims(app)
	claimsapi.MountDocs(app)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	logger.Info("claims server listening", "addr", ln.Addr().String(), "version", coordinator.Version)
	errc := make(chan error, 1)
	go func() { errc <- app.Listener(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(os.Stderr, "claims server stopping")
	return app.ShutdownWithTimeout(10 * time.Second)
}
