package coordinator

import (
	"encoding/base64"
	"errors"
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
	"github.com/proofgrid/proofgrid/coordinator/web"
)

// MonitorPath is where asynqmon is mounted.
const MonitorPath = "/monitor"

func (c *Coordinator) newApp(styles *web.Styles) *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:               "proofgrid-coordinator",
		BodyLimit:             c.cfg.BodyLimit,
		ReadTimeout:           60 * time.Second,
		WriteTimeout:          120 * time.Second,
		IdleTimeout:           120 * time.Second,
		DisableStartupMessage: true,
		ErrorHandler:          web.ErrorHandler(styles, c.cfg.Logger),
	})
	httpMetrics := newHTTPMetrics(c.registry)
	app.Use(
		recover.New(),
		requestid.New(),
		c.accessLog,
		httpMetrics.middleware,
		refuseContentEncoding,
	)

	app.Get("/health", c.health)
	app.Get("/readyz", c.readyz)
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(c.registry, promhttp.HandlerOpts{})))
	c.mountMonitor(app)

	verifier := web.SignatureVerifier{Keys: c.Fleet, Nonces: auth.NewReplayCache(c.Redis, ""), Now: c.cfg.Now}
	c.verifier = verifier
	(&agentapi.API{Fleet: c.Fleet, Auth: c.Auth, Verifier: verifier}).Mount(app)
	styles.Add(agentapi.Prefix, web.StylePlain)
	return app
}

// refuseContentEncoding answers 415 to compressed request bodies: Fiber
// would inflate them past the body limit (a gzip bomb) before any handler
// could refuse.
func refuseContentEncoding(c *fiber.Ctx) error {
	if ce := c.Get(fiber.HeaderContentEncoding); ce != "" && !strings.EqualFold(ce, "identity") {
		return proofgrid.Errorf(proofgrid.EUNSUPPORTED, "Content-Encoding %q is not accepted: send the body uncompressed", ce)
	}
	return c.Next()
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
// in: any user name, and an API token or admin JWT as the password. Admin
// credentials get the full UI; read and write tokens a read-only one.
func (c *Coordinator) mountMonitor(app *fiber.App) {
	fullMon := asynqmon.New(asynqmon.Options{RootPath: MonitorPath, RedisConnOpt: c.RedisOpt})
	readOnlyMon := asynqmon.New(asynqmon.Options{RootPath: MonitorPath, RedisConnOpt: c.RedisOpt, ReadOnly: true})
	c.closers = append(c.closers, fullMon.Close, readOnlyMon.Close)
	full, readOnly := adaptor.HTTPHandler(fullMon), adaptor.HTTPHandler(readOnlyMon)
	handler := func(ctx *fiber.Ctx) error {
		_, password, ok := basicAuth(ctx.Get(fiber.HeaderAuthorization))
		if !ok || password == "" {
			ctx.Set(fiber.HeaderWWWAuthenticate, `Basic realm="proofgrid monitor", charset="UTF-8"`)
			return ctx.Status(fiber.StatusUnauthorized).SendString("log in with any user name and an API token (or admin JWT) as the password\n")
		}
		p, err := c.Auth.Authenticate(ctx.UserContext(), password)
		if err != nil {
			ctx.Set(fiber.HeaderWWWAuthenticate, `Basic realm="proofgrid monitor", charset="UTF-8"`)
			return ctx.Status(fiber.StatusUnauthorized).SendString(proofgrid.ErrorMessage(err) + "\n")
		}
		if p.IsAdmin() {
			return full(ctx)
		}
		return readOnly(ctx)
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
	m.requests.WithLabelValues(c.Method(), route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(c.Method(), route).Observe(time.Since(start).Seconds())
	return err
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
