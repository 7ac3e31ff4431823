// Package contest runs zkGolf on the coordinator: it imports the challenge
// project, issues contestants' cmp_ tokens, takes submissions (checking
// the rules of package golf and the queue caps), answers the public reads
// (challenges, leaderboards, state, submissions, diffs, downloads) and
// records what verifier agents report: the start of an attempt, the
// checker's output as it comes, and the verdict.
//
// Submissions are verified one at a time per verifier, in submission
// order: the submission row and its submission:verify task are written in
// one transaction (the outbox), and the verifiers' queue hands tasks out
// oldest first.
package contest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/golf"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
)

// Defaults of Config.
const (
	DefaultMaxQueued        = 100
	DefaultMaxActivePerUser = 3
	DefaultMaxLogBytes      = 1 << 20
	// MaxLogChunkBytes caps one log append from a verifier.
	MaxLogChunkBytes = 256 << 10
	// MaxLogPageBytes caps the text of one log read.
	MaxLogPageBytes = 256 << 10
	// maxProjectBytes caps the files of an imported challenge project.
	maxProjectBytes = 64 << 20
	maxReasonBytes  = 1000
)

// Notifier wakes the outbox relay after a commit that wrote tasks.
type Notifier interface{ Notify() }

// Config configures a Service. Zero values mean the defaults.
type Config struct {
	DB *storage.DB
	// Outbox, when set, is woken after each submission so that its task
	// reaches the queue at once instead of at the relay's next poll.
	Outbox Notifier
	// Limits bound each submission (golf.Limits' defaults).
	Limits golf.Limits
	// MaxQueued caps the submissions pending or verifying in all;
	// beyond it a submission is refused with 429 (default 100).
	MaxQueued int
	// MaxActivePerUser caps one contestant's submissions pending or
	// verifying (default 3).
	MaxActivePerUser int
	// MaxLogBytes caps each stored verification log (default 1 MiB).
	MaxLogBytes int64
	Now         func() time.Time
	// NewID makes submission ids (default random UUIDs).
	NewID  func() string
	Logger *slog.Logger
}

// Service is zkGolf's domain service.
type Service struct {
	cfg Config
	db  *storage.DB
	log *slog.Logger
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil {
		return nil, errors.New("contest: DB is required")
	}
	cfg.Limits = cfg.Limits.Resolve()
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.MaxActivePerUser <= 0 {
		cfg.MaxActivePerUser = DefaultMaxActivePerUser
	}
	if cfg.MaxLogBytes <= 0 {
		cfg.MaxLogBytes = DefaultMaxLogBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = uuid.NewString
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cfg: cfg, db: cfg.DB, log: cfg.Logger}, nil
}

// Limits returns the submission limits in force.
func (s *Service) Limits() golf.Limits { return s.cfg.Limits }

// ImportResult is what Import stored.
type ImportResult struct {
	Challenges []golf.Challenge
	Project    storage.GolfProject
}

// Import loads the challenge project in dir (instances.yml, the
// comparator configs, every file) and makes it the served one: the
// registry replaces the previous one and the project's tarball becomes
// /challenges.tar.gz.
func (s *Service) Import(ctx context.Context, dir string) (ImportResult, error) {
	cs, err := golf.LoadRegistry(dir)
	if err != nil {
		return ImportResult{}, err
	}
	files, err := golf.ReadDirFiles(dir, maxProjectBytes)
	if err != nil {
		return ImportResult{}, err
	}
	tgz, err := golf.TarGz(golf.ProjectPrefix, files)
	if err != nil {
		return ImportResult{}, err
	}
	rows := make([]storage.GolfChallenge, 0, len(cs))
	for _, c := range cs {
		doc, err := json.Marshal(c)
		if err != nil {
			return ImportResult{}, err
		}
		rows = append(rows, storage.GolfChallenge{Slug: c.Slug, BaselineScore: c.Baseline.Score(), Doc: doc})
	}
	p, err := s.db.ImportGolfChallenges(ctx, rows, tgz)
	if err != nil {
		return ImportResult{}, err
	}
	s.log.Info("zkgolf challenges imported", "challenges", len(cs), "project_sha256", p.SHA256, "size_bytes", p.SizeBytes)
	return ImportResult{Challenges: cs, Project: p}, nil
}

