package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid/coordinator/ethproofs"
	"github.com/proofgrid/proofgrid/zkvm"
)

// ethproofsFlags binds the Ethproofs settings to cfg, with environment
// defaults.
func ethproofsFlags(fs *flag.FlagSet, cfg *ethproofs.Config) {
	fs.IntVar(&cfg.RateLimit, "ethproofs-rate-limit", atoi(env("60", "PROOFGRID_ETHPROOFS_RATE_LIMIT")),
		"requests per key per window on Ethproofs proof routes; negative turns limiting off (PROOFGRID_ETHPROOFS_RATE_LIMIT)")
	fs.DurationVar(&cfg.RateWindow, "ethproofs-rate-window", envDuration("PROOFGRID_ETHPROOFS_RATE_WINDOW", time.Minute),
		"sliding window of the rate limit (PROOFGRID_ETHPROOFS_RATE_WINDOW)")
	fs.Int64Var(&cfg.MaxProofBytes, "ethproofs-max-proof-bytes", int64(atoi(env("0", "PROOFGRID_ETHPROOFS_MAX_PROOF_BYTES"))),
		"largest decoded proof accepted, larger ones get 413; default 32 MiB (PROOFGRID_ETHPROOFS_MAX_PROOF_BYTES)")
	fs.Int64Var(&cfg.MaxBenchmarkBytes, "ethproofs-max-benchmark-bytes", int64(atoi(env("0", "PROOFGRID_ETHPROOFS_MAX_BENCHMARK_BYTES"))),
		"largest CSP benchmarks file accepted; default 10 MiB (PROOFGRID_ETHPROOFS_MAX_BENCHMARK_BYTES)")
	fs.StringVar(&cfg.RPCURL, "eth-rpc-url", env("", "PROOFGRID_ETH_RPC_URL"),
		"Ethereum JSON-RPC endpoint to take new blocks from; empty: blocks come only through POST /api/v0/blocks (PROOFGRID_ETH_RPC_URL)")
	fs.DurationVar(&cfg.PollInterval, "eth-poll-interval", envDuration("PROOFGRID_ETH_POLL_INTERVAL", 12*time.Second),
		"time between polls of --eth-rpc-url (PROOFGRID_ETH_POLL_INTERVAL)")
	fs.Int64Var(&cfg.StartBlock, "eth-start-block", int64(atoi(env("0", "PROOFGRID_ETH_START_BLOCK"))),
		"first block to record when none is recorded yet; 0 starts at the head (PROOFGRID_ETH_START_BLOCK)")
	fs.Int64Var(&cfg.Confirmations, "eth-confirmations", int64(atoi(env("0", "PROOFGRID_ETH_CONFIRMATIONS"))),
		"blocks to stay behind the head (PROOFGRID_ETH_CONFIRMATIONS)")
	fs.StringVar(&cfg.CatalogueFile, "zkvm-catalogue", env("", "PROOFGRID_ZKVM_CATALOGUE"),
		"extra zkVM catalogue (JSON) imported at start (PROOFGRID_ZKVM_CATALOGUE)")
	fs.DurationVar(&cfg.VerifyTimeout, "verify-timeout", envDuration("PROOFGRID_VERIFY_TIMEOUT", zkvm.DefaultVerifyTimeout),
		"bound of one proof verification, demo or exec; past it the proof gets cannot_verify; at most 9m (PROOFGRID_VERIFY_TIMEOUT)")
	fs.Uint64Var(&cfg.VerifyMaxSteps, "verify-max-steps", uint64(max(0, atoi(env("0", "PROOFGRID_VERIFY_MAX_STEPS")))),
		"most hash-chain steps a demo proof may declare; larger ones get 422; default 16777216, keep it above agents' --demo-steps (PROOFGRID_VERIFY_MAX_STEPS)")
	if v := os.Getenv("PROOFGRID_ETHPROOFS_VERIFIERS"); v != "" {
		if err := json.Unmarshal([]byte(v), &cfg.Verifiers); err != nil {
			fmt.Fprintf(os.Stderr, "coordinator: ignoring PROOFGRID_ETHPROOFS_VERIFIERS: want a JSON object of zkVM slug to argument array: %v\n", err)
			cfg.Verifiers = nil
		}
	}
	fs.Func("verifier", `zkVM verifier as SLUG=COMMAND, repeatable; COMMAND is a JSON array or space-separated words with {proof}, {vk_path}, {block_number}, {block_hash}, e.g. "sp1=sp1-verify --proof {proof} --vk {vk_path}" (PROOFGRID_ETHPROOFS_VERIFIERS, a JSON object)`,
		func(s string) error {
			slug, command, ok := strings.Cut(s, "=")
			if !ok || slug == "" {
				return fmt.Errorf("want SLUG=COMMAND, got %q", s)
			}
			argv, err := splitArgs(command)
			if err != nil {
				return err
			}
			if cfg.Verifiers == nil {
				cfg.Verifiers = map[string][]string{}
			}
			cfg.Verifiers[slug] = argv
			return nil
		})
}

// splitArgs reads a command template: a JSON array of arguments, for
// arguments with spaces, or words separated by spaces.
func splitArgs(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(s), &argv); err != nil {
			return nil, fmt.Errorf("not a JSON array of strings: %w", err)
		}
		return argv, nil
	}
	argv := strings.Fields(s)
	if len(argv) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	return argv, nil
}
