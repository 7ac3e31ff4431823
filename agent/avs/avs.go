// Package avs looks after the AVS nodes on an AVS operator's machine for
// the agent: each heartbeat it reports every configured deployment (AVS,
// chain, version, operator address) and checks that its node is alive, by
// process name, pid file or health URL. Failures become machine errors,
// both in the deployment's report and in the status's error list, which is
// what the coordinator's health rules read. An optional command checks the
// operator's registration with the AVS.
//
// A Checker's Report method has the shape of agent.StatusFunc:
//
//	checker, err := avs.New(avs.Config{Deployments: deps})
//	agent.New(agent.Config{Role: proofgrid.RoleAVS, StatusFunc: checker.Report, ...})
package avs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v3/process"

	"github.com/proofgrid/proofgrid"
)

// Error codes a Checker reports. Each error reads "CODE: details", except
// CodeUnregisteredOperator, which stands alone as the Ivynet document
// writes it.
const (
	CodeNodeDown                = "AVS_NODE_DOWN"
	CodeHealthCheckFailed       = "AVS_HEALTH_CHECK_FAILED"
	CodeUnregisteredOperator    = "UNREGISTERED_OPERATOR"
	CodeRegistrationCheckFailed = "AVS_REGISTRATION_CHECK_FAILED"
)

// Defaults used where Config leaves a field at its zero value.
const (
	DefaultTimeout               = 5 * time.Second
	DefaultRegisterCheckInterval = 5 * time.Minute
)

// Deployment is one AVS node the machine runs.
type Deployment struct {
	// AVS is the catalogue id of the AVS, e.g. "eigenda".
	AVS string
	// Chain is the network it serves, e.g. "mainnet" or "holesky".
	Chain string
	// Version is the version of the node software.
	Version string
	// OperatorAddress is the operator's Ethereum address (0x + 40 hex).
	OperatorAddress string

	// The node counts as alive when every check that is set passes.
	// ProcessName matches a running process by name (or, beyond the 15
	// characters Linux keeps of a name, by its executable's base name).
	ProcessName string
	// PIDFile names a file holding the node's process id.
	PIDFile string
	// HealthURL must answer a GET with a 2xx status within the timeout,
	// as EigenLayer's node API does at /eigen/node/health.
	HealthURL string

	// RegisteredCommand, when set, checks the operator's registration:
	// exit status 0 means registered, 1 not registered, anything else a
	// failed check. It runs at most once per RegisterCheckInterval.
	RegisteredCommand []string
}

