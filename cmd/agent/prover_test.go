package main

import (
	"bytes"
	"log/slog"
	"reflect"
	"testing"
)

func TestProverFlags(t *testing.T) {
	rc, err := parseRun([]string{"--role", "prover", "--cluster", "c1", "--prover-backend", "exec",
		"--prover-command", `["sp1-prove", "--out", "{output}", "--block", "{block_number}"]`, "--rpc-url", "http://node:8545"},
		env(map[string]string{"PROOFGRID_AGENT_DEMO_STEPS": "7", "PROOFGRID_AGENT_PROVER_PASS_ENV": "SP1_*,RUST_MIN_STACK"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if rc.prover.backend != "exec" || rc.prover.rpcURL != "http://node:8545" || rc.prover.demoSteps != 7 || rc.prover.passEnv != "SP1_*,RUST_MIN_STACK" {
		t.Fatalf("prover flags = %+v", rc.prover)
	}
	h, err := rc.prover.handlers(rc.agent, slog.Default())
	if err != nil || h == nil {
		t.Fatalf("handlers = %v, %v", h != nil, err)
	}
	if got := splitList(" SP1_*, ,RUST_MIN_STACK "); !reflect.DeepEqual(got, []string{"SP1_*", "RUST_MIN_STACK"}) {
		t.Fatalf("splitList = %q", got)
	}
	argv, _ := splitCommand(rc.prover.command)
	if !reflect.DeepEqual(argv, []string{"sp1-prove", "--out", "{output}", "--block", "{block_number}"}) {
		t.Fatalf("command = %q", argv)
	}

	for _, bad := range []proverFlags{
		{backend: "gpu"},
		{backend: "exec"},
		{backend: "exec", command: "prove {nope}"},
		{backend: "exec", command: "[not json"},
		{backend: "exec", command: "prove", passEnv: "SP1_*, PROOFGRID_AGENT_TOKEN"},
	} {
		if _, err := bad.handlers(rc.agent, slog.Default()); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	// The demo backend is the default; other roles get no prover job.
	if h, err := (&proverFlags{}).handlers(rc.agent, slog.Default()); err != nil || h == nil {
		t.Fatalf("default backend: %v", err)
	}
	rc.agent.Role = "avs"
	if h, err := (&proverFlags{}).handlers(rc.agent, slog.Default()); err != nil || h != nil {
		t.Fatalf("avs agent got prover handlers: %v", err)
	}
}
