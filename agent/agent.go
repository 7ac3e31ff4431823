// Package agent is the runtime of the proofgrid agent, the one small program
// on every prover and AVS machine. It keeps an Ed25519 identity in a state
// directory, enrols with the coordinator using a team token, sends a
// heartbeat with a hardware sample every interval, and runs an asynq server
// on the job queues the coordinator assigned to the machine.
//
// The agent never touches the coordinator's database: everything it reports
// goes through the coordinator's signed API (package client). Jobs keep
// running while the coordinator is unreachable; heartbeats back off and
// resume on their own.
package agent

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent/collector"
	"github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/redisacl"
)

// Defaults used where Config leaves a field at its zero value.
const (
	DefaultStateDir          = "/var/lib/proofgrid-agent"
	DefaultHeartbeatInterval = 15 * time.Second
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultConcurrency       = 1
	DefaultIdleCheck         = 5 * time.Second
	DefaultParkAfter         = time.Minute
	// minParkAfter is the shortest ParkAfter: the job server is checked
	// for idleness no more often than this.
	minParkAfter = 100 * time.Millisecond
)

// Errors that end Run because retrying cannot help; the operator has to
// change the configuration.
var (
	// ErrTokenRefused means the coordinator refused the team token (401 or
	// 403 on enrol).
	ErrTokenRefused = errors.New("agent: enrolment token refused")
	// ErrEnrollRejected means the coordinator refused the enrolment request
	// itself, e.g. an unknown cluster.
	ErrEnrollRejected = errors.New("agent: enrolment rejected")
)

// Timing of requests and retries. Variables rather than constants only so
// that tests can shorten them.
var (
	requestTimeout  = 15 * time.Second
	enrollRetryBase = time.Second
	enrollRetryMax  = time.Minute
	heartbeatMaxGap = time.Minute
)

// Sampler takes one hardware sample. *collector.Set is the real one.
type Sampler interface {
	Collect(ctx context.Context) proofgrid.Sample
}

var _ Sampler = (*collector.Set)(nil)

// RegisterFunc adds job handlers to the mux of the agent's asynq server.
// It is called each time the job server starts, after enrolment, with the
// agent, so that handlers can report progress through Agent.DoSigned.
type RegisterFunc func(mux *asynq.ServeMux, a *Agent)

// StatusFunc adds to the status sent with each heartbeat, e.g. AVS
// deployment reports or errors only its owner knows about. It must return
// quickly: heartbeats wait for it.
type StatusFunc func(ctx context.Context, status *proofgrid.AgentStatus)

// Config configures an Agent. Zero values mean the documented default.
type Config struct {
	// CoordinatorURL is the coordinator's base URL (http or https).
	CoordinatorURL string
	// Token is the team API token used to enrol.
	Token string
	// Role is proofgrid.RoleProver, proofgrid.RoleAVS or
	// proofgrid.RoleVerifier.
	Role string
	// ClusterID names the prover cluster this machine belongs to, if any.
	ClusterID string
	// Name is how the machine appears in the coordinator; default the
	// hostname.
	Name string
	// StateDir keeps the key (agent.key) and the enrolment (machine.json);
	// default DefaultStateDir.
	StateDir string
	// HeartbeatInterval is the time between heartbeats; default
	// DefaultHeartbeatInterval. An interval the coordinator asks for in its
	// answers takes precedence.
	HeartbeatInterval time.Duration
	// RedisURL, when set, overrides the Redis URL that enrolment returns
	// (e.g. when the coordinator's view of Redis is not reachable from
	// this machine). Any URL asynq.ParseRedisURI accepts; redis:// and
	// rediss:// URLs may name a user (redis://user:password@host/db).
	RedisURL string
	// Concurrency is how many jobs run at once; default
	// DefaultConcurrency, since a prover job takes the whole machine and
	// AVS operations on one deployment must not race.
	Concurrency int
	// ShutdownTimeout is how long shutdown waits for running jobs before
	// asynq puts them back in their queue; default DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// IdleCheck is the longest an idle agent goes without looking at its
	// queues; default DefaultIdleCheck. New tasks wake it at once (the
	// coordinator announces them, see queue.WakeHook); the look only
	// finds what no announcement reached it for, such as retries.
	IdleCheck time.Duration
	// ParkAfter is how long the job server may go without a job before it
	// is parked: its asynq server stops (and leaves asynqmon's server
	// list), and the agent only listens for wake-ups of its queues and
	// looks at them every six IdleCheck, on a heartbeat's wake-up,
	// starting the server again as soon as there is work. An idle asynq
	// server makes Redis calls every few seconds (its heartbeat, forwarder
	// and subscription checks); a parked one only those looks. Default
	// DefaultParkAfter; negative never parks.
	ParkAfter time.Duration
	// Collector configures the hardware collectors.
	Collector collector.Config
	// Sampler, when set, replaces the collector set built from Collector.
	Sampler Sampler
	// Handlers registers the job handlers. Without it the agent consumes
	// no jobs, since a task without a handler would only fail and retry.
	Handlers RegisterFunc
	// StatusFunc, when set, contributes to every heartbeat's status.
	StatusFunc StatusFunc
	// Logger receives the agent's logs; default slog.Default().
	Logger *slog.Logger
	// Version is reported to the coordinator; default "dev".
	Version string
	// Now tells the time for signatures and records; default time.Now.
	Now func() time.Time
}

