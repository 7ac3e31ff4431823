// Package golf is the zkGolf surface: the agent API at /api/agent/v1 that
// people and scripts use to read challenges and submit circuits (bearer
// cmp_ tokens), the public downloads (/challenges.tar.gz,
// /api/submissions/{id}/download), and the signed routes verifier agents
// report through (/proofgrid/v1/verifier). It is thin: the rules are in
// golf and golf/contest.
package golf

import (
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/golf"
	"github.com/proofgrid/proofgrid/golf/contest"
	"github.com/proofgrid/proofgrid/storage"
)

// Prefixes of the surface's routes.
const (
	Prefix         = "/api/agent/v1"
	DownloadPrefix = "/api/submissions"
	ProjectPath    = "/challenges.tar.gz"
	VerifierPrefix = "/proofgrid/v1/verifier"
)

// multipartOverhead is what a submission body may hold besides its files
// and text fields: part headers and boundaries.
const multipartOverhead = 64 << 10

// Uploads is the submission route, whose body may exceed the
// coordinator's app-wide body limit (web.BodyGuard); submit reads it after
// the token is checked, within the submission limits.
var Uploads = []string{fiber.MethodPost + " " + Prefix + "/challenges/:slug/submissions"}

// maxVerifierBody caps a verifier's request body (a log chunk is the
// largest, contest.MaxLogChunkBytes, JSON-escaped).
const maxVerifierBody = 2 * contest.MaxLogChunkBytes

// API serves the routes.
type API struct {
	Contest *contest.Service
	// Auth authenticates the operators' admin route (admin pg_ tokens
	// and admin JWTs).
	Auth web.Authenticator
	// Verifier checks verifier agents' signatures.
	Verifier web.SignatureVerifier
	Logger   *slog.Logger
}

const userKey = "proofgrid.golf_user"

// Mount registers the routes on app.
func (a *API) Mount(app fiber.Router) {
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	app.Get(ProjectPath, a.project)
	app.Get(DownloadPrefix+"/:id/download", a.download)
	app.Get(DownloadPrefix+"/:id", a.submission)

	r := app.Group(Prefix)
	r.Get("/openapi.json", openAPI)
	r.Get("/docs", docs)
	r.Get("/challenges", a.challenges)
	r.Get("/challenges/:slug", a.challenge)
	r.Get("/challenges/:slug/leaderboard", a.leaderboard)
	r.Get("/challenges/:slug/state", a.state)
	r.Post("/challenges/:slug/submissions", a.requireUser, a.submit)
	r.Get("/me", a.requireUser, a.me)
	r.Get("/submissions", a.requireUser, a.mine)
	r.Get("/submissions/:id", a.submission)
	r.Get("/submissions/:id/diff", a.diff)
	r.Get("/submissions/:id/log", a.requireUser, a.log)
	r.Post("/admin/tokens", web.RequireOperator(a.Auth), web.LimitBody(16<<10), a.createToken)

	v := app.Group(VerifierPrefix, a.Verifier.RequireAgent(), requireVerifierRole, web.LimitBody(maxVerifierBody))
	v.Get("/project", a.verifierProject)
	v.Post("/submissions/:id/start", a.start)
	v.Get("/submissions/:id/files", a.files)
	v.Post("/submissions/:id/log", a.appendLog)
	v.Post("/submissions/:id/finish", a.finish)
}

// requireUser admits requests with a live cmp_ token.
func (a *API) requireUser(c *fiber.Ctx) error {
	tok, err := auth.BearerToken(c.Get(fiber.HeaderAuthorization))
	if err != nil {
		return err
	}
	t, err := a.Contest.Authenticate(c.UserContext(), tok)
	if err != nil {
		return err
	}
	c.Locals(userKey, t)
	return c.Next()
}

func userOf(c *fiber.Ctx) storage.GolfToken {
	t, _ := c.Locals(userKey).(storage.GolfToken)
	return t
}

