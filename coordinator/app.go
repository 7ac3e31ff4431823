package coordinator

import (
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator/agentapi"
	"github.com/proofgrid/proofgrid/coordinator/ethproofs"
	golfapi "github.com/proofgrid/proofgrid/coordinator/golf"
	psyapi "github.com/proofgrid/proofgrid/coordinator/psy"
	"github.com/proofgrid/proofgrid/coordinator/web"
)

// MonitorPath is where asynqmon is mounted.
const MonitorPath = "/monitor"

func (c *Coordinator) newApp(styles *web.Styles) *fiber.App {
	app := fiber.New(fiber.Config{
		AppName: "proofgrid-coordinator",
		// Bodies are streamed: the server buffers a few KiB of each and
		// web.BodyGuard reads the rest with the right limit, so an upload
		// route can take large bodies without every route, before any
		// authentication, holding that much. In streaming mode BodyLimit
		// only decides how much the server buffers ahead.
		StreamRequestBody: true,
		BodyLimit:         c.cfg.BodyLimit,
		// Otherwise the server parses multipart bodies before routing,
		// spilling files to disk without a limit.
		DisablePreParseMultipartForm: true,
		ReadTimeout:                  60 * time.Second,
		WriteTimeout:                 120 * time.Second,
		IdleTimeout:                  120 * time.Second,
		DisableStartupMessage:        true,
		ErrorHandler:                 web.ErrorHandler(styles, c.cfg.Logger),
	})
	httpMetrics := newHTTPMetrics(c.registry)
	app.Use(
		recover.New(),
		requestid.New(),
		c.accessLog,
		httpMetrics.middleware,
		web.RefuseContentEncoding,
		web.BodyGuard{Limit: c.cfg.BodyLimit, Uploads: slices.Concat(ethproofs.Uploads, psyapi.Uploads, golfapi.Uploads)}.Handler(),
	)

	app.Get("/health", c.health)
	app.Get("/readyz", c.readyz)
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(c.registry, promhttp.HandlerOpts{})))
	c.mountMonitor(app)

	verifier := web.SignatureVerifier{Keys: c.Fleet, Nonces: auth.NewReplayCache(c.Redis, ""), Now: c.cfg.Now}
	c.verifier = verifier
	(&agentapi.API{Fleet: c.Fleet, Auth: c.Auth, Verifier: verifier, Tokens: c.Auth, Queues: c.Inspector}).Mount(app)
	// The coordinator's own paths keep its plain style whatever the
	// fallback of the root is.
	for _, p := range []string{agentapi.Prefix, "/health", "/readyz", "/metrics", MonitorPath} {
		styles.Add(p, web.StylePlain)
	}
	return app
}

// accessLog writes one slog line per request.
func (c *Coordinator) accessLog(ctx *fiber.Ctx) error {
	start := time.Now()
	err := ctx.Next()
	status := responseStatus(ctx, err)
	path := ctx.Path()
	level := c.cfg.Logger.Info
	if path == "/health" || path == "/readyz" || path == "/metrics" || strings.HasPrefix(path, MonitorPath) {
		level = c.cfg.Logger.Debug
	}
	level("http request",
		"request_id", web.RequestID(ctx), "method", ctx.Method(), "path", path,
		"status", status, "duration_ms", time.Since(start).Milliseconds(), "remote_ip", ctx.IP())
	return err
}

func (c *Coordinator) health(ctx *fiber.Ctx) error {
	out := fiber.Map{"status": "ok", "service": "proofgrid", "version": Version, "time": c.cfg.Now().UTC()}
	// Surfaces add their own fields (the Pool its window); "status" stays
	// the coordinator's.
	for name, f := range c.healthFields {
		out[name] = f()
	}
	return ctx.JSON(out)
}

func (c *Coordinator) readyz(ctx *fiber.Ctx) error {
	checks := c.Check(ctx.UserContext())
	for _, v := range checks {
		if v != "ok" {
			return ctx.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "checks": checks})
		}
	}
	return ctx.JSON(fiber.Map{"status": "ok", "checks": checks})
}

// mountMonitor serves asynqmon behind HTTP Basic auth so a browser can log
// in: any user name, and an operator token or admin JWT as the password.
// asynqmon shows and changes every team's queues, task payloads, agent
// hosts and Redis INFO, so it is an operator tool: team tokens, whatever
// their mode, are refused (403); teams see their own queues through
// GET /proofgrid/v1/queues.
func (c *Coordinator) mountMonitor(app *fiber.App) {
	mon := asynqmon.New(asynqmon.Options{RootPath: MonitorPath, RedisConnOpt: c.RedisOpt})
	c.closers = append(c.closers, mon.Close)
	serve := adaptor.HTTPHandler(mon)
	handler := func(ctx *fiber.Ctx) error {
		_, password, ok := basicAuth(ctx.Get(fiber.HeaderAuthorization))
		if !ok || password == "" {
			ctx.Set(fiber.HeaderWWWAuthenticate, `Basic realm="proofgrid monitor", charset="UTF-8"`)
			return ctx.Status(fiber.StatusUnauthorized).SendString("log in with any user name and an operator token (or admin JWT) as the password\n")
		}
		p, err := c.Auth.Authenticate(ctx.UserContext(), password)
		if err != nil {
			ctx.Set(fiber.HeaderWWWAuthenticate, `Basic realm="proofgrid monitor", charset="UTF-8"`)
			return ctx.Status(fiber.StatusUnauthorized).SendString(proofgrid.ErrorMessage(err) + "\n")
		}
		if !p.IsOperator() {
			return ctx.Status(fiber.StatusForbidden).SendString("the monitor is for operators: log in with an operator token (coordinator token create --operator) or an admin JWT; a team's queues are at GET /proofgrid/v1/queues\n")
		}
		return serve(ctx)
	}
	app.All(MonitorPath, handler)
	app.All(MonitorPath+"/*", handler)
}

// basicAuth parses an "Authorization: Basic ..." header value.
func basicAuth(header string) (user, password string, ok bool) {
	scheme, enc, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := decodeBase64(strings.TrimSpace(enc))
	if err != nil {
		return "", "", false
	}
	user, password, ok = strings.Cut(raw, ":")
	return user, password, ok
}

// httpMetrics counts requests by route template, not raw path, so ids in
// paths cannot blow up the label space.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proofgrid_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "proofgrid_http_request_duration_seconds", Help: "HTTP request latency by method and route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *httpMetrics) middleware(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	route := c.Route().Path
	if strings.HasPrefix(route, MonitorPath) {
		route = MonitorPath
	}
	status := responseStatus(c, err)
	method := methodLabel(c.Method())
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
	return err
}

// methodLabel returns the method as a constant string. c.Method() points
// into fasthttp's request buffer, which the next request on the
// connection overwrites, and a metric keeps its label values for good:
// kept as they were, "GET" labels turned into "POS" and /metrics failed
// on the duplicates. Fiber answers unknown methods itself, so these are
// all the methods a handler sees.
func methodLabel(m string) string {
	for _, known := range [...]string{
		fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch,
		fiber.MethodDelete, fiber.MethodConnect, fiber.MethodOptions, fiber.MethodTrace,
	} {
		if m == known {
			return known
		}
	}
	return "other"
}

func decodeBase64(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}

// responseStatus is the status a request ends with. Middleware runs before
// the error handler writes an error, so for a failed request it is the
// status that handler will set.
func responseStatus(c *fiber.Ctx, err error) int {
	if err == nil {
		return c.Response().StatusCode()
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	return web.StatusOf(proofgrid.ErrorCode(err))
}