// Agent is one running agent. Create it with New and start it with Run.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	client  *client.Client
	sampler Sampler
	// ownSampler is the collector set New built, closed when Run ends; a
	// Sampler from Config belongs to the caller.
	ownSampler io.Closer
	redis      asynq.RedisConnOpt // parsed Config.RedisURL, nil when unset
	random     func() float64     // jitter source in [0,1)

	started atomic.Bool
	// redisRefused is set when Redis refuses the agent's user from
	// enrolment, e.g. after a Redis restart lost the per-agent users; the
	// heartbeat loop then enrols again for fresh credentials.
	redisRefused atomic.Bool
	// coordinatorDown is set until the coordinator answers a heartbeat,
	// and again while it cannot be reached (a heartbeat or a job's call
	// found it unreachable or unavailable) until the next heartbeat it
	// answers; meanwhile the job server takes no task
	// (queue.WakeHook.HoldWhile).
	coordinatorDown atomic.Bool
	jobWake         atomic.Pointer[queue.WakeHook] // the running job server's hook
	heartbeatNow    chan struct{}                  // asks the heartbeat loop for a heartbeat now
	beats           chan struct{}                  // the heartbeat loop was awake (see runParker)
	running         atomic.Int64                   // jobs inside a handler right now
	lastJob         atomic.Int64                   // unix nanoseconds when the last job ended; 0: none

	// sources carries a changed place to take jobs from, found by a
	// re-enrolment in the heartbeat loop, to Run, which owns the job
	// server. Capacity 1: only the newest matters.
	sources chan machineState

	mu             sync.Mutex
	key            ed25519.PrivateKey
	machine        machineState
	serverInterval time.Duration
	conditions     map[string]string // ongoing problems, reported until cleared
	recent         []statusError     // past errors, reported until a heartbeat carries them
	errSeq         uint64
}

type statusError struct {
	seq uint64
	msg string
}

// maxRecentErrors bounds the errors kept for the next heartbeat while the
// coordinator is away; the newest are the useful ones.
const maxRecentErrors = 20

