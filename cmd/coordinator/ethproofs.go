package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid/coordinator/ethproofs"
	"github.com/proofgrid/proofgrid/internal/envflag"
	"github.com/proofgrid/proofgrid/zkvm"
)

// ethproofsFlags binds the Ethproofs settings to cfg and their
// environment variables.
func ethproofsFlags(s *envflag.Set, cfg *ethproofs.Config) {
	s.Int(&cfg.RateLimit, "ethproofs-rate-limit", 60,
		"requests per key per window on Ethproofs proof routes; negative turns limiting off", "PROOFGRID_ETHPROOFS_RATE_LIMIT")
	s.Duration(&cfg.RateWindow, "ethproofs-rate-window", time.Minute, "sliding window of the rate limit", "PROOFGRID_ETHPROOFS_RATE_WINDOW")
	s.Int64(&cfg.MaxProofBytes, "ethproofs-max-proof-bytes", 0,
		"largest decoded proof accepted, larger ones get 413; default 32 MiB", "PROOFGRID_ETHPROOFS_MAX_PROOF_BYTES")
	s.Int64(&cfg.MaxBenchmarkBytes, "ethproofs-max-benchmark-bytes", 0,
		"largest CSP benchmarks file accepted; default 10 MiB", "PROOFGRID_ETHPROOFS_MAX_BENCHMARK_BYTES")
	s.String(&cfg.RPCURL, "eth-rpc-url", "",
		"Ethereum JSON-RPC endpoint to take new blocks from; empty: blocks come only through POST /api/v0/blocks", "PROOFGRID_ETH_RPC_URL")
	s.Duration(&cfg.PollInterval, "eth-poll-interval", 12*time.Second, "time between polls of --eth-rpc-url", "PROOFGRID_ETH_POLL_INTERVAL")
	s.Int64(&cfg.StartBlock, "eth-start-block", 0, "first block to record when none is recorded yet; 0 starts at the head", "PROOFGRID_ETH_START_BLOCK")
	s.Int64(&cfg.Confirmations, "eth-confirmations", 0, "blocks to stay behind the head", "PROOFGRID_ETH_CONFIRMATIONS")
	s.String(&cfg.CatalogueFile, "zkvm-catalogue", "", "extra zkVM catalogue (JSON) imported at start", "PROOFGRID_ZKVM_CATALOGUE")
	s.Duration(&cfg.VerifyTimeout, "verify-timeout", zkvm.DefaultVerifyTimeout,
		"bound of one proof verification, demo or exec; past it the proof gets cannot_verify; at most 9m", "PROOFGRID_VERIFY_TIMEOUT")
	s.Uint64(&cfg.VerifyMaxSteps, "verify-max-steps", 0,
		"most hash-chain steps a demo proof may declare; larger ones get 422; default 16777216, keep it above agents' --demo-steps", "PROOFGRID_VERIFY_MAX_STEPS")
	s.Func("verifier", `zkVM verifier as SLUG=COMMAND, repeatable; COMMAND is a JSON array or space-separated words with {proof}, {vk_path}, {block_number}, {block_hash}, e.g. "sp1=sp1-verify --proof {proof} --vk {vk_path}" (PROOFGRID_ETHPROOFS_VERIFIERS, a JSON object of slug to argument array)`,
		func(v string) error {
			slug, command, ok := strings.Cut(v, "=")
			if !ok || slug == "" {
				return fmt.Errorf("want SLUG=COMMAND, got %q", v)
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
	s.EnvFunc("verifier", "PROOFGRID_ETHPROOFS_VERIFIERS", func(v string) error {
		if err := json.Unmarshal([]byte(v), &cfg.Verifiers); err != nil {
			return fmt.Errorf("want a JSON object of zkVM slug to argument array: %w", err)
		}
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