// Config configures a Checker. Zero values mean the documented default.
type Config struct {
	Deployments []Deployment
	// Timeout bounds each check; default DefaultTimeout.
	Timeout time.Duration
	// RegisterCheckInterval is how long a registration check's answer is
	// reused; default DefaultRegisterCheckInterval, since such a check
	// usually asks a chain node.
	RegisterCheckInterval time.Duration
	// HTTPClient sends health checks; default a client of its own.
	HTTPClient *http.Client
	// Now tells the time; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Checker checks and reports the deployments. It is safe for concurrent
// use.
type Checker struct {
	cfg  Config
	deps []Deployment

	mu         sync.Mutex
	registered map[int]registration // by deployment index
}

type registration struct {
	value   *bool
	err     string
	checked time.Time
}

// New validates cfg and returns a Checker.
func New(cfg Config) (*Checker, error) {
	if cfg.Timeout < 0 || cfg.RegisterCheckInterval < 0 {
		return nil, errors.New("avs: timeout and register check interval must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RegisterCheckInterval == 0 {
		cfg.RegisterCheckInterval = DefaultRegisterCheckInterval
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	seen := map[string]bool{}
	for i, d := range cfg.Deployments {
		switch {
		case strings.TrimSpace(d.AVS) == "" || strings.TrimSpace(d.Chain) == "":
			return nil, fmt.Errorf("avs: deployment %d needs an AVS id and a chain", i)
		case seen[d.AVS+"/"+d.Chain]:
			return nil, fmt.Errorf("avs: %s on %s is configured twice", d.AVS, d.Chain)
		case d.OperatorAddress != "" && !proofgrid.ValidAddress(d.OperatorAddress):
			return nil, fmt.Errorf("avs: %s: operator address must be 0x followed by 40 hex digits, got %q", d.AVS, d.OperatorAddress)
		case d.HealthURL != "" && !strings.HasPrefix(d.HealthURL, "http://") && !strings.HasPrefix(d.HealthURL, "https://"):
			return nil, fmt.Errorf("avs: %s: health URL must be http or https, got %q", d.AVS, d.HealthURL)
		}
		seen[d.AVS+"/"+d.Chain] = true
	}
	return &Checker{cfg: cfg, deps: cfg.Deployments, registered: map[int]registration{}}, nil
}

// Report checks every deployment, concurrently and each within the
// timeout, and adds their reports and failures to st. It has the shape of
// agent.StatusFunc.
func (c *Checker) Report(ctx context.Context, st *proofgrid.AgentStatus) {
	reports := make([]proofgrid.AVSReport, len(c.deps))
	errs := make([][]string, len(c.deps))
	var wg sync.WaitGroup
	for i := range c.deps {
		wg.Go(func() { reports[i], errs[i] = c.check(ctx, i) })
	}
	wg.Wait()
	for i := range reports {
		st.AVS = append(st.AVS, reports[i])
		st.Errors = append(st.Errors, errs[i]...)
	}
}

// check checks one deployment and returns its report and its errors.
func (c *Checker) check(ctx context.Context, i int) (proofgrid.AVSReport, []string) {
	d := c.deps[i]
	r := proofgrid.AVSReport{
		AVS: d.AVS, Chain: d.Chain, Version: d.Version, OperatorAddress: d.OperatorAddress, Healthy: true,
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	where := d.AVS + " on " + d.Chain
	var errs []string
	fail := func(code, format string, args ...any) {
		errs = append(errs, code+": "+where+": "+fmt.Sprintf(format, args...))
	}
	if d.ProcessName != "" {
		if ok, err := processRunning(ctx, d.ProcessName); err != nil {
			fail(CodeNodeDown, "cannot list processes: %v", err)
		} else if !ok {
			fail(CodeNodeDown, "no process named %q is running", d.ProcessName)
		}
	}
	if d.PIDFile != "" {
		if err := pidAlive(ctx, d.PIDFile); err != nil {
			fail(CodeNodeDown, "%v", err)
		}
	}
	if d.HealthURL != "" {
		if err := c.healthy(ctx, d.HealthURL); err != nil {
			fail(CodeHealthCheckFailed, "%v", err)
		}
	}
	if len(errs) > 0 {
		r.Healthy = false
	}
	if len(d.RegisteredCommand) > 0 {
		reg := c.registration(ctx, i)
		r.Registered = reg.value
		if reg.err != "" {
			errs = append(errs, CodeRegistrationCheckFailed+": "+where+": "+reg.err)
		}
		if reg.value != nil && !*reg.value {
			errs = append(errs, CodeUnregisteredOperator)
		}
	}
	if len(errs) > 0 {
		r.Error = errs[0]
		for _, e := range errs {
			c.cfg.Logger.Warn("AVS check failed", "avs", d.AVS, "chain", d.Chain, "error", e)
		}
	}
	return r, errs
}

// healthy GETs url and wants a 2xx answer.
func (c *Checker) healthy(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health URL: %v", err)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %v", url, err)
	}
	// Drain a little so the connection can be reused, but never wait on a
	// node that streams.
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s answered %d", url, resp.StatusCode)
	}
	return nil
}

// registration returns the deployment's registration, running its check
// when the last answer is older than the interval.
func (c *Checker) registration(ctx context.Context, i int) registration {
	now := c.cfg.Now()
	c.mu.Lock()
	prev, ok := c.registered[i]
	c.mu.Unlock()
	if ok && now.Sub(prev.checked) < c.cfg.RegisterCheckInterval {
		return prev
	}
	next := registration{value: prev.value, checked: now}
	cmd := c.deps[i].RegisteredCommand
	err := exec.CommandContext(ctx, cmd[0], cmd[1:]...).Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		next.value = ptr(true)
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		next.value = ptr(false)
	default:
		// Keep the last known answer: a failing check says nothing new
		// about the registration.
		next.err = fmt.Sprintf("%s: %v", filepath.Base(cmd[0]), err)
	}
	c.mu.Lock()
	c.registered[i] = next
	c.mu.Unlock()
	return next
}

func ptr[T any](v T) *T { return &v }

// processRunning reports whether a process called name runs. Linux keeps
// only 15 characters of a name, so a longer name is also matched against
// the executable's base name.
func processRunning(ctx context.Context, name string) (bool, error) {
	procs, err := process.ProcessesWithContext(ctx)
	if err != nil {
		return false, err
	}
	for _, p := range procs {
		n, err := p.NameWithContext(ctx)
		if err != nil {
			continue // gone, or not ours to read
		}
		if n == name {
			return true, nil
		}
		if len(name) > 15 && strings.HasPrefix(name, n) {
			if exe, err := p.ExeWithContext(ctx); err == nil && filepath.Base(exe) == name {
				return true, nil
			}
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
	}
	return false, nil
}

// pidAlive checks that the pid file names a running process.
func pidAlive(ctx context.Context, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("pid file: %v", err)
	}
	pid, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 32)
	if err != nil || pid <= 0 {
		return fmt.Errorf("pid file %s does not hold a process id", path)
	}
	ok, err := process.PidExistsWithContext(ctx, int32(pid))
	if err != nil {
		return fmt.Errorf("pid %d: %v", pid, err)
	}
	if !ok {
		return fmt.Errorf("process %d from %s is not running", pid, path)
	}
	return nil
}
