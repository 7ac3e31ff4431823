package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent"
	"github.com/proofgrid/proofgrid/agent/prover"
	"github.com/proofgrid/proofgrid/internal/envflag"
	"github.com/proofgrid/proofgrid/zkvm"
)

// proverFlags are the "agent run" settings of the prove:block job.
type proverFlags struct {
	backend    string
	command    string
	timeout    time.Duration
	demoSteps  uint64
	rpcURL     string
	verifierID string
	passEnv    string
}

// bind registers the prover flags and their environment variables on s.
func (p *proverFlags) bind(s *envflag.Set) {
	s.String(&p.backend, "prover-backend", "",
		"prover backend: demo (built-in Keccak chain) or exec (a zkVM prover command); default demo", "PROOFGRID_AGENT_PROVER_BACKEND")
	s.String(&p.command, "prover-command", "",
		`exec backend command template, a JSON array or space-separated words, e.g. "cargo-prove --block {block_number} --rpc {rpc_url} --out {output}"`,
		"PROOFGRID_AGENT_PROVER_COMMAND")
	s.String(&p.rpcURL, "rpc-url", "", "execution node the prover fetches blocks from ({rpc_url})", "PROOFGRID_AGENT_RPC_URL")
	s.String(&p.verifierID, "verifier-id", "", "verifier_id reported with each proof (vkey or image id)", "PROOFGRID_AGENT_VERIFIER_ID")
	s.Duration(&p.timeout, "prover-timeout", 0, "bound of one exec prover run; default 1h", "PROOFGRID_AGENT_PROVER_TIMEOUT")
	s.Uint64(&p.demoSteps, "demo-steps", 0,
		"hash-chain steps per block of the demo backend; default 1048576, 1 is the least work", "PROOFGRID_AGENT_DEMO_STEPS")
	s.String(&p.passEnv, "prover-pass-env", "",
		`comma-separated variables of the agent's environment the exec prover receives besides PATH, HOME, locale, TMPDIR, CUDA_* and the like; "SP1_*" names a prefix`,
		"PROOFGRID_AGENT_PROVER_PASS_ENV")
}

// handlers returns the job handlers of a prover agent with a cluster, and
// nil for other agents.
func (p *proverFlags) handlers(c agent.Config, log *slog.Logger) (agent.RegisterFunc, error) {
	if c.Role != proofgrid.RoleProver || c.ClusterID == "" {
		return nil, nil
	}
	var backend prover.Backend
	switch p.backend {
	case "", "demo":
		backend = prover.Demo{Steps: p.demoSteps}
	case "exec":
		command, err := splitCommand(p.command)
		if err != nil {
			return nil, err
		}
		ep := zkvm.ExecProver{Command: command, Timeout: p.timeout, PassEnv: splitList(p.passEnv)}
		if err := ep.Validate(); err != nil {
			return nil, fmt.Errorf("--prover-command: %w", err)
		}
		backend = prover.Exec{Prover: ep}
	default:
		return nil, fmt.Errorf("--prover-backend must be demo or exec, not %q", p.backend)
	}
	return prover.Register(prover.Config{
		ClusterID: c.ClusterID, Backend: backend, RPCURL: p.rpcURL, VerifierID: p.verifierID, Logger: log,
	}), nil
}

// splitList splits a comma-separated list, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// splitCommand reads a command template: a JSON array of arguments, for
// arguments with spaces, or words separated by spaces.
func splitCommand(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(s), &argv); err != nil {
			return nil, fmt.Errorf("--prover-command: not a JSON array of strings: %w", err)
		}
		return argv, nil
	}
	argv := strings.Fields(s)
	if len(argv) == 0 {
		return nil, fmt.Errorf("--prover-command is required with --prover-backend exec")
	}
	return argv, nil
}
