package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent"
	"github.com/proofgrid/proofgrid/agent/avs"
	"github.com/proofgrid/proofgrid/internal/envflag"
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

// bind registers the AVS flags and their environment variables on s.
func (f *avsFlags) bind(s *envflag.Set) {
	s.String(&f.id, "avs", "", "AVS this machine runs, by catalogue id (e.g. eigenda); role avs only", "PROOFGRID_AGENT_AVS")
	s.String(&f.chain, "avs-chain", "", "network the AVS node serves; default mainnet", "PROOFGRID_AGENT_AVS_CHAIN")
	s.String(&f.version, "avs-version", "", "version of the AVS node software", "PROOFGRID_AGENT_AVS_VERSION")
	s.String(&f.operator, "operator-address", "", "operator's Ethereum address (0x + 40 hex digits)", "PROOFGRID_AGENT_OPERATOR_ADDRESS")
	s.String(&f.process, "avs-process", "", "name of the AVS node's process, checked every heartbeat", "PROOFGRID_AGENT_AVS_PROCESS")
	s.String(&f.pidFile, "avs-pid-file", "", "pid file of the AVS node, checked every heartbeat", "PROOFGRID_AGENT_AVS_PID_FILE")
	s.String(&f.healthURL, "avs-health-url", "",
		"URL that answers 2xx while the node is healthy, e.g. http://localhost:9091/eigen/node/health", "PROOFGRID_AGENT_AVS_HEALTH_URL")
	s.String(&f.registeredCommand, "avs-registered-command", "",
		"command checking the operator's registration: exit 0 registered, 1 not; a JSON array or space-separated words", "PROOFGRID_AGENT_AVS_REGISTERED_COMMAND")
	s.String(&f.config, "avs-config", "", "JSON file listing several AVS deployments instead of the single --avs flags", "PROOFGRID_AGENT_AVS_CONFIG")
	s.Duration(&f.timeout, "avs-check-timeout", 0, "bound of each AVS check; default 5s", "PROOFGRID_AGENT_AVS_CHECK_TIMEOUT")
	s.Duration(&f.registerInterval, "avs-register-interval", 0,
		"how long a registration check's answer is reused; default 5m", "PROOFGRID_AGENT_AVS_REGISTER_INTERVAL")
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