// New validates cfg, fills in defaults and returns an Agent ready to Run.
func New(cfg Config) (*Agent, error) {
	if cfg.CoordinatorURL == "" {
		return nil, errors.New("agent: coordinator URL is required")
	}
	if cfg.Token == "" {
		return nil, errors.New("agent: enrolment token is required")
	}
	if !proofgrid.ValidRole(cfg.Role) {
		return nil, fmt.Errorf("agent: role %q must be %q, %q or %q", cfg.Role, proofgrid.RoleProver, proofgrid.RoleAVS, proofgrid.RoleVerifier)
	}
	if cfg.HeartbeatInterval < 0 || cfg.Concurrency < 0 || cfg.ShutdownTimeout < 0 || cfg.IdleCheck < 0 {
		return nil, errors.New("agent: heartbeat interval, concurrency, shutdown timeout and idle check must not be negative")
	}
	if cfg.ParkAfter > 0 && cfg.ParkAfter < minParkAfter {
		return nil, fmt.Errorf("agent: park-after %s is too short to tell an idle job server: use at least %s, or a negative value never to park", cfg.ParkAfter, minParkAfter)
	}
	if cfg.Name == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return nil, fmt.Errorf("agent: no machine name given and the hostname is unknown: %v", err)
		}
		cfg.Name = h
	}
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.ParkAfter == 0 {
		cfg.ParkAfter = DefaultParkAfter
	}
	if cfg.IdleCheck == 0 {
		cfg.IdleCheck = DefaultIdleCheck
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &Agent{
		cfg:          cfg,
		log:          cfg.Logger,
		sampler:      cfg.Sampler,
		random:       randomFloat,
		sources:      make(chan machineState, 1),
		conditions:   map[string]string{},
		heartbeatNow: make(chan struct{}, 1),
		beats:        make(chan struct{}, 1),
	}
	// No job is taken before the coordinator has answered a heartbeat: a
	// job's reports would have nowhere to go.
	a.coordinatorDown.Store(true)
	if cfg.RedisURL != "" {
		opt, err := redisacl.ConnOpt(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("agent: Redis URL: %w", err)
		}
		a.redis = opt
	}
	c, err := client.New(cfg.CoordinatorURL, client.Options{
		Timeout:   requestTimeout,
		UserAgent: "proofgrid-agent/" + cfg.Version,
		Now:       cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a.client = c
	if a.sampler == nil {
		cc := cfg.Collector
		if cc.Now == nil {
			cc.Now = cfg.Now
		}
		if cc.Logger == nil {
			cc.Logger = cfg.Logger.With("component", "collector")
		}
		set := collector.New(cc)
		a.sampler, a.ownSampler = set, set
	}
	return a, nil
}

// Run enrols the machine and then heartbeats and runs jobs until ctx is
// cancelled. It returns nil after a clean shutdown, and an error when the
// agent cannot work at all: an unusable state directory, or a coordinator
// that refuses the token (ErrTokenRefused) or the enrolment
// (ErrEnrollRejected). While the coordinator is unreachable it keeps
// retrying. Run may be called once per Agent.
func (a *Agent) Run(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return errors.New("agent: Run called twice")
	}
	if a.ownSampler != nil {
		defer a.ownSampler.Close()
	}
	if err := ensureStateDir(a.cfg.StateDir); err != nil {
		return err
	}
	key, created, loose, err := loadOrCreateKey(a.cfg.StateDir)
	if err != nil {
		return err
	}
	pub := client.PublicKeyID(key.Public().(ed25519.PublicKey))
	if created {
		a.log.Info("generated a new agent key", "state_dir", a.cfg.StateDir, "public_key", pub)
	}
	if loose {
		a.log.Warn("agent key is readable by other users; chmod 600 it", "path", filepath.Join(a.cfg.StateDir, keyFile))
	}
	a.mu.Lock()
	a.key = key
	a.mu.Unlock()

	jobs := &jobRunner{a: a}
	// With a stored enrolment for the same coordinator, role and key, the
	// job server starts before enrolment succeeds; it takes jobs once the
	// coordinator answers (coordinatorDown), since their reports go there.
	stored, ok, err := loadMachine(a.cfg.StateDir)
	if err != nil {
		a.log.Warn("ignoring unreadable enrolment record", "error", err)
	} else if ok && stored.PublicKey == pub && stored.CoordinatorURL == a.cfg.CoordinatorURL &&
		stored.Role == a.cfg.Role && stored.ClusterID == a.cfg.ClusterID {
		a.mu.Lock()
		a.machine = stored
		a.mu.Unlock()
		a.log.Info("loaded enrolment", "machine_id", stored.MachineID, "queues", stored.Queues)
		jobs.apply(stored)
	}

	if err := a.enrollUntilDone(ctx); err != nil {
		jobs.stop()
		jobs.shutdown()
		if ctx.Err() != nil {
			a.log.Info("stopped before enrolment completed")
			return nil
		}
		return err
	}
	jobs.apply(a.machineState())

	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		a.heartbeatLoop(ctx)
	}()

	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case st := <-a.sources:
			jobs.apply(st)
		}
	}

	// Shutdown, in this order:
	//  1. Stop fetching tasks, so that nothing starts which step 3 would
	//     only cut short.
	//  2. Wait for the heartbeat loop, which ends with ctx; the coordinator
	//     notices the silence through its heartbeat sweep.
	//  3. Let running jobs finish for up to ShutdownTimeout; asynq then
	//     cancels them and puts them back in their queue for another try.
	a.log.Info("shutting down", "running_jobs", a.RunningJobs())
	jobs.stop()
	<-hbDone
	jobs.shutdown()
	a.log.Info("stopped")
	return nil
}

// MachineID returns the machine id the coordinator assigned, taken from
// the stored enrolment until this run enrols, and "" on a machine never
// enrolled.
func (a *Agent) MachineID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.machine.MachineID
}

// Queues returns the job queues assigned to the machine.
func (a *Agent) Queues() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string{}, a.machine.Queues...)
}

// RunningJobs returns how many jobs are inside a handler right now.
func (a *Agent) RunningJobs() int { return int(a.running.Load()) }

// DoSigned sends a request to the coordinator signed as this machine, for
// job handlers that report progress and results. Arguments are those of
// client.Client.DoSigned less the key. It fails before the first
// enrolment.
func (a *Agent) DoSigned(ctx context.Context, method, path string, in, out any) error {
	a.mu.Lock()
	id, key := a.machine.MachineID, a.key
	a.mu.Unlock()
	if id == "" || key == nil {
		return errors.New("agent: not enrolled yet")
	}
	return a.client.DoSigned(ctx, method, path, id, key, in, out)
}

func (a *Agent) machineState() machineState {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.machine
	st.Queues = append([]string(nil), st.Queues...)
	return st
}

// setCondition records an ongoing problem under name, reported with every
// heartbeat until cleared with an empty msg.
func (a *Agent) setCondition(name, msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if msg == "" {
		delete(a.conditions, name)
	} else {
		a.conditions[name] = msg
	}
}

// recordError keeps msg for the next heartbeat that gets through.
func (a *Agent) recordError(msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errSeq++
	a.recent = append(a.recent, statusError{seq: a.errSeq, msg: msg})
	if n := len(a.recent) - maxRecentErrors; n > 0 {
		a.recent = append(a.recent[:0], a.recent[n:]...)
	}
}

// redisURL is where jobs come from: the configured override, else what
// enrolment said.
func (a *Agent) redisURL(st machineState) string {
	if a.cfg.RedisURL != "" {
		return a.cfg.RedisURL
	}
	return st.RedisURL
}

// redactURL hides a password in a Redis URL before it is logged.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
