// Package verifier is the submission:verify job of verifier agents. An
// agent started with role verifier consumes the zkGolf queue
// (verify.golf), one task at a time. For each submission it tells the
// coordinator it starts (a new attempt), fetches the challenge project
// and the submitted files through signed requests, lays them out in a
// scratch directory, runs the configured checker (the built-in lint rules
// or a command such as a Lean build plus leanprover/comparator) and
// streams the checker's output to the coordinator while it runs. The
// checker's verdict makes the submission verified or failed.
//
// A verifier that stops mid-run (shut down, killed, its machine lost)
// loses nothing: asynq hands the task to another verifier, whose start
// begins a new attempt; the log goes on with a line that says so, and a
// late report from the old attempt is refused.
package verifier

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent"
	"github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/golf"
	"github.com/proofgrid/proofgrid/queue"
)

// Reporter sends requests signed as the agent; *agent.Agent is one.
type Reporter interface {
	DoSigned(ctx context.Context, method, path string, in, out any) error
}

// maxProjectBytes caps an extracted challenge project.
const maxProjectBytes = 256 << 20

// Config configures the job.
type Config struct {
	// Checker decides each submission. Required.
	Checker Checker
	// WorkRoot holds the scratch directories (default os.TempDir()).
	WorkRoot string
	// FlushInterval and FlushBytes pace the log stream (defaults 1 s and
	// 16 KiB): output goes out at the interval, or as soon as that much
	// is waiting.
	FlushInterval time.Duration
	FlushBytes    int
	// OnStart, when set, is called as the checker starts (for
	// measurements and tests).
	OnStart func(submissionID string)
	Logger  *slog.Logger
}

// Register returns the agent.RegisterFunc that serves submission:verify
// with cfg.
func Register(cfg Config) agent.RegisterFunc {
	return func(mux *asynq.ServeMux, a *agent.Agent) {
		mux.Handle(queue.TypeSubmissionVerify, NewHandler(cfg, a))
	}
}

// Handler is the submission:verify handler.
type Handler struct {
	cfg Config
	rep Reporter
	log *slog.Logger

	mu      sync.Mutex
	project []byte // the last challenge project fetched
	projSum string
}

