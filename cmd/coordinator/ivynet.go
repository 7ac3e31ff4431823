package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/storage"
)

// healthFlags binds the fleet health settings of serve to rules, with
// environment defaults.
func healthFlags(fs *flag.FlagSet, rules *fleet.Rules) {
	fs.DurationVar(&rules.HeartbeatTTL, "heartbeat-ttl", envDuration("PROOFGRID_HEARTBEAT_TTL", 0),
		"silence after which a machine counts as offline; default 3 heartbeat intervals (PROOFGRID_HEARTBEAT_TTL)")
	fs.DurationVar(&rules.IdleWindow, "idle-window", envDuration("PROOFGRID_IDLE_WINDOW", 0),
		"time without an AVS or a job after which a machine counts as idle; default 10m (PROOFGRID_IDLE_WINDOW)")
	fs.StringVar(&rules.AgentLatestVersion, "agent-latest-version", env("", "PROOFGRID_AGENT_LATEST_VERSION"),
		"newest agent release; older agents are updateable; default: the AVS catalogue's (PROOFGRID_AGENT_LATEST_VERSION)")
}

// avsCommand runs "coordinator avs import [--database-url URL] FILE": it
// validates an AVS catalogue file and stores it, replacing the entries it
// names whatever their date. AVSs the file does not list are kept.
func avsCommand(ctx context.Context, args []string) error {
	const avsUsage = "usage: coordinator avs import [--database-url URL] FILE"
	if len(args) == 0 || args[0] != "import" {
		return errors.New(avsUsage)
	}
	fs := flag.NewFlagSet("avs import", flag.ContinueOnError)
	dbURL := fs.String("database-url", env("sqlite://./data/proofgrid.db", "PROOFGRID_DATABASE_URL"), "database (PROOFGRID_DATABASE_URL)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New(avsUsage)
	}
	path := fs.Arg(0)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	cat, err := fleet.ParseCatalogue(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", path, describe(err))
	}
	db, err := storage.Open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	n, err := fleet.NewMonitor(db, fleet.MonitorConfig{}).LoadCatalogue(ctx, cat, "import:"+filepath.Base(path), true)
	if err != nil {
		return err
	}
	fmt.Printf("imported %d AVSs from %s (as of %s); %d rows written\n", len(cat.AVS), path, cat.AsOf.Format("2006-01-02"), n)
	return nil
}

// describe spells out every problem a validation error lists, one a line.
func describe(err error) error {
	var pe *proofgrid.Error
	if !errors.As(err, &pe) {
		return err
	}
	if len(pe.Details) > 1 {
		return fmt.Errorf("catalogue is invalid:\n  %s", strings.Join(pe.Details, "\n  "))
	}
	return errors.New(pe.Message)
}
