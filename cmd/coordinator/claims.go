package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid/claims"
	"github.com/proofgrid/proofgrid/coordinator"
	claimsapi "github.com/proofgrid/proofgrid/coordinator/claims"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/internal/envflag"
	"github.com/proofgrid/proofgrid/merkle"
	"github.com/proofgrid/proofgrid/storage"
)

// claimsFlags binds the Merkle claim settings, with the seed's names.
func claimsFlags(s *envflag.Set, cfg *claimsapi.Config) {
	s.Func("merkle-claim-enabled", "mount the claim routes; default true (MERKLE_CLAIM_ENABLED)", func(v string) error {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		cfg.Disabled = !on
		return nil
	})
	s.Env("merkle-claim-enabled", "MERKLE_CLAIM_ENABLED")
	s.String(&cfg.PathPrefix, "merkle-claim-path-prefix", "/claims", "where the claim routes are mounted", "MERKLE_CLAIM_PATH_PREFIX")
	s.Bool(&cfg.Simulation, "claim-simulation", false, "register POST claim and the claim ledger routes", "PROOFGRID_CLAIM_SIMULATION")
	s.Duration(&cfg.EpochLength, "epoch-length", 24*time.Hour, "how often merkle:epoch closes an epoch", "PROOFGRID_EPOCH_LENGTH")
}

// epochCommand runs `coordinator epoch close`: close an epoch now and
// publish its tree, without Redis (the merkle:epoch task it enqueues
// through the outbox finds it published).
func epochCommand(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "close" {
		return errors.New("usage: coordinator epoch close [--database-url URL]")
	}
	s := envflag.New("epoch close")
	var dbURL string
	s.String(&dbURL, "database-url", coordinator.DefaultDatabaseURL, "database", "PROOFGRID_DATABASE_URL")
	if err := s.Parse(args[1:], os.Getenv); err != nil {
		return err
	}
	db, err := storage.Open(ctx, dbURL)
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
	s := envflag.New("claims serve")
	var addr, dbURL, logLevel, logFormat string
	s.String(&addr, "addr", ":8434", "listen address", "PROOFGRID_CLAIMS_ADDR")
	s.Func("api-port", "listen port, the seed's name; sets --addr to :PORT (API_PORT)", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return errors.New("want a port number 1..65535")
		}
		addr = ":" + v
		return nil
	})
	s.Env("api-port", "API_PORT")
	s.String(&dbURL, "database-url", coordinator.DefaultDatabaseURL, "database", "PROOFGRID_DATABASE_URL")
	s.String(&logLevel, "log-level", "info", "debug|info|warn|error", "PROOFGRID_LOG_LEVEL")
	s.String(&logFormat, "log-format", "text", "text|json", "PROOFGRID_LOG_FORMAT")
	if err := s.Parse(args[1:], os.Getenv); err != nil {
		return err
	}
	db, err := storage.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	logger, err := newLogger(logLevel, logFormat)
	if err != nil {
		return err
	}
	styles := &web.Styles{}
	styles.Add("/", web.StyleDetail)
	app := fiber.New(fiber.Config{AppName: "proofgrid-claims", DisableStartupMessage: true, BodyLimit: 1 << 20,
		ErrorHandler: web.ErrorHandler(styles, logger)})
	(&claimsapi.API{Claims: claims.New(db, nil)}).MountClaims(app)
	claimsapi.MountDocs(app)
	ln, err := net.Listen("tcp", addr)
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
