package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/proofgrid/proofgrid"
)

func noEnv(string) string { return "" }

func TestAVSFlags(t *testing.T) {
	rc, err := parseRun([]string{
		"--coordinator", "http://c", "--token", "pg_x", "--role", "avs",
		"--avs", "eigenda", "--avs-version", "0.8.6", "--operator-address", "0x0a3e3d83c99b27ca7540720b54105c79cd58dbdd",
		"--avs-registered-command", `["/bin/sh", "-c", "exit 0"]`,
	}, noEnv, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	deps, err := rc.avs.deployments()
	if err != nil || len(deps) != 1 {
		t.Fatalf("deployments = %+v, %v", deps, err)
	}
	if d := deps[0]; d.AVS != "eigenda" || d.Chain != "mainnet" || d.Version != "0.8.6" || !slices.Equal(d.RegisteredCommand, []string{"/bin/sh", "-c", "exit 0"}) {
		t.Errorf("deployment = %+v", d)
	}
	sf, err := rc.avs.statusFunc(rc.agent, slog.New(slog.DiscardHandler))
	if err != nil || sf == nil {
		t.Fatalf("statusFunc = %v, %v", sf, err)
	}
	var st proofgrid.AgentStatus
	sf(context.Background(), &st)
	if len(st.AVS) != 1 || st.AVS[0].Registered == nil || !*st.AVS[0].Registered || len(st.Errors) != 0 {
		t.Errorf("status = %+v", st)
	}
}

func TestAVSConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "avs.json")
	doc := `[{"avs": "eigenda", "chain": "holesky", "version": "0.9.0"}, {"avs": "lagrange_sc", "chain": "holesky"}]`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		return map[string]string{"PROOFGRID_AGENT_AVS_CONFIG": path}[k]
	}
	rc, err := parseRun([]string{"--coordinator", "http://c", "--token", "pg_x", "--role", "avs"}, env, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	deps, err := rc.avs.deployments()
	if err != nil || len(deps) != 2 || deps[1].AVS != "lagrange_sc" {
		t.Fatalf("deployments = %+v, %v", deps, err)
	}
}

func TestAVSFlagsRefused(t *testing.T) {
	for name, args := range map[string][]string{
		"prover with an AVS":  {"--role", "prover", "--avs", "eigenda"},
		"file and flags":      {"--role", "avs", "--avs", "eigenda", "--avs-config", "x.json"},
		"flags without --avs": {"--role", "avs", "--avs-health-url", "http://localhost/health"},
		"bad operator":        {"--role", "avs", "--avs", "eigenda", "--operator-address", "0x1"},
	} {
		rc, err := parseRun(append([]string{"--coordinator", "http://c", "--token", "pg_x"}, args...), noEnv, &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%s: parseRun: %v", name, err)
		}
		if _, err := rc.avs.statusFunc(rc.agent, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