var userName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// CreateToken issues a cmp_ token for user (created when new) and returns
// it in plain, once; only its hash is kept.
func (s *Service) CreateToken(ctx context.Context, user, label string) (string, storage.GolfToken, error) {
	if !userName.MatchString(user) {
		return "", storage.GolfToken{}, proofgrid.Errorf(proofgrid.EINVALID, "user must be 1..64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if err := golf.CheckText("label", label, 200); err != nil {
		return "", storage.GolfToken{}, err
	}
	u, err := s.db.EnsureGolfUser(ctx, user)
	if err != nil {
		return "", storage.GolfToken{}, err
	}
	plain, hash, err := auth.NewToken(auth.PrefixZKGolf)
	if err != nil {
		return "", storage.GolfToken{}, err
	}
	t, err := s.db.CreateGolfToken(ctx, storage.GolfToken{UserID: u.ID, Label: label, Prefix: auth.DisplayPrefix(plain), Hash: hash})
	if err != nil {
		return "", storage.GolfToken{}, err
	}
	return plain, t, nil
}

// Authenticate returns the live token plain stands for, with its user;
// anything else is EUNAUTHORIZED.
func (s *Service) Authenticate(ctx context.Context, plain string) (storage.GolfToken, error) {
	if !strings.HasPrefix(plain, auth.PrefixZKGolf) {
		return storage.GolfToken{}, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "send a zkGolf token (cmp_...) as 'Authorization: Bearer <token>'")
	}
	hash := auth.HashToken(plain)
	t, err := s.db.GolfTokenByHash(ctx, hash)
	if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND || (err == nil && !auth.SameHash(t.Hash, hash)) {
		return storage.GolfToken{}, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "unknown or revoked token")
	} else if err != nil {
		return storage.GolfToken{}, err
	}
	return t, nil
}

// Challenge is a challenge as the API shows it.
type Challenge struct {
	golf.Challenge
	BaselineScore int64 `json:"baseline_score"`
	Active        bool  `json:"active"`
}

func decodeChallenge(r storage.GolfChallenge) (Challenge, error) {
	var c golf.Challenge
	if err := json.Unmarshal(r.Doc, &c); err != nil {
		return Challenge{}, fmt.Errorf("contest: challenge %s: %w", r.Slug, err)
	}
	return Challenge{Challenge: c, BaselineScore: r.BaselineScore, Active: r.Active}, nil
}

