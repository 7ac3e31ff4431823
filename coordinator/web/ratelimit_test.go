package web_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/internal/clocktest"
	"github.com/proofgrid/proofgrid/queue/queuetest"
	"github.com/proofgrid/proofgrid/ratelimit"
)

func TestRateLimit(t *testing.T) {
	r := queuetest.StartRedis(t, queuetest.Options{})
	clk := clocktest.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	l := ratelimit.New(r.Client(), ratelimit.Config{Limit: 2, Window: time.Minute, Now: clk.Now})
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	app := fiber.New(fiber.Config{ErrorHandler: web.ErrorHandler(&web.Styles{}, logger)})
	app.Get("/x", web.RateLimit{Limiter: l, Key: func(*fiber.Ctx) string { return "k" }, Logger: logger}.Handler(),
		func(c *fiber.Ctx) error { return c.SendString("ok") })
	do := func() (int, map[string]string, string) {
		resp, err := app.Test(httptest.NewRequest("GET", "/x", nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		h := map[string]string{}
		for _, k := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"} {
			h[k] = resp.Header.Get(k)
		}
		return resp.StatusCode, h, string(b)
	}
	for i := range 2 {
		status, h, _ := do()
		if status != 200 || h["X-RateLimit-Limit"] != "2" || h["X-RateLimit-Remaining"] != string(rune('1'-i)) {
			t.Fatalf("request %d: %d %v", i, status, h)
		}
		clk.Advance(20 * time.Second)
	}
	status, h, body := do()
	// The first request leaves the window 60 s after it, 20 s from now.
	if status != 429 || h["Retry-After"] != "20" || h["X-RateLimit-Reset"] != "1735689660" || !strings.Contains(body, "rate_limited") {
		t.Fatalf("third request: %d %v %s", status, h, body)
	}

	// Without Redis requests go through, and the failure is logged once.
	r.Stop()
	for range 3 {
		if status, h, _ := do(); status != 200 || h["X-RateLimit-Limit"] != "" {
			t.Fatalf("Redis down: %d %v", status, h)
		}
	}
	if n := strings.Count(logs.String(), "rate limit unavailable"); n != 1 || !strings.Contains(logs.String(), "unchecked=1") {
		t.Fatalf("log lines about Redis: %d\n%s", n, logs.String())
	}
}

func TestLimitBody(t *testing.T) {
	app := fiber.New(fiber.Config{ErrorHandler: web.ErrorHandler(&web.Styles{}, slog.New(slog.NewTextHandler(io.Discard, nil)))})
	app.Post("/x", web.LimitBody(10), func(c *fiber.Ctx) error { return c.Send(c.Request().Body()) })
	for body, want := range map[string]int{"0123456789": 200, "0123456789a": 413} {
		resp, err := app.Test(httptest.NewRequest("POST", "/x", strings.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want || (want == 200 && string(b) != body) {
			t.Errorf("%q: %d %s, want %d", body, resp.StatusCode, b, want)
		}
	}
}
