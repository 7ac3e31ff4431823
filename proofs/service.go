// Package proofs holds the rules of the Ethproofs pipeline: the zkVM
// catalogue, teams' prover clusters and their versions, blocks and the
// proving tasks a new block calls for, proof reports and their state
// machine, proof verification, CSP benchmark files, verification keys and
// the worker events that completed and failed jobs leave behind.
//
// It sits between the Ethproofs surface (and the coordinator's task
// handlers) and storage: it imports neither the HTTP framework nor the task
// queue's runtime. Rows that call for a task are written with an outbox row
// in the same transaction; the relay is told after the commit.
package proofs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/proofgrid/proofgrid/blob"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/rewards"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/zkvm"
)

// Defaults of Config.
const (
	DefaultMaxProofBytes     = 32 << 20
	DefaultMaxBenchmarkBytes = 10 << 20
	DefaultMaxVKBytes        = 16 << 20
)

// Notifier is told that outbox rows were committed; *outbox.Relay is one.
type Notifier interface {
	Notify()
}

// JobRecorder records a finished job as a worker event in the transaction
// of the change that reports it; *rewards.Service is one.
type JobRecorder interface {
	RecordJob(ctx context.Context, tx *storage.Tx, j rewards.Job) (bool, error)
}

var _ JobRecorder = (*rewards.Service)(nil)

// Config configures a Service. Zero values mean defaults.
type Config struct {
	DB    *storage.DB
	Blobs blob.Store
	// Outbox is told after a commit that wrote outbox rows; nil leaves
	// them to the relay's next poll.
	Outbox Notifier
	// MaxProofBytes caps a decoded proof (default DefaultMaxProofBytes).
	MaxProofBytes int64
	// MaxBenchmarkBytes caps a CSP benchmarks file (default
	// DefaultMaxBenchmarkBytes).
	MaxBenchmarkBytes int64
	// MaxVKBytes caps a verification key (default DefaultMaxVKBytes).
	MaxVKBytes int64
	// Verifiers maps a zkVM slug to the verifier command of that zkVM.
	// The demo zkVM (DemoZKVM) is always verified by the built-in
	// verifier; a zkVM with neither gets cannot_verify.
	Verifiers map[string]zkvm.ExecVerifier
	// DemoVerifyWorkers is the parallelism of demo verification (default
	// GOMAXPROCS).
	DemoVerifyWorkers int
	// DemoVerifyMaxSteps caps the steps a demo proof may declare: a larger
	// one is refused when reported (EUNPROCESSABLE) and, reported before
	// the cap was lowered, gets cannot_verify without being checked
	// (default zkvm.DefaultVerifyMaxSteps).
	DemoVerifyMaxSteps uint64
	// VerifyTimeout bounds one verification: past it the proof gets
	// cannot_verify, "verification exceeded N s". It applies to the demo
	// verifier and to every exec verifier whose own Timeout is zero
	// (default zkvm.DefaultVerifyTimeout). It and every verifier's
	// Timeout must leave a minute of the proof:verify task's timeout, so
	// that the verdict is recorded before asynq gives up on the task.
	VerifyTimeout time.Duration
	// Jobs records the jobs the pipeline sees finish (required).
	Jobs   JobRecorder
	Now    func() time.Time
	Logger *slog.Logger
}

// Service applies the pipeline's rules over storage and the blob store.
type Service struct {
	db    *storage.DB
	blobs blob.Store
	cfg   Config
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Blobs == nil || cfg.Jobs == nil {
		return nil, errors.New("proofs: a database, a blob store and a job recorder are required")
	}
	if cfg.MaxProofBytes <= 0 {
		cfg.MaxProofBytes = DefaultMaxProofBytes
	}
	if cfg.MaxBenchmarkBytes <= 0 {
		cfg.MaxBenchmarkBytes = DefaultMaxBenchmarkBytes
	}
	if cfg.MaxVKBytes <= 0 {
		cfg.MaxVKBytes = DefaultMaxVKBytes
	}
	if cfg.DemoVerifyMaxSteps == 0 {
		cfg.DemoVerifyMaxSteps = zkvm.DefaultVerifyMaxSteps
	}
	if cfg.VerifyTimeout <= 0 {
		cfg.VerifyTimeout = zkvm.DefaultVerifyTimeout
	}
	maxTimeout := maxVerifyTimeout()
	if cfg.VerifyTimeout > maxTimeout {
		return nil, fmt.Errorf("proofs: verify timeout %v is above %v, a minute under the proof:verify task's timeout", cfg.VerifyTimeout, maxTimeout)
	}
	// A copy, so that filling in timeouts leaves the caller's map alone.
	verifiers := make(map[string]zkvm.ExecVerifier, len(cfg.Verifiers))
	for slug, v := range cfg.Verifiers {
		if err := v.Validate(); err != nil {
			return nil, errors.New("proofs: verifier of zkVM " + slug + ": " + err.Error())
		}
		if v.Timeout <= 0 {
			v.Timeout = cfg.VerifyTimeout
		}
		if v.Timeout > maxTimeout {
			return nil, fmt.Errorf("proofs: verifier of zkVM %s: timeout %v is above %v, a minute under the proof:verify task's timeout", slug, v.Timeout, maxTimeout)
		}
		verifiers[slug] = v
	}
	cfg.Verifiers = verifiers
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{db: cfg.DB, blobs: cfg.Blobs, cfg: cfg}, nil
}

// maxVerifyTimeout is the longest verification that still leaves a minute
// of the proof:verify task's timeout to record its verdict. Past the
// task's timeout asynq cancels the handler and retries the task, which
// would let one slow proof cost a verifier MaxRetry+1 timeouts.
func maxVerifyTimeout() time.Duration {
	k, _ := queue.Lookup(queue.TypeProofVerify)
	return k.Timeout - time.Minute
}

// MaxProofBytes returns the cap on a decoded proof.
func (s *Service) MaxProofBytes() int64 { return s.cfg.MaxProofBytes }

// MaxBenchmarkBytes returns the cap on a CSP benchmarks file.
func (s *Service) MaxBenchmarkBytes() int64 { return s.cfg.MaxBenchmarkBytes }

// MaxVKBytes returns the cap on a verification key.
func (s *Service) MaxVKBytes() int64 { return s.cfg.MaxVKBytes }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func (s *Service) notify() {
	if s.cfg.Outbox != nil {
		s.cfg.Outbox.Notify()
	}
}

// teamNamespace derives team UUIDs: Ethproofs names teams by UUID, while
// proofgrid's teams have integer ids.
var teamNamespace = uuid.MustParse("5b3f1d2e-8c47-4f0a-9d61-2a7e4c9b0f13")

// TeamUUID returns the Ethproofs UUID of team id, the same on every call.
func TeamUUID(teamID int64) string {
	return uuid.NewSHA1(teamNamespace, []byte("team:"+strconv.FormatInt(teamID, 10))).String()
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// TeamSlug returns the URL-friendly form of a team name, as Ethproofs
// shows it: lower case, runs of other characters turned into one "-".
func TeamSlug(teamID int64, name string) string {
	slug := strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if slug == "" {
		return "team-" + strconv.FormatInt(teamID, 10)
	}
	return slug
}

// circuitType names what a cluster version proves, for the jobs it records.
func circuitType(z storage.ZKVM, v storage.ZKVMVersion) string { return z.Slug + "/" + v.Version }

// withTimeout bounds work that must finish although its request's context
// ended, such as removing a blob that a failed transaction orphaned.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}