func (a *API) project(c *fiber.Ctx) error {
	p, err := a.Contest.Project(c.UserContext())
	if err != nil {
		return err
	}
	etag := `"` + p.SHA256 + `"`
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	if c.Get(fiber.HeaderIfNoneMatch) == etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, "application/gzip")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="challenges.tar.gz"`)
	return c.Send(p.Tarball)
}

func (a *API) download(c *fiber.Ctx) error {
	name, tgz, err := a.Contest.Download(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/gzip")
	// The name is built from a slug and a UUID, so it needs no escaping;
	// filename* says so in the standard form too.
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, name, url.PathEscape(name)))
	return c.Send(tgz)
}

func (a *API) challenges(c *fiber.Ctx) error {
	cs, err := a.Contest.Challenges(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"challenges": cs})
}

func (a *API) challenge(c *fiber.Ctx) error {
	ch, err := a.Contest.Challenge(c.UserContext(), c.Params("slug"))
	if err != nil {
		return err
	}
	return c.JSON(ch)
}

func (a *API) leaderboard(c *fiber.Ctx) error {
	limit, err := web.IntQuery(c, "limit", 20, 1, 100)
	if err != nil {
		return err
	}
	recs, err := a.Contest.Leaderboard(c.UserContext(), c.Params("slug"), limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"challenge": c.Params("slug"), "records": recs})
}

func (a *API) state(c *fiber.Ctx) error {
	st, err := a.Contest.State(c.UserContext(), c.Params("slug"))
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (a *API) submission(c *fiber.Ctx) error {
	s, err := a.Contest.Submission(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(s)
}

func (a *API) me(c *fiber.Ctx) error {
	t := userOf(c)
	return c.JSON(fiber.Map{"user": t.UserName, "token_prefix": t.Prefix})
}

func (a *API) mine(c *fiber.Ctx) error {
	limit, err := web.IntQuery(c, "limit", 50, 1, 200)
	if err != nil {
		return err
	}
	slug := c.Query("challenge")
	if slug != "" && !golf.ValidSlug(slug) {
		return web.Invalid("challenge must be a challenge slug, got %q", slug)
	}
	subs, err := a.Contest.Mine(c.UserContext(), userOf(c).UserID, slug, limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"submissions": subs})
}

func (a *API) diff(c *fiber.Ctx) error {
	d, err := a.Contest.Diff(c.UserContext(), c.Params("id"), c.Query("base"))
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (a *API) log(c *fiber.Ctx) error {
	var since int64
	if s := c.Query("since"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return web.Invalid("since must be a byte offset (0 or more) from a previous next_offset, got %q", s)
		}
		since = n
	}
	page, err := a.Contest.Log(c.UserContext(), c.Params("id"), userOf(c).UserID, since)
	if err != nil {
		return err
	}
	return c.JSON(page)
}

// submitResponse answers a submission.
type submitResponse struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	StatusURL      string `json:"status_url"`
	AgentStatusURL string `json:"agent_status_url"`
}

// submit reads the multipart form: repeated "artifact" file parts, and the
// fields allocations, constraints, assisted_by and description.
func (a *API) submit(c *fiber.Ctx) error {
	lim := a.Contest.Limits()
	max := lim.MaxSubmissionBytes + int64(lim.MaxDescriptionBytes+lim.MaxAssistedByBytes) + multipartOverhead
	// The route is one of Uploads: its body is read here, after the
	// token was checked, and not by the app-wide guard.
	if _, err := web.ReadBody(c, int(max)); proofgrid.ErrorCode(err) == proofgrid.ETOOLARGE {
		return web.Invalid("the request body is too large; a submission may be at most %d bytes of artifacts (each at most %d)", lim.MaxSubmissionBytes, lim.MaxFileBytes)
	} else if err != nil {
		return err
	}
	form, err := c.MultipartForm()
	if err != nil {
		return web.Invalid("send the submission as multipart/form-data: %v", err)
	}
	defer form.RemoveAll()
	if len(form.Value["artifact"]) > 0 {
		return web.Invalid("each artifact must be a file part (with a filename), not a plain field")
	}
	field := func(name string, required bool) (string, error) {
		vs := form.Value[name]
		switch {
		case len(vs) > 1:
			return "", web.Invalid("%s is sent more than once", name)
		case len(vs) == 0 && required:
			return "", web.Invalid("%s is required: a non-negative integer", name)
		case len(vs) == 0:
			return "", nil
		}
		return vs[0], nil
	}
	var cost golf.Cost
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"allocations", &cost.Allocations}, {"constraints", &cost.Constraints}} {
		v, err := field(f.name, true)
		if err != nil {
			return err
		}
		if *f.dst, err = golf.ParseCost(f.name, v); err != nil {
			return err
		}
	}
	assisted, err := field("assisted_by", false)
	if err != nil {
		return err
	}
	desc, err := field("description", false)
	if err != nil {
		return err
	}
	parts := form.File["artifact"]
	if len(parts) > lim.MaxFiles {
		return web.Invalid("%d artifacts; at most %d are accepted", len(parts), lim.MaxFiles)
	}
	files := make([]golf.File, 0, len(parts))
	for _, fh := range parts {
		f, err := readPart(fh, lim.MaxFileBytes)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	sub, err := a.Contest.Submit(c.UserContext(), contest.SubmitRequest{
		Challenge: c.Params("slug"), UserID: userOf(c).UserID, Cost: cost, AssistedBy: assisted, Description: desc, Files: files,
	})
	if err != nil {
		if proofgrid.ErrorCode(err) == proofgrid.ERATELIMIT {
			c.Set(fiber.HeaderRetryAfter, "30")
		}
		return err
	}
	base := c.BaseURL()
	c.Set(fiber.HeaderLocation, base+Prefix+"/submissions/"+sub.ID)
	return c.Status(fiber.StatusCreated).JSON(submitResponse{
		ID: sub.ID, Status: sub.Status,
		StatusURL:      base + DownloadPrefix + "/" + sub.ID,
		AgentStatusURL: base + Prefix + "/submissions/" + sub.ID,
	})
}

// readPart reads one artifact part. Its name is taken from the raw
// Content-Disposition header: mime/multipart would keep only the last
// path element, turning "../x/Main.lean" into an acceptable "Main.lean".
func readPart(fh *multipart.FileHeader, maxBytes int64) (golf.File, error) {
	name := fh.Filename
	if _, params, err := mime.ParseMediaType(fh.Header.Get(fiber.HeaderContentDisposition)); err == nil && params["filename"] != "" {
		name = params["filename"]
	}
	if err := golf.CheckFileName(name); err != nil {
		return golf.File{}, err
	}
	if fh.Size > maxBytes {
		return golf.File{}, web.Invalid("artifact %s is %d bytes; each may be at most %d", name, fh.Size, maxBytes)
	}
	f, err := fh.Open()
	if err != nil {
		return golf.File{}, fmt.Errorf("golf: open artifact: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return golf.File{}, fmt.Errorf("golf: read artifact: %w", err)
	}
	if int64(len(data)) > maxBytes {
		return golf.File{}, web.Invalid("artifact %s is larger than %d bytes", name, maxBytes)
	}
	return golf.File{Name: name, Data: data}, nil
}

// tokenRequest is the body of POST /admin/tokens.
type tokenRequest struct {
	User  string `json:"user"`
	Label string `json:"label"`
}

func (a *API) createToken(c *fiber.Ctx) error {
	var req tokenRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.User) == "" {
		return web.ErrMissing("user")
	}
	plain, t, err := a.Contest.CreateToken(c.UserContext(), req.User, req.Label)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"token": plain, "user": t.UserName, "prefix": t.Prefix, "created_at": t.CreatedAt})
}

// Verifier routes.

func (a *API) verifierProject(c *fiber.Ctx) error {
	p, err := a.Contest.Project(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(client.GolfProject{SHA256: p.SHA256, Tarball: p.Tarball})
}

func (a *API) start(c *fiber.Ctx) error {
	m, _ := web.MachineOf(c)
	resp, err := a.Contest.Start(c.UserContext(), c.Params("id"), m)
	if err != nil {
		return err
	}
	return c.JSON(resp)
}

func (a *API) files(c *fiber.Ctx) error {
	m, _ := web.MachineOf(c)
	fs, err := a.Contest.Files(c.UserContext(), c.Params("id"), m)
	if err != nil {
		return err
	}
	return c.JSON(client.GolfFilesResponse{Files: fs})
}

func (a *API) appendLog(c *fiber.Ctx) error {
	m, _ := web.MachineOf(c)
	var chunk client.GolfLogChunk
	if err := web.DecodeJSON(c, &chunk); err != nil {
		return err
	}
	ack, err := a.Contest.AppendLog(c.UserContext(), c.Params("id"), m, chunk)
	if err != nil {
		return err
	}
	return c.JSON(ack)
}

func (a *API) finish(c *fiber.Ctx) error {
	m, _ := web.MachineOf(c)
	var v client.GolfVerdict
	if err := web.DecodeJSON(c, &v); err != nil {
		return err
	}
	resp, err := a.Contest.Finish(c.UserContext(), c.Params("id"), m, v)
	if err != nil {
		return err
	}
	return c.JSON(resp)
}

// Config configures the surface and its service. Zero values mean the
// defaults of golf and golf/contest.
type Config struct {
	// Limits bound each submission: per file, in all, file count, text
	// fields.
	Limits golf.Limits
	// MaxQueued caps submissions pending or verifying in all (429 beyond).
	MaxQueued int
	// MaxActivePerUser caps one user's submissions pending or verifying.
	MaxActivePerUser int
	// MaxLogBytes caps each stored verification log.
	MaxLogBytes int64
	// ChallengesDir, when set, is imported at start (as "coordinator
	// challenges import DIR" does).
	ChallengesDir string
}

// requireVerifierRole lets only verifier machines reach the verifier
// routes: a prover or AVS agent of any team is refused before any of them
// runs.
func requireVerifierRole(c *fiber.Ctx) error {
	m, _ := web.MachineOf(c)
	if m.Role != proofgrid.RoleVerifier {
		return proofgrid.Errorf(proofgrid.EFORBIDDEN, "only verifier machines use %s; this machine is a %s", VerifierPrefix, m.Role)
	}
	return c.Next()
}
