package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/internal/envflag"
	"github.com/proofgrid/proofgrid/storage"
)

// healthFlags binds the fleet health settings of serve to rules and their
// environment variables.
func healthFlags(s *envflag.Set, rules *fleet.Rules) {
	s.Duration(&rules.HeartbeatTTL, "heartbeat-ttl", 0,
		"silence after which a machine counts as offline; default 3 heartbeat intervals", "PROOFGRID_HEARTBEAT_TTL")
	s.Duration(&rules.IdleWindow, "idle-window", 0,
		"time without an AVS or a job after which a machine counts as idle; default 10m", "PROOFGRID_IDLE_WINDOW")
	s.String(&rules.AgentLatestVersion, "agent-latest-version", "",
		"an agent release older agents are behind; the latest is the highest of it, the AVS catalogue's and this coordinator's release", "PROOFGRID_AGENT_LATEST_VERSION")
}

// avsCommand runs "coordinator avs import [--database-url URL] FILE": it
// validates an AVS catalogue file and stores it, replacing the entries it
// names whatever their date. AVSs the file does not list are kept.
func avsCommand(ctx context.Context, args []string) error {
	const avsUsage = "usage: coordinator avs import [--database-url URL] FILE"
	if len(args) == 0 || args[0] != "import" {
		return errors.New(avsUsage)
	}
	s := envflag.New("avs import")
	var dbURL string
	s.String(&dbURL, "database-url", coordinator.DefaultDatabaseURL, "database", "PROOFGRID_DATABASE_URL")
	if err := s.Parse(args[1:], os.Getenv); err != nil {
		return err
	}
	if s.NArg() != 1 {
		return errors.New(avsUsage)
	}
	path := s.Arg(0)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	cat, err := fleet.ParseCatalogue(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", path, describe(err))
	}
	db, err := storage.Open(ctx, dbURL)
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
