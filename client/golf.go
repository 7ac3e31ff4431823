package client

// This file holds the bodies of the calls a zkGolf verifier agent makes
// (below /proofgrid/v1/verifier, signed with the agent's key). The
// coordinator decodes and answers with these same types.

// Paths of the verifier calls. GolfSubmissionPath adds a submission id and
// one of the actions.
const (
	PathGolfProject     = "/proofgrid/v1/verifier/project"
	PathGolfSubmissions = "/proofgrid/v1/verifier/submissions/"
)

// Verifier actions on one submission.
const (
	GolfStart  = "start"
	GolfFiles  = "files"
	GolfLog    = "log"
	GolfFinish = "finish"
)

// GolfSubmissionPath is the path of action on submission id.
func GolfSubmissionPath(id, action string) string { return PathGolfSubmissions + id + "/" + action }

// GolfStartResponse answers POST .../start: the submission is verifying
// under Attempt by the calling verifier, or, when Started is false,
// already has its verdict (Status) and there is nothing to do.
type GolfStartResponse struct {
	Started      bool   `json:"started"`
	Status       string `json:"status"`
	SubmissionID string `json:"submission_id"`
	Attempt      int64  `json:"attempt"`
	// Challenge is the challenge slug; Instance its Lean instance, whose
	// solution directory (SolutionDir) the files replace.
	Challenge       string   `json:"challenge"`
	Instance        string   `json:"instance"`
	SolutionDir     string   `json:"solution_dir"`
	ConfigPath      string   `json:"config_path"`
	PermittedAxioms []string `json:"permitted_axioms"`
	Allocations     int64    `json:"allocations"`
	Constraints     int64    `json:"constraints"`
	// ProjectSHA256 names the challenge project the verifier needs; it
	// fetches it from PathGolfProject unless it has it already.
	ProjectSHA256 string `json:"project_sha256"`
	MaxFileBytes  int64  `json:"max_file_bytes"`
}

// GolfFile is one artifact; Content travels as base64.
type GolfFile struct {
	Name    string `json:"name"`
	SHA256  string `json:"sha256"`
	Content []byte `json:"content"`
}

// GolfFilesResponse answers GET .../files.
type GolfFilesResponse struct {
	Files []GolfFile `json:"files"`
}

// GolfProject answers GET PathGolfProject: the challenge project tarball
// (as /challenges.tar.gz serves it), base64 in JSON.
type GolfProject struct {
	SHA256  string `json:"sha256"`
	Tarball []byte `json:"tarball"`
}

// GolfLogChunk is the body of POST .../log: text is the checker's output
// from byte Offset of this attempt's output on. A chunk sent again is
// stored once.
type GolfLogChunk struct {
	Attempt int64  `json:"attempt"`
	Offset  int64  `json:"offset"`
	Text    string `json:"text"`
}

// GolfLogAck answers POST .../log.
type GolfLogAck struct {
	LogSize   int64 `json:"log_size"`
	Truncated bool  `json:"truncated"`
}

// GolfVerdict is the body of POST .../finish.
type GolfVerdict struct {
	Attempt int64 `json:"attempt"`
	// Status is "verified" or "failed".
	Status string `json:"status"`
	// Reason says why, in a line: "checker exited with status 1".
	Reason     string `json:"reason"`
	ExitCode   int    `json:"exit_code"`
	DurationMS int64  `json:"duration_ms"`
}

// GolfVerdictResponse answers POST .../finish.
type GolfVerdictResponse struct {
	Status string `json:"status"`
	Score  *int64 `json:"score"`
}
