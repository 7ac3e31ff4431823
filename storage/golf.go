package storage

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/proofgrid/proofgrid"
)

// zkGolf submission states as stored (golf.Status* name the same).
const (
	GolfPending   = "pending"
	GolfVerifying = "verifying"
	GolfVerified  = "verified"
	GolfFailed    = "failed"
)

// GolfUser is a zkGolf contestant.
type GolfUser struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// GolfToken is a contestant's cmp_ token as stored: only its SHA-256.
type GolfToken struct {
	ID        int64      `json:"id"`
	UserID    int64      `json:"user_id"`
	UserName  string     `json:"user"`
	Label     string     `json:"label"`
	Prefix    string     `json:"prefix"`
	Hash      string     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// GolfChallenge is one imported challenge; Doc is its JSON (golf.Challenge).
type GolfChallenge struct {
	Slug          string
	Position      int
	Active        bool
	BaselineScore int64
	Doc           []byte
	UpdatedAt     time.Time
}

// GolfProject is one imported challenge project tarball.
type GolfProject struct {
	ID         int64
	SHA256     string
	SizeBytes  int64
	Tarball    []byte
	ImportedAt time.Time
}

// GolfSubmission is one submission without its files.
type GolfSubmission struct {
	ID            string
	ChallengeSlug string
	UserID        int64
	UserName      string
	Status        string
	Allocations   int64
	Constraints   int64
	// Score is set once verified: allocations + constraints.
	Score        *int64
	AssistedBy   string
	Description  string
	SizeBytes    int64
	Attempt      int64
	VerifierID   string
	Reason       string
	LogSize      int64
	LogTruncated bool
	CreatedAt    time.Time
	StartedAt    *time.Time
	FinishedAt   *time.Time
	// attemptOffset is how many log bytes the current attempt has sent.
	attemptOffset int64
}

// GolfFile is one file of a submission.
type GolfFile struct {
	Name      string
	SizeBytes int64
	SHA256    string
	Content   []byte
}

type golfSubmissionRow struct {
	ID            string        `db:"id"`
	ChallengeSlug string        `db:"challenge_slug"`
	UserID        int64         `db:"user_id"`
	UserName      string        `db:"user_name"`
	Status        string        `db:"status"`
	Allocations   int64         `db:"claimed_allocations"`
	Constraints   int64         `db:"claimed_constraints"`
	Score         sql.NullInt64 `db:"score"`
	AssistedBy    string        `db:"assisted_by"`
	Description   string        `db:"description"`
	SizeBytes     int64         `db:"size_bytes"`
	Attempt       int64         `db:"attempt"`
	AttemptOffset int64         `db:"attempt_offset"`
	VerifierID    string        `db:"verifier_id"`
	Reason        string        `db:"reason"`
	LogSize       int64         `db:"log_size"`
	LogTruncated  int64         `db:"log_truncated"`
	CreatedAt     dbTime        `db:"created_at"`
	StartedAt     dbTime        `db:"started_at"`
	FinishedAt    dbTime        `db:"finished_at"`
}

func (r golfSubmissionRow) submission() GolfSubmission {
	return GolfSubmission{
		ID: r.ID, ChallengeSlug: r.ChallengeSlug, UserID: r.UserID, UserName: r.UserName, Status: r.Status,
		Allocations: r.Allocations, Constraints: r.Constraints, Score: nullInt(r.Score), AssistedBy: r.AssistedBy,
		Description: r.Description, SizeBytes: r.SizeBytes, Attempt: r.Attempt, VerifierID: r.VerifierID, Reason: r.Reason,
		LogSize: r.LogSize, LogTruncated: r.LogTruncated != 0, CreatedAt: r.CreatedAt.Time, StartedAt: r.StartedAt.ptr(),
		FinishedAt: r.FinishedAt.ptr(), attemptOffset: r.AttemptOffset,
	}
}

const golfSubmissionSelect = `SELECT s.id, s.challenge_slug, s.user_id, u.name AS user_name, s.status, s.claimed_allocations,
	s.claimed_constraints, s.score, s.assisted_by, s.description, s.size_bytes, s.attempt, s.attempt_offset, s.verifier_id,
	s.reason, s.log_size, s.log_truncated, s.created_at, s.started_at, s.finished_at
	FROM golf_submissions s JOIN golf_users u ON u.id = s.user_id`

// EnsureGolfUser returns the user called name, creating it when new.
func (c *conn) EnsureGolfUser(ctx context.Context, name string) (GolfUser, error) {
	var u GolfUser
	err := c.inTx(ctx, func(tx *Tx) error {
		if _, err := execContext(ctx, tx.w,
			`INSERT INTO golf_users (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, tx.now()); err != nil {
			return err
		}
		var r struct {
			ID        int64  `db:"id"`
			Name      string `db:"name"`
			CreatedAt dbTime `db:"created_at"`
		}
		if err := getContext(ctx, tx.w, &r, `SELECT id, name, created_at FROM golf_users WHERE name = ?`, name); err != nil {
			return err
		}
		u = GolfUser{ID: r.ID, Name: r.Name, CreatedAt: r.CreatedAt.Time}
		return nil
	})
	if err != nil {
		return GolfUser{}, fmt.Errorf("storage: golf user: %w", err)
	}
	return u, nil
}

// CreateGolfToken stores t (UserID, Label, Prefix, Hash: a lower-case hex
// SHA-256). An unknown user is ENOTFOUND.
func (c *conn) CreateGolfToken(ctx context.Context, t GolfToken) (GolfToken, error) {
	if b, err := hex.DecodeString(t.Hash); err != nil || len(b) != 32 || t.Hash != strings.ToLower(t.Hash) {
		return GolfToken{}, proofgrid.Errorf(proofgrid.EINVALID, "token hash is not a lower-case hex SHA-256")
	}
	var id int64
	err := getContext(ctx, c.w, &id,
		`INSERT INTO golf_tokens (user_id, label, prefix, hash, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		t.UserID, t.Label, t.Prefix, t.Hash, c.now())
	switch {
	case isForeignKeyViolation(err):
		return GolfToken{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "user %d not found", t.UserID)
	case isUniqueViolation(err):
		return GolfToken{}, proofgrid.Errorf(proofgrid.ECONFLICT, "token already exists")
	case err != nil:
		return GolfToken{}, fmt.Errorf("storage: create golf token: %w", err)
	}
	return c.golfToken(ctx, c.w, `t.id = ?`, id)
}

// GolfTokenByHash returns the live token whose SHA-256 is hash, with its
// user's name; a revoked or unknown one is ENOTFOUND.
func (c *conn) GolfTokenByHash(ctx context.Context, hash string) (GolfToken, error) {
	return c.golfToken(ctx, c.r, `t.hash = ? AND t.revoked_at IS NULL`, hash)
}

func (c *conn) golfToken(ctx context.Context, h sqlx.ExtContext, where string, arg any) (GolfToken, error) {
	var r struct {
		ID        int64  `db:"id"`
		UserID    int64  `db:"user_id"`
		UserName  string `db:"user_name"`
		Label     string `db:"label"`
		Prefix    string `db:"prefix"`
		Hash      string `db:"hash"`
		CreatedAt dbTime `db:"created_at"`
		RevokedAt dbTime `db:"revoked_at"`
	}
	err := getContext(ctx, h, &r, `SELECT t.id, t.user_id, u.name AS user_name, t.label, t.prefix, t.hash, t.created_at, t.revoked_at
		FROM golf_tokens t JOIN golf_users u ON u.id = t.user_id WHERE `+where, arg)
	if errors.Is(err, sql.ErrNoRows) {
		return GolfToken{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "token not found")
	} else if err != nil {
		return GolfToken{}, fmt.Errorf("storage: golf token: %w", err)
	}
	return GolfToken{ID: r.ID, UserID: r.UserID, UserName: r.UserName, Label: r.Label, Prefix: r.Prefix, Hash: r.Hash,
		CreatedAt: r.CreatedAt.Time, RevokedAt: r.RevokedAt.ptr()}, nil
}

// ImportGolfChallenges replaces the challenge registry with cs (in their
// order) and stores the project tarball, in one transaction. Challenges
// not in cs become inactive; their submissions stay.
func (c *conn) ImportGolfChallenges(ctx context.Context, cs []GolfChallenge, tarball []byte) (GolfProject, error) {
	var p GolfProject
	err := c.inTx(ctx, func(tx *Tx) error {
		now := tx.now()
		if _, err := execContext(ctx, tx.w, `UPDATE golf_challenges SET active = 0, updated_at = ?`, now); err != nil {
			return err
		}
		for i, ch := range cs {
			if _, err := execContext(ctx, tx.w,
				`INSERT INTO golf_challenges (slug, position, active, baseline_score, doc, updated_at) VALUES (?, ?, 1, ?, ?, ?)
				 ON CONFLICT (slug) DO UPDATE SET position = excluded.position, active = 1,
				   baseline_score = excluded.baseline_score, doc = excluded.doc, updated_at = excluded.updated_at`,
				ch.Slug, i, ch.BaselineScore, string(ch.Doc), now); err != nil {
				return err
			}
		}
		sum := sha256.Sum256(tarball)
		p = GolfProject{SHA256: hex.EncodeToString(sum[:]), SizeBytes: int64(len(tarball)), Tarball: tarball, ImportedAt: now.UTC().Truncate(time.Microsecond)}
		return getContext(ctx, tx.w, &p.ID,
			`INSERT INTO golf_projects (sha256, size_bytes, tarball, imported_at) VALUES (?, ?, ?, ?) RETURNING id`,
			p.SHA256, p.SizeBytes, tarball, now)
	})
	if err != nil {
		return GolfProject{}, fmt.Errorf("storage: import golf challenges: %w", err)
	}
	return p, nil
}

type golfChallengeRow struct {
	Slug          string `db:"slug"`
	Position      int    `db:"position"`
	Active        int64  `db:"active"`
	BaselineScore int64  `db:"baseline_score"`
	Doc           string `db:"doc"`
	UpdatedAt     dbTime `db:"updated_at"`
}

func (r golfChallengeRow) challenge() GolfChallenge {
	return GolfChallenge{Slug: r.Slug, Position: r.Position, Active: r.Active != 0, BaselineScore: r.BaselineScore, Doc: []byte(r.Doc), UpdatedAt: r.UpdatedAt.Time}
}

// GolfChallenges returns the active challenges in registry order.
func (c *conn) GolfChallenges(ctx context.Context) ([]GolfChallenge, error) {
	var rows []golfChallengeRow
	if err := selectContext(ctx, c.r, &rows,
		`SELECT slug, position, active, baseline_score, doc, updated_at FROM golf_challenges WHERE active = 1 ORDER BY position, slug`); err != nil {
		return nil, fmt.Errorf("storage: golf challenges: %w", err)
	}
	out := make([]GolfChallenge, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.challenge())
	}
	return out, nil
}

// GolfChallenge returns challenge slug, active or not, or ENOTFOUND.
func (c *conn) GolfChallenge(ctx context.Context, slug string) (GolfChallenge, error) {
	var r golfChallengeRow
	err := getContext(ctx, c.r, &r, `SELECT slug, position, active, baseline_score, doc, updated_at FROM golf_challenges WHERE slug = ?`, slug)
	if errors.Is(err, sql.ErrNoRows) {
		return GolfChallenge{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "challenge %q not found", slug)
	} else if err != nil {
		return GolfChallenge{}, fmt.Errorf("storage: golf challenge: %w", err)
	}
	return r.challenge(), nil
}

// LatestGolfProject returns the newest imported project, or ENOTFOUND.
// withTarball false leaves Tarball nil.
func (c *conn) LatestGolfProject(ctx context.Context, withTarball bool) (GolfProject, error) {
	var r struct {
		ID         int64  `db:"id"`
		SHA256     string `db:"sha256"`
		SizeBytes  int64  `db:"size_bytes"`
		Tarball    []byte `db:"tarball"`
		ImportedAt dbTime `db:"imported_at"`
	}
	cols := `id, sha256, size_bytes, imported_at`
	if withTarball {
		cols += `, tarball`
	}
	err := getContext(ctx, c.r, &r, `SELECT `+cols+` FROM golf_projects ORDER BY id DESC LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return GolfProject{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "no challenge project has been imported")
	} else if err != nil {
		return GolfProject{}, fmt.Errorf("storage: golf project: %w", err)
	}
	return GolfProject{ID: r.ID, SHA256: r.SHA256, SizeBytes: r.SizeBytes, Tarball: r.Tarball, ImportedAt: r.ImportedAt.Time}, nil
}

// LockGolfIntake serialises submission intake until the transaction ends,
// so that the queue caps counted inside it hold.
func (t *Tx) LockGolfIntake(ctx context.Context) error {
	if _, err := execContext(ctx, t.w, `UPDATE golf_intake SET n = n + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("storage: lock golf intake: %w", err)
	}
	return nil
}

// GolfActiveCounts returns how many submissions are pending or verifying,
// in all and of user userID.
func (c *conn) GolfActiveCounts(ctx context.Context, userID int64) (total, user int64, _ error) {
	var r struct {
		Total int64 `db:"total"`
		User  int64 `db:"mine"`
	}
	err := getContext(ctx, c.r, &r,
		`SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN user_id = ? THEN 1 ELSE 0 END), 0) AS mine
		 FROM golf_submissions WHERE status IN ('pending', 'verifying')`, userID)
	if err != nil {
		return 0, 0, fmt.Errorf("storage: golf active counts: %w", err)
	}
	return r.Total, r.User, nil
}

// CreateGolfSubmission stores a pending submission and its files. The
// challenge must be active (else ENOTFOUND).
func (c *conn) CreateGolfSubmission(ctx context.Context, s GolfSubmission, files []GolfFile) error {
	return c.inTx(ctx, func(tx *Tx) error {
		ok, err := exists(ctx, tx.w, `SELECT 1 FROM golf_challenges WHERE slug = ? AND active = 1`, s.ChallengeSlug)
		if err != nil {
			return fmt.Errorf("storage: golf submission: %w", err)
		} else if !ok {
			return proofgrid.Errorf(proofgrid.ENOTFOUND, "challenge %q not found", s.ChallengeSlug)
		}
		var size int64
		for _, f := range files {
			size += int64(len(f.Content))
		}
		if _, err := execContext(ctx, tx.w,
			`INSERT INTO golf_submissions (id, challenge_slug, user_id, status, claimed_allocations, claimed_constraints,
			   assisted_by, description, size_bytes, created_at) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)`,
			s.ID, s.ChallengeSlug, s.UserID, s.Allocations, s.Constraints, s.AssistedBy, s.Description, size, s.CreatedAt); err != nil {
			if isUniqueViolation(err) {
				return proofgrid.Errorf(proofgrid.ECONFLICT, "submission %s exists", s.ID)
			}
			return fmt.Errorf("storage: insert golf submission: %w", err)
		}
		for _, f := range files {
			sum := sha256.Sum256(f.Content)
			if _, err := execContext(ctx, tx.w,
				`INSERT INTO golf_submission_files (submission_id, name, size_bytes, sha256, content) VALUES (?, ?, ?, ?, ?)`,
				s.ID, f.Name, len(f.Content), hex.EncodeToString(sum[:]), f.Content); err != nil {
				return fmt.Errorf("storage: insert golf file: %w", err)
			}
		}
		return nil
	})
}

// GolfSubmission returns submission id, or ENOTFOUND.
func (c *conn) GolfSubmission(ctx context.Context, id string) (GolfSubmission, error) {
	return c.golfSubmission(ctx, c.r, id)
}

func (c *conn) golfSubmission(ctx context.Context, h sqlx.ExtContext, id string) (GolfSubmission, error) {
	var r golfSubmissionRow
	err := getContext(ctx, h, &r, golfSubmissionSelect+` WHERE s.id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return GolfSubmission{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "submission %s not found", id)
	} else if err != nil {
		return GolfSubmission{}, fmt.Errorf("storage: golf submission: %w", err)
	}
	return r.submission(), nil
}

// GolfSubmissionFiles returns a submission's files by name.
func (c *conn) GolfSubmissionFiles(ctx context.Context, id string) ([]GolfFile, error) {
	var rows []struct {
		Name      string `db:"name"`
		SizeBytes int64  `db:"size_bytes"`
		SHA256    string `db:"sha256"`
		Content   []byte `db:"content"`
	}
	if err := selectContext(ctx, c.r, &rows,
		`SELECT name, size_bytes, sha256, content FROM golf_submission_files WHERE submission_id = ? ORDER BY name`, id); err != nil {
		return nil, fmt.Errorf("storage: golf files: %w", err)
	}
	out := make([]GolfFile, 0, len(rows))
	for _, r := range rows {
		out = append(out, GolfFile{Name: r.Name, SizeBytes: r.SizeBytes, SHA256: r.SHA256, Content: r.Content})
	}
	return out, nil
}

// GolfSubmissionsByUser returns up to limit of a user's submissions,
// newest first, optionally of one challenge.
func (c *conn) GolfSubmissionsByUser(ctx context.Context, userID int64, slug string, limit int) ([]GolfSubmission, error) {
	q := golfSubmissionSelect + ` WHERE s.user_id = ?`
	args := []any{userID}
	if slug != "" {
		q += ` AND s.challenge_slug = ?`
		args = append(args, slug)
	}
	q += ` ORDER BY s.created_at DESC, s.id DESC LIMIT ?`
	return c.golfSubmissions(ctx, q, append(args, limit)...)
}

// GolfVerified returns a challenge's verified submissions in submission
// order (created_at, id): what the record frontier is computed from.
func (c *conn) GolfVerified(ctx context.Context, slug string) ([]GolfSubmission, error) {
	return c.golfSubmissions(ctx, golfSubmissionSelect+` WHERE s.challenge_slug = ? AND s.status = 'verified'
		ORDER BY s.created_at, s.id`, slug)
}

func (c *conn) golfSubmissions(ctx context.Context, q string, args ...any) ([]GolfSubmission, error) {
	var rows []golfSubmissionRow
	if err := selectContext(ctx, c.r, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("storage: golf submissions: %w", err)
	}
	out := make([]GolfSubmission, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.submission())
	}
	return out, nil
}

// GolfQueueAhead returns how many pending submissions were made before s
// (by created_at, then id): those verified before it.
func (c *conn) GolfQueueAhead(ctx context.Context, s GolfSubmission) (int64, error) {
	var n int64
	err := getContext(ctx, c.r, &n,
		`SELECT COUNT(*) FROM golf_submissions WHERE status = 'pending' AND (created_at < ? OR (created_at = ? AND id < ?))`,
		s.CreatedAt, s.CreatedAt, s.ID)
	if err != nil {
		return 0, fmt.Errorf("storage: golf queue position: %w", err)
	}
	return n, nil
}

// GolfChallengeStats counts a challenge's submissions by status, and its
// distinct submitters and solvers (users with a verified submission).
type GolfChallengeStats struct {
	ByStatus   map[string]int64
	Submitters int64
	Solvers    int64
}

// GolfStats returns the counts of challenge slug.
func (c *conn) GolfStats(ctx context.Context, slug string) (GolfChallengeStats, error) {
	st := GolfChallengeStats{ByStatus: map[string]int64{GolfPending: 0, GolfVerifying: 0, GolfVerified: 0, GolfFailed: 0}}
	var rows []struct {
		Status string `db:"status"`
		N      int64  `db:"n"`
	}
	if err := selectContext(ctx, c.r, &rows, `SELECT status, COUNT(*) AS n FROM golf_submissions WHERE challenge_slug = ? GROUP BY status`, slug); err != nil {
		return st, fmt.Errorf("storage: golf stats: %w", err)
	}
	for _, r := range rows {
		st.ByStatus[r.Status] = r.N
	}
	var r struct {
		Submitters int64 `db:"submitters"`
		Solvers    int64 `db:"solvers"`
	}
	err := getContext(ctx, c.r, &r, `SELECT COUNT(DISTINCT user_id) AS submitters,
		COUNT(DISTINCT CASE WHEN status = 'verified' THEN user_id END) AS solvers
		FROM golf_submissions WHERE challenge_slug = ?`, slug)
	if err != nil {
		return st, fmt.Errorf("storage: golf stats: %w", err)
	}
	st.Submitters, st.Solvers = r.Submitters, r.Solvers
	return st, nil
}

// StartGolfVerification makes submission id verifying under a new attempt
// by verifier machineID, and appends header(attempt) to its log. A
// submission already verified or failed is returned unchanged with started
// false: the task that asked is a duplicate.
func (c *conn) StartGolfVerification(ctx context.Context, id, machineID string, header func(attempt int64) string) (_ GolfSubmission, started bool, _ error) {
	var s GolfSubmission
	err := c.inTx(ctx, func(tx *Tx) error {
		cur, err := tx.golfSubmission(ctx, tx.w, id)
		if err != nil {
			return err
		}
		if cur.Status == GolfVerified || cur.Status == GolfFailed {
			s = cur
			return nil
		}
		now := tx.now()
		if _, err := execContext(ctx, tx.w,
			`UPDATE golf_submissions SET status = 'verifying', attempt = attempt + 1, attempt_offset = 0, verifier_id = ?,
			   started_at = ? WHERE id = ?`, machineID, now, id); err != nil {
			return fmt.Errorf("storage: start golf verification: %w", err)
		}
		cur.Attempt++
		if err := tx.appendGolfLog(ctx, cur, header(cur.Attempt), 0); err != nil {
			return err
		}
		if s, err = tx.golfSubmission(ctx, tx.w, id); err != nil {
			return err
		}
		started = true
		return nil
	})
	return s, started, err
}

// AppendGolfLog appends text, which starts at byte offset of attempt's
// output, to submission id's log. A chunk already stored (a retried
// request) is accepted again without effect; one that leaves a gap, or
// comes from an attempt that is not the current one or a submission not
// verifying, is ECONFLICT. The stored log keeps at most maxLog bytes
// (maxLog > 0); later output is dropped and the log marked truncated.
func (c *conn) AppendGolfLog(ctx context.Context, id string, attempt, offset int64, text string, maxLog int64) (GolfSubmission, error) {
	var s GolfSubmission
	err := c.inTx(ctx, func(tx *Tx) error {
		cur, err := tx.golfSubmission(ctx, tx.w, id)
		if err != nil {
			return err
		}
		switch {
		case cur.Attempt != attempt:
			return proofgrid.Errorf(proofgrid.ECONFLICT, "attempt %d of submission %s is over; attempt %d is current", attempt, id, cur.Attempt)
		case cur.Status != GolfVerifying:
			return proofgrid.Errorf(proofgrid.ECONFLICT, "submission %s is %s, not verifying", id, cur.Status)
		case offset > cur.attemptOffset:
			return proofgrid.Errorf(proofgrid.ECONFLICT, "log chunk at %d leaves a gap: %d bytes of this attempt are stored", offset, cur.attemptOffset)
		}
		skip := cur.attemptOffset - offset
		if skip >= int64(len(text)) {
			s = cur
			return nil
		}
		text = text[skip:]
		if _, err := execContext(ctx, tx.w, `UPDATE golf_submissions SET attempt_offset = attempt_offset + ? WHERE id = ?`, len(text), id); err != nil {
			return err
		}
		if err := tx.appendGolfLog(ctx, cur, text, maxLog); err != nil {
			return err
		}
		s, err = tx.golfSubmission(ctx, tx.w, id)
		return err
	})
	return s, err
}

// appendGolfLog stores text at the end of s's log, cut to what maxLog
// (when > 0) leaves room for.
func (t *Tx) appendGolfLog(ctx context.Context, s GolfSubmission, text string, maxLog int64) error {
	truncated := false
	if maxLog > 0 && s.LogSize+int64(len(text)) > maxLog {
		room := max(maxLog-s.LogSize, 0)
		for room > 0 && !utf8.RuneStart(text[room]) {
			room--
		}
		text, truncated = text[:room], true
	}
	if text != "" {
		if _, err := execContext(ctx, t.w,
			`INSERT INTO golf_log_chunks (submission_id, start_offset, end_offset, text) VALUES (?, ?, ?, ?)`,
			s.ID, s.LogSize, s.LogSize+int64(len(text)), text); err != nil {
			return fmt.Errorf("storage: golf log: %w", err)
		}
	}
	flag := 0
	if truncated || s.LogTruncated {
		flag = 1
	}
	if _, err := execContext(ctx, t.w, `UPDATE golf_submissions SET log_size = log_size + ?, log_truncated = ? WHERE id = ?`,
		len(text), flag, s.ID); err != nil {
		return fmt.Errorf("storage: golf log: %w", err)
	}
	return nil
}

// FinishGolfVerification ends attempt of submission id with status
// (verified or failed) and reason, appending trailer to the log; a
// verified submission gets its score. Finishing again with the same
// attempt and status changes nothing; any other finish of a finished
// submission, or of an attempt that is not current, is ECONFLICT.
func (c *conn) FinishGolfVerification(ctx context.Context, id string, attempt int64, status, reason, trailer string) (GolfSubmission, error) {
	if status != GolfVerified && status != GolfFailed {
		return GolfSubmission{}, proofgrid.Errorf(proofgrid.EINVALID, "verdict %q is not verified or failed", status)
	}
	var s GolfSubmission
	err := c.inTx(ctx, func(tx *Tx) error {
		cur, err := tx.golfSubmission(ctx, tx.w, id)
		if err != nil {
			return err
		}
		switch {
		case cur.Attempt != attempt:
			return proofgrid.Errorf(proofgrid.ECONFLICT, "attempt %d of submission %s is over; attempt %d is current", attempt, id, cur.Attempt)
		case cur.Status == status:
			s = cur
			return nil
		case cur.Status != GolfVerifying:
			return proofgrid.Errorf(proofgrid.ECONFLICT, "submission %s is already %s", id, cur.Status)
		}
		var score any
		if status == GolfVerified {
			score = cur.Allocations + cur.Constraints
		}
		if _, err := execContext(ctx, tx.w,
			`UPDATE golf_submissions SET status = ?, score = ?, reason = ?, finished_at = ? WHERE id = ?`,
			status, score, reason, tx.now(), id); err != nil {
			return fmt.Errorf("storage: finish golf verification: %w", err)
		}
		// The verdict line is kept even past the log's cap.
		if err := tx.appendGolfLog(ctx, cur, trailer, 0); err != nil {
			return err
		}
		s, err = tx.golfSubmission(ctx, tx.w, id)
		return err
	})
	return s, err
}

// GolfLog returns up to max bytes of submission id's log from byte offset
// since, and the offset to ask from next.
func (c *conn) GolfLog(ctx context.Context, id string, since, max int64) (string, int64, error) {
	var rows []struct {
		Start int64  `db:"start_offset"`
		End   int64  `db:"end_offset"`
		Text  string `db:"text"`
	}
	if err := selectContext(ctx, c.r, &rows,
		`SELECT start_offset, end_offset, text FROM golf_log_chunks WHERE submission_id = ? AND end_offset > ?
		 ORDER BY start_offset LIMIT 1000`, id, since); err != nil {
		return "", since, fmt.Errorf("storage: golf log: %w", err)
	}
	var b strings.Builder
	next := since
	for _, r := range rows {
		if r.Start > next {
			break
		}
		chunk := r.Text[next-r.Start:]
		if room := max - int64(b.Len()); int64(len(chunk)) > room {
			cut := room
			for cut > 0 && !utf8.RuneStart(chunk[cut]) {
				cut--
			}
			b.WriteString(chunk[:cut])
			next += cut
			break
		}
		b.WriteString(chunk)
		next += int64(len(chunk))
	}
	return b.String(), next, nil
}
