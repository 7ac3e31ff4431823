// Package console serves the web console for people at /ui: the fleet and
// each machine's history, the proving grid, rewards, claims and zkGolf.
// Pages are rendered on the server with html/template; the stylesheet, a
// small script and the charts (inline SVG) are all embedded, so the
// console needs no CDN, no build step and no internet.
//
// A visitor signs in with a team token or an operator credential; the
// session lives in Redis, so any coordinator replica serves it. Every page
// is scoped to the visitor's team exactly as the API is.
package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/golf/contest"
	"github.com/proofgrid/proofgrid/storage"
)

// Prefix is where the console is mounted.
const Prefix = "/ui"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Authenticator resolves a credential typed into the sign-in form;
// *auth.Service has it.
type Authenticator interface {
	Authenticate(ctx context.Context, credential string) (auth.Principal, error)
}

// Config configures a Console. Zero values mean defaults.
type Config struct {
	DB      *storage.DB
	Monitor *fleet.Monitor
	Auth    Authenticator
	// Redis keeps the sessions, so every replica sees them.
	Redis redis.UniversalClient
	// Golf is the zkGolf service; nil hides zkGolf.
	Golf *contest.Service
	// MonitorPath is where asynqmon is mounted, linked for operators.
	MonitorPath string
	// SessionTTL is how long a session lasts without use (default 12 h).
	SessionTTL time.Duration
	// PageSize is how many rows a list shows (default 50).
	PageSize int
	// Refresh is how often live fragments poll (default 3 s).
	Refresh time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
}

// Console serves the pages.
type Console struct {
	cfg   Config
	pages map[string]*template.Template
}

// New parses the templates and returns a Console.
func New(cfg Config) (*Console, error) {
	if cfg.DB == nil || cfg.Monitor == nil || cfg.Auth == nil || cfg.Redis == nil {
		return nil, errors.New("console: DB, Monitor, Auth and Redis are required")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 50
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 3 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Console{cfg: cfg, pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	base := template.Must(template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/pager.html"))
	for _, n := range names {
		name := n[len("templates/") : len(n)-len(".html")]
		if name == "layout" || name == "pager" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		c.pages[name] = t
	}
	return c, nil
}

// Mount registers the routes on app.
func (c *Console) Mount(app fiber.Router) {
	static, _ := fs.Sub(staticFS, "static")
	app.Get(Prefix+"/static/:file", func(ctx *fiber.Ctx) error {
		b, err := fs.ReadFile(static, ctx.Params("file"))
		if err != nil {
			return ctx.Status(fiber.StatusNotFound).SendString("not found")
		}
		ctx.Type(extOf(ctx.Params("file")))
		ctx.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		return ctx.Send(b)
	})
	app.Get(Prefix+"/signin", c.signinForm)
	app.Post(Prefix+"/signin", c.signin)
	app.Post(Prefix+"/signout", c.guardGolf(c.signout))

	app.Get(Prefix, c.guard(c.fleetPage))
	app.Get(Prefix+"/machines", c.guard(c.fleetPage))
	app.Get(Prefix+"/machines/:id", c.guard(c.machinePage))
	app.Get(Prefix+"/proving", c.guard(c.provingPage))
	app.Get(Prefix+"/proving/grid", c.guard(c.provingGrid))
	app.Get(Prefix+"/clusters/:id", c.guard(c.clusterPage))
	app.Get(Prefix+"/rewards", c.guard(c.rewardsPage))
	app.Get(Prefix+"/claims", c.guard(c.claimsPage))
	app.Get(Prefix+"/golf", c.guardGolf(c.golfPage))
	app.Get(Prefix+"/golf/:slug", c.guardGolf(c.golfChallengePage))
	app.Get(Prefix+"/golf/submissions/:id", c.guardGolf(c.golfSubmissionPage))
	app.Get(Prefix+"/golf/submissions/:id/log", c.guardGolf(c.golfLog))
	app.All(Prefix+"/*", c.guard(func(ctx *fiber.Ctx, v *visit) error {
		return proofgrid.Errorf(proofgrid.ENOTFOUND, "there is no console page at %s", ctx.Path())
	}))
}

func extOf(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			return name[i+1:]
		}
	}
	return ""
}

// visit is one signed-in request.
type visit struct {
	Principal auth.Principal
	Session   session
	Path      string
	// Golfer is the zkGolf contestant of a session signed in with a cmp_
	// token ("" otherwise); such a visit has no Principal.
	Golfer   string
	GolferID int64
}

// ReadsLogOf reports whether the visitor may read the verifier log of a
// submission by user: operators read every log, contestants their own.
func (v *visit) ReadsLogOf(user string) bool {
	return v.Operator() || (v.Golfer != "" && v.Golfer == user)
}

// Operator reports whether the visitor has global rights.
func (v *visit) Operator() bool { return v.Principal.IsOperator() }

// Scope is the team the visitor reads (0: every team).
func (v *visit) Scope() int64 {
	if v.Principal.IsOperator() {
		return 0
	}
	return v.Principal.TeamID
}

// Who names the visitor in the header.
func (v *visit) Who() string {
	switch {
	case v.Golfer != "":
		return "zkGolf " + v.Golfer
	case v.Principal.TeamName != "" && v.Principal.IsOperator():
		return "operator (" + v.Principal.TeamName + ")"
	case v.Principal.TeamName != "":
		return "team " + v.Principal.TeamName
	default:
		return "operator " + v.Principal.Subject
	}
}

// pageData is what every page template receives.
type pageData struct {
	Title   string
	Nav     string
	Visit   *visit
	Monitor string
	Refresh int64 // milliseconds
	Data    any
}

// render writes page name with data as the response.
func (c *Console) render(ctx *fiber.Ctx, status int, name string, d pageData) error {
	t, ok := c.pages[name]
	if !ok {
		return fmt.Errorf("console: no template %q", name)
	}
	if d.Visit != nil && d.Visit.Operator() {
		d.Monitor = c.cfg.MonitorPath
	}
	d.Refresh = c.cfg.Refresh.Milliseconds()
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		return fmt.Errorf("console: render %s: %w", name, err)
	}
	return c.send(ctx, status, buf.Bytes())
}