// NewHandler returns a handler that reports through rep.
func NewHandler(cfg Config, rep Reporter) *Handler {
	if cfg.Checker == nil {
		cfg.Checker = Lint{}
	}
	if cfg.WorkRoot == "" {
		cfg.WorkRoot = os.TempDir()
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.FlushBytes <= 0 {
		cfg.FlushBytes = DefaultFlushBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Handler{cfg: cfg, rep: rep, log: cfg.Logger.With("component", "verifier")}
}

// ProcessTask verifies one submission.
func (h *Handler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := queue.Decode[queue.SubmissionVerifyPayload](t)
	if err != nil {
		return err
	}
	log := h.log.With("submission_id", p.SubmissionID)
	var start client.GolfStartResponse
	if err := h.call(ctx, http.MethodPost, client.GolfSubmissionPath(p.SubmissionID, client.GolfStart), struct{}{}, &start); err != nil {
		return classify(err)
	}
	if !start.Started {
		log.Info("submission already has its verdict; nothing to do", "status", start.Status)
		return nil
	}
	log = log.With("attempt", start.Attempt, "challenge", start.Challenge)
	err = h.verify(ctx, start, log)
	if err == nil {
		return nil
	}
	// On the last delivery an error would leave the submission verifying
	// for ever: it fails instead, saying why.
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if ctx.Err() == nil && retried >= maxRetry && !errors.Is(err, errSuperseded) {
		h.finish(ctx, start, client.GolfVerdict{Status: "failed", Reason: "verification could not complete: " + err.Error(), ExitCode: -1}, log)
	}
	if errors.Is(err, errSuperseded) {
		log.Warn("another verifier took over this submission; this attempt stops")
		return nil
	}
	return classify(err)
}

var errSuperseded = errors.New("verifier: attempt superseded")

func (h *Handler) verify(ctx context.Context, start client.GolfStartResponse, log *slog.Logger) error {
	work, err := os.MkdirTemp(h.cfg.WorkRoot, "proofgrid-golf-")
	if err != nil {
		return fmt.Errorf("verifier: scratch directory: %w", err)
	}
	defer os.RemoveAll(work)
	job, err := h.layout(ctx, start, work)
	if err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream := newLogStream(h.rep, start.SubmissionID, start.Attempt, h.cfg.FlushInterval, h.cfg.FlushBytes, cancel)
	fmt.Fprintf(stream, "verifying %d file(s) for %s: claimed %d allocations + %d constraints = %d\n",
		countFiles(job.SubmissionDir), start.Challenge, start.Allocations, start.Constraints, start.Allocations+start.Constraints)
	if h.cfg.OnStart != nil {
		h.cfg.OnStart(start.SubmissionID)
	}
	began := time.Now()
	verdict, err := h.cfg.Checker.Check(runCtx, job, stream)
	took := time.Since(began)
	if superseded := stream.Close(10 * time.Second); superseded {
		return errSuperseded
	}
	if err != nil {
		if ctx.Err() != nil {
			log.Info("verification interrupted; the task goes back to the queue", "error", err)
		}
		return fmt.Errorf("verifier: checker: %w", err)
	}
	status := "failed"
	if verdict.OK {
		status = "verified"
	}
	return h.finish(ctx, start, client.GolfVerdict{
		Attempt: start.Attempt, Status: status, Reason: verdict.Reason, ExitCode: verdict.ExitCode, DurationMS: took.Milliseconds(),
	}, log)
}

// layout fetches the project and the files and writes them under work:
// project/challenges (with the files in place of the solution template)
// and submission/.
func (h *Handler) layout(ctx context.Context, start client.GolfStartResponse, work string) (Job, error) {
	tgz, err := h.projectTarball(ctx, start.ProjectSHA256)
	if err != nil {
		return Job{}, err
	}
	projectRoot := filepath.Join(work, "project")
	if err := os.Mkdir(projectRoot, 0o755); err != nil {
		return Job{}, err
	}
	if err := golf.Untar(bytes.NewReader(tgz), projectRoot, maxProjectBytes); err != nil {
		return Job{}, err
	}
	challengeDir := filepath.Join(projectRoot, golf.ProjectPrefix)
	var files client.GolfFilesResponse
	if err := h.call(ctx, http.MethodGet, client.GolfSubmissionPath(start.SubmissionID, client.GolfFiles), nil, &files); err != nil {
		return Job{}, err
	}
	subDir := filepath.Join(work, "submission")
	solDir := filepath.Join(challengeDir, filepath.FromSlash(start.SolutionDir))
	if start.SolutionDir == "" || !filepath.IsLocal(filepath.FromSlash(start.SolutionDir)) {
		return Job{}, proofgrid.Errorf(proofgrid.EINVALID, "solution directory %q is not inside the project", start.SolutionDir)
	}
	// The template's files give way to the submission's.
	if err := os.RemoveAll(solDir); err != nil {
		return Job{}, err
	}
	for _, d := range []string{subDir, solDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return Job{}, err
		}
	}
	for _, f := range files.Files {
		if err := golf.CheckFileName(f.Name); err != nil {
			return Job{}, err
		}
		sum := sha256.Sum256(f.Content)
		if hex.EncodeToString(sum[:]) != f.SHA256 {
			return Job{}, fmt.Errorf("verifier: file %s arrived damaged", f.Name)
		}
		for _, d := range []string{subDir, solDir} {
			if err := os.WriteFile(filepath.Join(d, f.Name), f.Content, 0o644); err != nil {
				return Job{}, err
			}
		}
	}
	cfgPath := ""
	if start.ConfigPath != "" {
		cfgPath = filepath.Join(challengeDir, filepath.FromSlash(start.ConfigPath))
	}
	return Job{
		SubmissionID: start.SubmissionID, Challenge: start.Challenge, Instance: start.Instance, Workdir: work,
		ChallengeDir: challengeDir, SubmissionDir: subDir, SolutionDir: solDir, ConfigPath: cfgPath,
		PermittedAxioms: start.PermittedAxioms, Allocations: start.Allocations, Constraints: start.Constraints,
		MaxFileBytes: start.MaxFileBytes,
	}, nil
}

// projectTarball returns the project with SHA-256 sum, fetched once per
// import and kept in memory.
func (h *Handler) projectTarball(ctx context.Context, sum string) ([]byte, error) {
	h.mu.Lock()
	if h.projSum == sum && h.project != nil {
		defer h.mu.Unlock()
		return h.project, nil
	}
	h.mu.Unlock()
	var p client.GolfProject
	if err := h.call(ctx, http.MethodGet, client.PathGolfProject, nil, &p); err != nil {
		return nil, err
	}
	got := sha256.Sum256(p.Tarball)
	if hex.EncodeToString(got[:]) != p.SHA256 {
		return nil, errors.New("verifier: challenge project arrived damaged")
	}
	h.mu.Lock()
	h.project, h.projSum = p.Tarball, p.SHA256
	h.mu.Unlock()
	return p.Tarball, nil
}

// finish reports the verdict, trying again on temporary failures so that
// a finished check is not thrown away for a blip.
func (h *Handler) finish(ctx context.Context, start client.GolfStartResponse, v client.GolfVerdict, log *slog.Logger) error {
	v.Attempt = start.Attempt
	var resp client.GolfVerdictResponse
	err := h.call(context.WithoutCancel(ctx), http.MethodPost, client.GolfSubmissionPath(start.SubmissionID, client.GolfFinish), v, &resp)
	if proofgrid.ErrorCode(err) == proofgrid.ECONFLICT {
		return errSuperseded
	} else if err != nil {
		return err
	}
	log.Info("submission checked", "status", resp.Status, "reason", v.Reason, "duration_ms", v.DurationMS)
	return nil
}

// call sends one signed request, trying again for about half a minute on
// temporary failures.
func (h *Handler) call(ctx context.Context, method, path string, in, out any) error {
	wait := 500 * time.Millisecond
	var err error
	for attempt := 1; ; attempt++ {
		err = h.rep.DoSigned(ctx, method, path, in, out)
		if err == nil || !client.Temporary(err) || attempt >= 6 {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func countFiles(dir string) int {
	es, _ := os.ReadDir(dir)
	return len(es)
}

// classify applies the retry rule of every task (queue.Classify).
func classify(err error) error {
	if err == nil {
		return nil
	}
	return queue.Classify(fmt.Errorf("verifier: %w", err))
}
