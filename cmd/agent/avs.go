package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent"
	"github.com/proofgrid/proofgrid/agent/avs"
)

// avsFlags are the "agent run" settings of an AVS machine: the deployment
// it reports with each heartbeat and how its node is checked. A machine
// with several deployments lists them in a file instead (--avs-config).
type avsFlags struct {
	config            string
	id                string
	chain             string
	version           string
	operator          string
	process           string
	pidFile           string
	healthURL         string
	registeredCommand string
	timeout           time.Duration
	registerInterval  time.Duration
}

// bind registers the AVS flags on fs and their environment variables in
// envOf.
func (f *avsFlags) bind(fs *flag.FlagSet, envOf map[string]string) {
	str := func(v *string, name, env, help string) {
		fs.StringVar(v, name, *v, help+" ("+env+")")
		envOf[name] = env
	}
	str(&f.id, "avs", "PROOFGRID_AGENT_AVS", "AVS this machine runs, by catalogue id (e.g. eigenda); role avs only")
	str(&f.chain, "avs-chain", "PROOFGRID_AGENT_AVS_CHAIN", "network the AVS node serves; default mainnet")
	str(&f.version, "avs-version", "PROOFGRID_AGENT_AVS_VERSION", "version of the AVS node software")
	str(&f.operator, "operator-address", "PROOFGRID_AGENT_OPERATOR_ADDRESS", "operator's Ethereum address (0x + 40 hex digits)")
	str(&f.process, "avs-process", "PROOFGRID_AGENT_AVS_PROCESS", "name of the AVS node's process, checked every heartbeat")
	str(&f.pidFile, "avs-pid-file", "PROOFGRID_AGENT_AVS_PID_FILE", "pid file of the AVS node, checked every heartbeat")
	str(&f.healthURL, "avs-health-url", "PROOFGRID_AGENT_AVS_HEALTH_URL", "URL that answers 2xx while the node is healthy, e.g. http://localhost:9091/eigen/node/health")
	str(&f.registeredCommand, "avs-registered-command", "PROOFGRID_AGENT_AVS_REGISTERED_COMMAND",
		"command checking the operator's registration: exit 0 registered, 1 not; a JSON array or space-separated words")
	str(&f.config, "avs-config", "PROOFGRID_AGENT_AVS_CONFIG", "JSON file listing several AVS deployments instead of the single --avs flags")
	fs.DurationVar(&f.timeout, "avs-check-timeout", 0, "bound of each AVS check; default 5s (PROOFGRID_AGENT_AVS_CHECK_TIMEOUT)")
	envOf["avs-check-timeout"] = "PROOFGRID_AGENT_AVS_CHECK_TIMEOUT"
	fs.DurationVar(&f.registerInterval, "avs-register-interval", 0, "how long a registration check's answer is reused; default 5m (PROOFGRID_AGENT_AVS_REGISTER_INTERVAL)")
	envOf["avs-register-interval"] = "PROOFGRID_AGENT_AVS_REGISTER_INTERVAL"
}

// deploymentFile is one entry of an --avs-config file.
type deploymentFile struct {
	AVS               string   `json:"avs"`
	Chain             string   `json:"chain"`
	Version           string   `json:"version"`
	OperatorAddress   string   `json:"operator_address"`
	ProcessName       string   `json:"process_name"`
	PIDFile           string   `json:"pid_file"`
	HealthURL         string   `json:"health_url"`
	RegisteredCommand []string `json:"registered_command"`
}

// deployments returns the configured AVS deployments.
func (f *avsFlags) deployments() ([]avs.Deployment, error) {
	single := f.id != "" || f.version != "" || f.operator != "" || f.process != "" || f.pidFile != "" || f.healthURL != "" || f.registeredCommand != ""
	switch {
	case f.config != "" && single:
		return nil, errors.New("give either --avs-config or the single-deployment --avs flags, not both")
	case f.config != "":
		data, err := os.ReadFile(f.config)
		if err != nil {
			return nil, fmt.Errorf("--avs-config: %w", err)
		}
		var list []deploymentFile
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("--avs-config %s: a JSON array of deployments is expected: %w", f.config, err)
		}
		out := make([]avs.Deployment, len(list))
		for i, d := range list {
			out[i] = avs.Deployment{
				AVS: d.AVS, Chain: d.Chain, Version: d.Version, OperatorAddress: d.OperatorAddress,
				ProcessName: d.ProcessName, PIDFile: d.PIDFile, HealthURL: d.HealthURL, RegisteredCommand: d.RegisteredCommand,
			}
		}
		return out, nil
	case single:
		if f.id == "" {
			return nil, errors.New("--avs is required with the other --avs flags")
		}
		chain := f.chain
		if chain == "" {
			chain = "mainnet"
		}
		d := avs.Deployment{
			AVS: f.id, Chain: chain, Version: f.version, OperatorAddress: f.operator,
			ProcessName: f.process, PIDFile: f.pidFile, HealthURL: f.healthURL,
		}
		if f.registeredCommand != "" {
			cmd, err := splitCommand(f.registeredCommand)
			if err != nil {
				return nil, fmt.Errorf("--avs-registered-command: %w", err)
			}
			d.RegisteredCommand = cmd
		}
		return []avs.Deployment{d}, nil
	}
	return nil, nil
}

// statusFunc returns the AVS checker's report function for an AVS agent
// with deployments, and nil otherwise.
func (f *avsFlags) statusFunc(c agent.Config, log *slog.Logger) (agent.StatusFunc, error) {
	deps, err := f.deployments()
	if err != nil {
		return nil, err
	}
	if len(deps) == 0 {
		return nil, nil
	}
	if c.Role != proofgrid.RoleAVS {
		return nil, fmt.Errorf("AVS deployments need --role %s", proofgrid.RoleAVS)
	}
	checker, err := avs.New(avs.Config{
		Deployments: deps, Timeout: f.timeout, RegisterCheckInterval: f.registerInterval,
		Now: c.Now, Logger: log.With("component", "avs"),
	})
	if err != nil {
		return nil, err
	}
	return checker.Report, nil
}