// renderFragment writes one named block of page name, for live refresh.
func (c *Console) renderFragment(ctx *fiber.Ctx, page, block string, d pageData) error {
	var buf bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&buf, block, d); err != nil {
		return fmt.Errorf("console: render %s/%s: %w", page, block, err)
	}
	ctx.Set(fiber.HeaderCacheControl, "no-store")
	return c.send(ctx, fiber.StatusOK, buf.Bytes())
}

func (c *Console) send(ctx *fiber.Ctx, status int, body []byte) error {
	ctx.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	ctx.Set(fiber.HeaderCacheControl, "no-store")
	ctx.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	ctx.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	ctx.Set("Referrer-Policy", "same-origin")
	return ctx.Status(status).Send(body)
}

// pager is the position of one list page.
type pager struct {
	Page, Pages int
	Total       int64
	From, To    int64
	Prev, Next  string
}

// pageOf reads ?page= (1-based) and returns the offset of that page.
func (c *Console) pageOf(ctx *fiber.Ctx) (page, offset int) {
	page, _ = strconv.Atoi(ctx.Query("page"))
	page = max(page, 1)
	return page, (page - 1) * c.cfg.PageSize
}

// newPager returns the pager of page of total rows; links keep the other
// query parameters of u.
func (c *Console) newPager(u *url.URL, page int, total int64) pager {
	size := int64(c.cfg.PageSize)
	p := pager{Page: page, Total: total, Pages: int((total + size - 1) / size)}
	p.Pages = max(p.Pages, 1)
	if total > 0 {
		p.From = int64(page-1)*size + 1
		p.To = min(int64(page)*size, total)
	}
	link := func(n int) string {
		q := u.Query()
		q.Set("page", strconv.Itoa(n))
		return u.Path + "?" + q.Encode()
	}
	if page > 1 {
		p.Prev = link(page - 1)
	}
	if page < p.Pages {
		p.Next = link(page + 1)
	}
	return p
}

func requestURL(ctx *fiber.Ctx) *url.URL {
	u, err := url.Parse(ctx.OriginalURL())
	if err != nil {
		return &url.URL{Path: ctx.Path()}
	}
	return u
}
