package web_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/coordinator/web"
)

func TestStylesLongestPrefixWins(t *testing.T) {
	var s web.Styles
	s.Add("/v1", web.StyleIvynet)
	s.Add("/api/v0", web.StyleEthproofs)
	s.Add("/api/v0/admin", web.StylePsy)
	for path, want := range map[string]web.Style{
		"/v1": web.StyleIvynet, "/v1/client/status": web.StyleIvynet, "/v10": web.StylePlain,
		"/api/v0/proofs": web.StyleEthproofs, "/api/v0/admin/x": web.StylePsy, "/elsewhere": web.StylePlain,
	} {
		if got := s.For(path); got != want {
			t.Errorf("For(%q) = %v, want %v", path, got, want)
		}
	}
}

// Each surface's error shape, from one classified error.
func TestErrorShapes(t *testing.T) {
	var s web.Styles
	s.Add("/v1", web.StyleIvynet)
	s.Add("/api/v0", web.StyleEthproofs)
	s.Add("/psy", web.StylePsy)
	s.Add("/pool", web.StyleDetail)
	app := fiber.New(fiber.Config{ErrorHandler: web.ErrorHandler(&s, slog.New(slog.NewTextHandler(io.Discard, nil)))})
	app.All("/*", func(c *fiber.Ctx) error {
		if c.Query("internal") != "" {
			return io.ErrUnexpectedEOF // not a proofgrid error: hidden from the caller
		}
		return &proofgrid.Error{Code: proofgrid.ECONFLICT, Message: "already proved", Details: []string{"block 7"}}
	})
	for _, c := range []struct {
		path, want string
		status     int
	}{
		{"/proofgrid/x", `{"code":"conflict","details":["block 7"],"error":"already proved"}`, 409},
		{"/v1/x", `{"error":["already proved","block 7"],"result":null}`, 409},
		{"/api/v0/x", `{"error":"already proved"}`, 409},
		{"/psy/x", `{"details":"block 7","error":"already proved"}`, 409},
		{"/pool/x", `{"detail":"already proved"}`, 409},
		{"/api/v0/x?internal=1", `{"error":"internal error"}`, 500},
	} {
		resp, err := app.Test(httptest.NewRequest("GET", c.path, nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		var got, want any
		json.Unmarshal(b, &got)
		json.Unmarshal([]byte(c.want), &want)
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if resp.StatusCode != c.status || string(gb) != string(wb) {
			t.Errorf("%s: %d %s, want %d %s", c.path, resp.StatusCode, b, c.status, c.want)
		}
	}
}

func TestQueryHelpers(t *testing.T) {
	app := fiber.New(fiber.Config{ErrorHandler: web.ErrorHandler(&web.Styles{}, slog.New(slog.NewTextHandler(io.Discard, nil)))})
	app.Get("/int", func(c *fiber.Ctx) error {
		n, err := web.IntQuery(c, "limit", 100, 1, 1000)
		if err != nil {
			return err
		}
		return c.JSON(n)
	})
	app.Get("/clamp", func(c *fiber.Ctx) error {
		n, err := web.ClampQuery(c, "limit", 300, 1, 1000)
		if err != nil {
			return err
		}
		return c.JSON(n)
	})
	for path, want := range map[string]string{
		"/int": "100", "/int?limit=7": "7", "/int?limit=0": "400", "/int?limit=1001": "400", "/int?limit=x": "400",
		"/clamp": "300", "/clamp?limit=0": "1", "/clamp?limit=5000": "1000", "/clamp?limit=x": "400",
	} {
		resp, _ := app.Test(httptest.NewRequest("GET", path, nil))
		b, _ := io.ReadAll(resp.Body)
		got := string(b)
		if resp.StatusCode != 200 {
			got = "400"
			if resp.StatusCode != 400 {
				got = resp.Status
			}
		}
		if got != want {
			t.Errorf("%s: got %s, want %s", path, got, want)
		}
	}
}
