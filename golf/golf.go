// Package golf holds the rules of zkGolf, a contest for the smallest
// verified circuit: a challenge asks for a Lean circuit proved to meet a
// specification, and a submission's score is the cost it claims
// (allocations + constraints), counted once a checker has verified it.
//
// The package is pure: the submission rules (names, sizes, costs), the
// challenge registry of a zk-golf-challenges project (instances.yml and
// the comparator configs), the built-in lint checker, the unified diff of
// two submissions and the tarballs. The coordinator's service
// (golf/contest) and the verifier agent (agent/verifier) both use it.
package golf

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/proofgrid/proofgrid"
)

// Submission states: pending → verifying → verified | failed. A verifier
// that stops mid-run leaves the submission verifying until the task is
// retried, which makes it verifying again under a new attempt.
const (
	StatusPending   = "pending"
	StatusVerifying = "verifying"
	StatusVerified  = "verified"
	StatusFailed    = "failed"
)

// MainFile is the file every submission must have: the solution module
// the challenge's comparator config names (Solution.<Instance>.Main).
const MainFile = "Main.lean"

// Defaults of Limits.
const (
	DefaultMaxFileBytes        = 256 << 10
	DefaultMaxSubmissionBytes  = 1 << 20
	DefaultMaxFiles            = 64
	DefaultMaxDescriptionBytes = 16 << 10
	DefaultMaxAssistedByBytes  = 200
)

// Limits bound one submission. Zero fields mean the defaults.
type Limits struct {
	// MaxFileBytes caps each artifact.
	MaxFileBytes int64
	// MaxSubmissionBytes caps the artifacts together.
	MaxSubmissionBytes int64
	// MaxFiles caps the number of artifacts.
	MaxFiles int
	// MaxDescriptionBytes caps the Markdown description.
	MaxDescriptionBytes int
	// MaxAssistedByBytes caps assisted_by.
	MaxAssistedByBytes int
}

// Resolve returns l with defaults filled in.
func (l Limits) Resolve() Limits {
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultMaxFileBytes
	}
	if l.MaxSubmissionBytes <= 0 {
		l.MaxSubmissionBytes = DefaultMaxSubmissionBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxDescriptionBytes <= 0 {
		l.MaxDescriptionBytes = DefaultMaxDescriptionBytes
	}
	if l.MaxAssistedByBytes <= 0 {
		l.MaxAssistedByBytes = DefaultMaxAssistedByBytes
	}
	return l
}

// File is one artifact: a flat file name and its bytes.
type File struct {
	Name string
	Data []byte
}

// Cost is what a circuit costs: witness allocations and R1CS constraints.
type Cost struct {
	Allocations int64 `json:"allocations" yaml:"allocations"`
	Constraints int64 `json:"constraints" yaml:"constraints"`
}

// Score is the number a submission is ranked by: lower wins.
func (c Cost) Score() int64 { return c.Allocations + c.Constraints }

// maxCost keeps a score far from overflowing int64 and from what a
// JavaScript client can hold exactly.
const maxCost = 1 << 50

var fileName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\.lean$`)

// maxFileName caps an artifact's name.
const maxFileName = 100

// CheckFileName reports whether name may be an artifact's name: a flat
// Lean module file name ("Main.lean", "Num2Bits.lean"), so that a file
// lands beside Main.lean in the solution directory and nowhere else. The
// error is EINVALID and says what is wrong.
func CheckFileName(name string) error {
	bad := func(why string) error {
		return proofgrid.Errorf(proofgrid.EINVALID, "artifact name %q: %s", clip(name, 60), why)
	}
	switch {
	case name == "":
		return bad("is empty")
	case strings.ContainsAny(name, `/\`):
		return bad("must be a flat file name, not a path")
	case strings.HasPrefix(name, "."):
		return bad(`must not start with "."`)
	case len(name) > maxFileName:
		return bad(fmt.Sprintf("is longer than %d characters", maxFileName))
	case !strings.HasSuffix(name, ".lean"):
		return bad(`must end in ".lean"`)
	case !fileName.MatchString(name):
		return bad("must be a Lean module name: letters, digits and '_', starting with a letter or '_', then .lean")
	}
	return nil
}

// ParseCost reads a claimed cost field: a non-negative decimal integer,
// digits only. The error is EINVALID.
func ParseCost(field, s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, proofgrid.Errorf(proofgrid.EINVALID, "%s is required: a non-negative integer", field)
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, proofgrid.Errorf(proofgrid.EINVALID, "%s must be a non-negative integer, got %q", field, clip(s, 30))
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxCost {
		return 0, proofgrid.Errorf(proofgrid.EINVALID, "%s is too large (at most %d)", field, int64(maxCost))
	}
	return n, nil
}

// CheckFiles checks a submission's artifacts against l: names, sizes,
// count, Main.lean present, no duplicate, UTF-8 text. The error is
// EINVALID.
func CheckFiles(files []File, l Limits) error {
	l = l.Resolve()
	if len(files) == 0 {
		return proofgrid.Errorf(proofgrid.EINVALID, "no artifact: send the solution's .lean files as repeated 'artifact' parts, %s among them", MainFile)
	}
	if len(files) > l.MaxFiles {
		return proofgrid.Errorf(proofgrid.EINVALID, "%d artifacts; at most %d are accepted", len(files), l.MaxFiles)
	}
	seen := make(map[string]bool, len(files))
	var total int64
	for _, f := range files {
		if err := CheckFileName(f.Name); err != nil {
			return err
		}
		if seen[f.Name] {
			return proofgrid.Errorf(proofgrid.EINVALID, "artifact %s is sent twice", f.Name)
		}
		seen[f.Name] = true
		if int64(len(f.Data)) > l.MaxFileBytes {
			return proofgrid.Errorf(proofgrid.EINVALID, "artifact %s is %d bytes; each may be at most %d", f.Name, len(f.Data), l.MaxFileBytes)
		}
		if !utf8.Valid(f.Data) || strings.ContainsRune(string(f.Data), 0) {
			return proofgrid.Errorf(proofgrid.EINVALID, "artifact %s is not UTF-8 text", f.Name)
		}
		total += int64(len(f.Data))
	}
	if total > l.MaxSubmissionBytes {
		return proofgrid.Errorf(proofgrid.EINVALID, "artifacts total %d bytes; a submission may be at most %d", total, l.MaxSubmissionBytes)
	}
	if !seen[MainFile] {
		return proofgrid.Errorf(proofgrid.EINVALID, "%s is required among the artifacts", MainFile)
	}
	return nil
}

// CheckText checks a free-text field: at most max bytes of UTF-8 without
// NUL. The error is EINVALID.
func CheckText(field, s string, max int) error {
	switch {
	case len(s) > max:
		return proofgrid.Errorf(proofgrid.EINVALID, "%s is %d bytes; at most %d are accepted", field, len(s), max)
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return proofgrid.Errorf(proofgrid.EINVALID, "%s must be UTF-8 text", field)
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