// Challenges returns the active challenges in registry order.
func (s *Service) Challenges(ctx context.Context) ([]Challenge, error) {
	rows, err := s.db.GolfChallenges(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Challenge, 0, len(rows))
	for _, r := range rows {
		c, err := decodeChallenge(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Challenge returns challenge slug (also when no longer active), or
// ENOTFOUND.
func (s *Service) Challenge(ctx context.Context, slug string) (Challenge, error) {
	if !golf.ValidSlug(slug) {
		return Challenge{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "challenge %q not found", slug)
	}
	r, err := s.db.GolfChallenge(ctx, slug)
	if err != nil {
		return Challenge{}, err
	}
	return decodeChallenge(r)
}

// Project returns the served challenge project, tarball included.
func (s *Service) Project(ctx context.Context) (storage.GolfProject, error) {
	return s.db.LatestGolfProject(ctx, true)
}

// SubmitRequest is one submission as received.
type SubmitRequest struct {
	Challenge   string
	UserID      int64
	Cost        golf.Cost
	AssistedBy  string
	Description string
	Files       []golf.File
}

// Submit checks r against the rules and the queue caps and stores it as a
// pending submission with its verification task. A full queue, or a
// contestant with MaxActivePerUser submissions pending or verifying, is
// ERATELIMIT.
func (s *Service) Submit(ctx context.Context, r SubmitRequest) (Submission, error) {
	ch, err := s.Challenge(ctx, r.Challenge)
	if err != nil {
		return Submission{}, err
	}
	if !ch.Active {
		return Submission{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "challenge %q is closed", r.Challenge)
	}
	if err := golf.CheckFiles(r.Files, s.cfg.Limits); err != nil {
		return Submission{}, err
	}
	if err := golf.CheckText("description", r.Description, s.cfg.Limits.MaxDescriptionBytes); err != nil {
		return Submission{}, err
	}
	if err := golf.CheckText("assisted_by", r.AssistedBy, s.cfg.Limits.MaxAssistedByBytes); err != nil {
		return Submission{}, err
	}
	if r.Cost.Allocations < 0 || r.Cost.Constraints < 0 {
		return Submission{}, proofgrid.Errorf(proofgrid.EINVALID, "allocations and constraints must not be negative")
	}
	sub := storage.GolfSubmission{
		ID: s.cfg.NewID(), ChallengeSlug: ch.Slug, UserID: r.UserID, Allocations: r.Cost.Allocations,
		Constraints: r.Cost.Constraints, AssistedBy: strings.TrimSpace(r.AssistedBy), Description: r.Description,
		CreatedAt: s.cfg.Now(),
	}
	files := make([]storage.GolfFile, 0, len(r.Files))
	for _, f := range r.Files {
		files = append(files, storage.GolfFile{Name: f.Name, Content: f.Data})
	}
	err = s.db.InTx(ctx, func(tx *storage.Tx) error {
		if err := tx.LockGolfIntake(ctx); err != nil {
			return err
		}
		total, mine, err := tx.GolfActiveCounts(ctx, r.UserID)
		if err != nil {
			return err
		}
		if total >= int64(s.cfg.MaxQueued) {
			return proofgrid.Errorf(proofgrid.ERATELIMIT, "the verification queue is full (%d submissions pending or verifying); try again later", total)
		}
		if mine >= int64(s.cfg.MaxActivePerUser) {
			return proofgrid.Errorf(proofgrid.ERATELIMIT, "you have %d submissions pending or verifying (at most %d); submit again once one has its verdict", mine, s.cfg.MaxActivePerUser)
		}
		if err := tx.CreateGolfSubmission(ctx, sub, files); err != nil {
			return err
		}
		return tx.Enqueue(ctx, queue.SubmissionVerify(queue.SubmissionVerifyPayload{SubmissionID: sub.ID}))
	})
	if err != nil {
		return Submission{}, err
	}
	if s.cfg.Outbox != nil {
		s.cfg.Outbox.Notify()
	}
	s.log.Info("zkgolf submission received", "submission_id", sub.ID, "challenge", ch.Slug, "user_id", r.UserID, "files", len(files))
	return s.Submission(ctx, sub.ID)
}

// Submission is a submission as anyone may see it.
type Submission struct {
	ID          string    `json:"id"`
	Challenge   string    `json:"challenge"`
	User        string    `json:"user"`
	Status      string    `json:"status"`
	Score       *int64    `json:"score"`
	ClaimedCost golf.Cost `json:"claimed_cost"`
	AssistedBy  string    `json:"assisted_by"`
	Description string    `json:"description"`
	SizeBytes   int64     `json:"size_bytes"`
	// QueuePosition is 1 for the next to verify, 0 while verifying, and
	// null once verified or failed.
	QueuePosition *int64     `json:"queue_position"`
	Attempts      int64      `json:"attempts"`
	SubmittedAt   time.Time  `json:"submitted_at"`
	StartedAt     *time.Time `json:"started_at"`
	FinishedAt    *time.Time `json:"finished_at"`

	userID int64
}

func (s *Service) view(ctx context.Context, r storage.GolfSubmission) (Submission, error) {
	v := Submission{
		ID: r.ID, Challenge: r.ChallengeSlug, User: r.UserName, Status: r.Status, Score: r.Score,
		ClaimedCost: golf.Cost{Allocations: r.Allocations, Constraints: r.Constraints}, AssistedBy: r.AssistedBy,
		Description: r.Description, SizeBytes: r.SizeBytes, Attempts: r.Attempt, SubmittedAt: r.CreatedAt,
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, userID: r.UserID,
	}
	switch r.Status {
	case storage.GolfVerifying:
		var zero int64
		v.QueuePosition = &zero
	case storage.GolfPending:
		ahead, err := s.db.GolfQueueAhead(ctx, r)
		if err != nil {
			return Submission{}, err
		}
		pos := ahead + 1
		v.QueuePosition = &pos
	}
	return v, nil
}

// Submission returns submission id, or ENOTFOUND.
func (s *Service) Submission(ctx context.Context, id string) (Submission, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Submission{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "submission %q not found", id)
	}
	r, err := s.db.GolfSubmission(ctx, id)
	if err != nil {
		return Submission{}, err
	}
	return s.view(ctx, r)
}

// Mine returns up to limit of user userID's submissions, newest first,
// of one challenge when slug is set.
func (s *Service) Mine(ctx context.Context, userID int64, slug string, limit int) ([]Submission, error) {
	rows, err := s.db.GolfSubmissionsByUser(ctx, userID, slug, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Submission, 0, len(rows))
	for _, r := range rows {
		v, err := s.view(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// LogPage is one read of a verification log.
type LogPage struct {
	Text       string `json:"text"`
	NextOffset int64  `json:"next_offset"`
	// Truncated is set once the log reached its cap: later checker output
	// was dropped (the verdict line is always kept).
	Truncated bool   `json:"truncated"`
	Status    string `json:"status"`
}

// Log returns the log of submission id from byte offset since, for its
// owner only (EFORBIDDEN for anyone else).
func (s *Service) Log(ctx context.Context, id string, userID, since int64) (LogPage, error) {
	sub, err := s.Submission(ctx, id)
	if err != nil {
		return LogPage{}, err
	}
	if sub.userID != userID {
		return LogPage{}, proofgrid.Errorf(proofgrid.EFORBIDDEN, "only the submitter may read a submission's log")
	}
	if since < 0 {
		return LogPage{}, proofgrid.Errorf(proofgrid.EINVALID, "since must be a byte offset, 0 or more")
	}
	r, err := s.db.GolfSubmission(ctx, id)
	if err != nil {
		return LogPage{}, err
	}
	since = min(since, r.LogSize)
	text, next, err := s.db.GolfLog(ctx, id, since, MaxLogPageBytes)
	if err != nil {
		return LogPage{}, err
	}
	return LogPage{Text: text, NextOffset: next, Truncated: r.LogTruncated, Status: r.Status}, nil
}

// Record is one row of a leaderboard: a verified submission that beat
// every verified submission made before it.
type Record struct {
	SubmissionID string    `json:"submission_id"`
	User         string    `json:"user"`
	Score        int64     `json:"score"`
	Cost         golf.Cost `json:"cost"`
	AssistedBy   string    `json:"assisted_by"`
	// Improvement is how much lower the score is than the record before
	// it, or than the baseline for the first record (negative when the
	// first record is above the baseline).
	Improvement int64      `json:"improvement"`
	SubmittedAt time.Time  `json:"submitted_at"`
	VerifiedAt  *time.Time `json:"verified_at"`
}

// frontier returns a challenge's records, oldest first.
func (s *Service) frontier(ctx context.Context, ch Challenge) ([]Record, []storage.GolfSubmission, error) {
	verified, err := s.db.GolfVerified(ctx, ch.Slug)
	if err != nil {
		return nil, nil, err
	}
	var out []Record
	best, prev := int64(math.MaxInt64), ch.BaselineScore
	for _, v := range verified {
		if v.Score == nil || *v.Score >= best {
			continue
		}
		best = *v.Score
		out = append(out, Record{
			SubmissionID: v.ID, User: v.UserName, Score: best, Cost: golf.Cost{Allocations: v.Allocations, Constraints: v.Constraints},
			AssistedBy: v.AssistedBy, Improvement: prev - best, SubmittedAt: v.CreatedAt, VerifiedAt: v.FinishedAt,
		})
		prev = best
	}
	return out, verified, nil
}

// Leaderboard returns up to limit records of challenge slug, the current
// one first.
func (s *Service) Leaderboard(ctx context.Context, slug string, limit int) ([]Record, error) {
	ch, err := s.Challenge(ctx, slug)
	if err != nil {
		return nil, err
	}
	recs, _, err := s.frontier(ctx, ch)
	if err != nil {
		return nil, err
	}
	out := make([]Record, 0, min(limit, len(recs)))
	for i := len(recs) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, recs[i])
	}
	return out, nil
}

// State is where a challenge stands.
type State struct {
	Challenge     string `json:"challenge"`
	BaselineScore int64  `json:"baseline_score"`
	// LeadingScore is the record, null before the first verified
	// submission.
	LeadingScore *int64  `json:"leading_score"`
	RecordSetter *Record `json:"record_setter"`
	Records      int     `json:"records"`
	// Solvers have a verified submission; Submitters any submission.
	Solvers     int64            `json:"solvers"`
	Submitters  int64            `json:"submitters"`
	Submissions map[string]int64 `json:"submissions"`
}

// State returns the state of challenge slug.
func (s *Service) State(ctx context.Context, slug string) (State, error) {
	ch, err := s.Challenge(ctx, slug)
	if err != nil {
		return State{}, err
	}
	recs, _, err := s.frontier(ctx, ch)
	if err != nil {
		return State{}, err
	}
	st, err := s.db.GolfStats(ctx, slug)
	if err != nil {
		return State{}, err
	}
	out := State{Challenge: slug, BaselineScore: ch.BaselineScore, Records: len(recs), Solvers: st.Solvers,
		Submitters: st.Submitters, Submissions: st.ByStatus}
	if len(recs) > 0 {
		r := recs[len(recs)-1]
		out.LeadingScore, out.RecordSetter = &r.Score, &r
	}
	return out, nil
}

// Diff is the unified diff between two verified submissions.
type Diff struct {
	SubmissionID string `json:"submission_id"`
	BaseID       string `json:"base_id"`
	Diff         string `json:"diff"`
}

// Diff returns the diff from base to submission id, both verified and of
// the same challenge. An empty baseID means the record that stood when id
// was submitted; none is ENOTFOUND.
func (s *Service) Diff(ctx context.Context, id, baseID string) (Diff, error) {
	target, err := s.verified(ctx, id)
	if err != nil {
		return Diff{}, err
	}
	if baseID == "" {
		ch, err := s.Challenge(ctx, target.Challenge)
		if err != nil {
			return Diff{}, err
		}
		recs, _, err := s.frontier(ctx, ch)
		if err != nil {
			return Diff{}, err
		}
		for _, r := range recs {
			if r.SubmittedAt.Before(target.SubmittedAt) || (r.SubmittedAt.Equal(target.SubmittedAt) && r.SubmissionID < id) {
				baseID = r.SubmissionID
			}
		}
		if baseID == "" {
			return Diff{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "no record was set before submission %s; pass base=<submission id>", id)
		}
	}
	base, err := s.verified(ctx, baseID)
	if err != nil {
		return Diff{}, err
	}
	if base.Challenge != target.Challenge {
		return Diff{}, proofgrid.Errorf(proofgrid.EINVALID, "submissions %s and %s are of different challenges", baseID, id)
	}
	bf, err := s.files(ctx, baseID)
	if err != nil {
		return Diff{}, err
	}
	tf, err := s.files(ctx, id)
	if err != nil {
		return Diff{}, err
	}
	return Diff{SubmissionID: id, BaseID: baseID, Diff: golf.DiffFiles(bf, tf)}, nil
}

// verified returns submission id when it is verified, and ENOTFOUND
// otherwise: unverified code is not public.
func (s *Service) verified(ctx context.Context, id string) (Submission, error) {
	sub, err := s.Submission(ctx, id)
	if err != nil {
		return Submission{}, err
	}
	if sub.Status != storage.GolfVerified {
		return Submission{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "submission %s is %s; only verified submissions are public", id, sub.Status)
	}
	return sub, nil
}

func (s *Service) files(ctx context.Context, id string) ([]golf.File, error) {
	rows, err := s.db.GolfSubmissionFiles(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]golf.File, 0, len(rows))
	for _, r := range rows {
		out = append(out, golf.File{Name: r.Name, Data: r.Content})
	}
	return out, nil
}

// Download returns a verified submission's files as a tar.gz and the file
// name to offer; anything not verified is ENOTFOUND.
func (s *Service) Download(ctx context.Context, id string) (string, []byte, error) {
	sub, err := s.verified(ctx, id)
	if err != nil {
		return "", nil, err
	}
	files, err := s.files(ctx, id)
	if err != nil {
		return "", nil, err
	}
	dir := sub.Challenge + "-" + sub.ID
	tgz, err := golf.TarGz(dir, files)
	if err != nil {
		return "", nil, err
	}
	return dir + ".tar.gz", tgz, nil
}

// Verifier side.

func checkVerifier(m proofgrid.Machine) error {
	if m.Role != proofgrid.RoleVerifier {
		return proofgrid.Errorf(proofgrid.EFORBIDDEN, "only verifier machines verify zkGolf submissions; this one is a %s", m.Role)
	}
	return nil
}

// Start begins a verification attempt of submission id on verifier m.
func (s *Service) Start(ctx context.Context, id string, m proofgrid.Machine) (client.GolfStartResponse, error) {
	if err := checkVerifier(m); err != nil {
		return client.GolfStartResponse{}, err
	}
	if _, err := uuid.Parse(id); err != nil {
		return client.GolfStartResponse{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "submission %q not found", id)
	}
	now := s.cfg.Now().UTC()
	sub, started, err := s.db.StartGolfVerification(ctx, id, m.ID, func(attempt int64) string {
		return fmt.Sprintf("==> attempt %d: verifier %s started at %s\n", attempt, m.Name, now.Format(time.RFC3339))
	})
	if err != nil {
		return client.GolfStartResponse{}, err
	}
	resp := client.GolfStartResponse{Started: started, Status: sub.Status, SubmissionID: sub.ID, Attempt: sub.Attempt,
		Challenge: sub.ChallengeSlug, Allocations: sub.Allocations, Constraints: sub.Constraints, MaxFileBytes: s.cfg.Limits.MaxFileBytes}
	if !started {
		return resp, nil
	}
	ch, err := s.Challenge(ctx, sub.ChallengeSlug)
	if err != nil {
		return client.GolfStartResponse{}, err
	}
	p, err := s.db.LatestGolfProject(ctx, false)
	if err != nil {
		return client.GolfStartResponse{}, err
	}
	resp.Instance, resp.SolutionDir, resp.ConfigPath = ch.Instance, ch.SolutionDir(), ch.ConfigPath
	resp.PermittedAxioms, resp.ProjectSHA256 = ch.Config.PermittedAxioms, p.SHA256
	s.log.Info("zkgolf verification started", "submission_id", id, "attempt", sub.Attempt, "machine_id", m.ID)
	return resp, nil
}

// ownAttempt loads submission id and checks that verifier m runs its
// current attempt.
func (s *Service) ownAttempt(ctx context.Context, id string, m proofgrid.Machine) (storage.GolfSubmission, error) {
	if err := checkVerifier(m); err != nil {
		return storage.GolfSubmission{}, err
	}
	if _, err := uuid.Parse(id); err != nil {
		return storage.GolfSubmission{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "submission %q not found", id)
	}
	sub, err := s.db.GolfSubmission(ctx, id)
	if err != nil {
		return sub, err
	}
	if sub.VerifierID != m.ID {
		return sub, proofgrid.Errorf(proofgrid.ECONFLICT, "submission %s is being verified by another verifier", id)
	}
	return sub, nil
}

// Files returns the artifacts of submission id to the verifier running it.
func (s *Service) Files(ctx context.Context, id string, m proofgrid.Machine) ([]client.GolfFile, error) {
	if _, err := s.ownAttempt(ctx, id, m); err != nil {
		return nil, err
	}
	rows, err := s.db.GolfSubmissionFiles(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]client.GolfFile, 0, len(rows))
	for _, r := range rows {
		out = append(out, client.GolfFile{Name: r.Name, SHA256: r.SHA256, Content: r.Content})
	}
	return out, nil
}

// AppendLog stores a chunk of checker output from the verifier running
// submission id.
func (s *Service) AppendLog(ctx context.Context, id string, m proofgrid.Machine, c client.GolfLogChunk) (client.GolfLogAck, error) {
	if len(c.Text) > MaxLogChunkBytes {
		return client.GolfLogAck{}, proofgrid.Errorf(proofgrid.ETOOLARGE, "log chunk of %d bytes; send at most %d at once", len(c.Text), MaxLogChunkBytes)
	}
	if c.Offset < 0 {
		return client.GolfLogAck{}, proofgrid.Errorf(proofgrid.EINVALID, "offset must not be negative")
	}
	if _, err := s.ownAttempt(ctx, id, m); err != nil {
		return client.GolfLogAck{}, err
	}
	sub, err := s.db.AppendGolfLog(ctx, id, c.Attempt, c.Offset, c.Text, s.cfg.MaxLogBytes)
	if err != nil {
		return client.GolfLogAck{}, err
	}
	return client.GolfLogAck{LogSize: sub.LogSize, Truncated: sub.LogTruncated}, nil
}

// Finish records the verdict of the verifier running submission id.
func (s *Service) Finish(ctx context.Context, id string, m proofgrid.Machine, v client.GolfVerdict) (client.GolfVerdictResponse, error) {
	if v.Status != storage.GolfVerified && v.Status != storage.GolfFailed {
		return client.GolfVerdictResponse{}, proofgrid.Errorf(proofgrid.EINVALID, "status must be verified or failed, got %q", v.Status)
	}
	if err := golf.CheckText("reason", v.Reason, maxReasonBytes); err != nil {
		return client.GolfVerdictResponse{}, err
	}
	if _, err := s.ownAttempt(ctx, id, m); err != nil {
		return client.GolfVerdictResponse{}, err
	}
	trailer := fmt.Sprintf("==> %s (attempt %d, %s): %s\n", v.Status, v.Attempt,
		(time.Duration(v.DurationMS) * time.Millisecond).Round(time.Millisecond), v.Reason)
	sub, err := s.db.FinishGolfVerification(ctx, id, v.Attempt, v.Status, v.Reason, trailer)
	if err != nil {
		return client.GolfVerdictResponse{}, err
	}
	s.log.Info("zkgolf verification finished", "submission_id", id, "attempt", v.Attempt, "status", sub.Status, "machine_id", m.ID, "reason", v.Reason)
	return client.GolfVerdictResponse{Status: sub.Status, Score: sub.Score}, nil
}
