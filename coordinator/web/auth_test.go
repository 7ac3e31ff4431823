package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator/web"
)

// principals is an Authenticator that knows a fixed set of credentials.
type principals map[string]auth.Principal

func (m principals) Authenticate(_ context.Context, credential string) (auth.Principal, error) {
	p, ok := m[credential]
	if !ok {
		return auth.Principal{}, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "unknown token")
	}
	return p, nil
}

// TestRequireOperator checks that a team's admin token passes
// RequireToken(admin) but not RequireOperator, which only operator
// credentials pass.
func TestRequireOperator(t *testing.T) {
	a := principals{
		"read":     {TeamID: 1, Mode: auth.ModeRead},
		"admin":    {TeamID: 1, Mode: auth.ModeAdmin},
		"operator": {TeamID: 2, Mode: auth.ModeAdmin, Operator: true},
		"jwt":      {Mode: auth.ModeAdmin, Operator: true},
	}
	var s web.Styles
	app := fiber.New(fiber.Config{ErrorHandler: web.ErrorHandler(&s, slog.New(slog.NewTextHandler(io.Discard, nil)))})
	ok := func(c *fiber.Ctx) error {
		p, _ := web.PrincipalOf(c)
		return c.SendString(p.Mode)
	}
	app.Get("/team", web.RequireToken(a, auth.ModeAdmin), ok)
	app.Get("/global", web.RequireOperator(a), ok)
	for _, c := range []struct {
		path, token string
		status      int
	}{
		{"/team", "", 401},
		{"/team", "read", 403},
		{"/team", "admin", 200},
		{"/team", "operator", 200},
		{"/global", "", 401},
		{"/global", "nope", 401},
		{"/global", "read", 403},
		{"/global", "admin", 403},
		{"/global", "operator", 200},
		{"/global", "jwt", 200},
	} {
		req := httptest.NewRequest("GET", c.path, nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != c.status {
			t.Errorf("%s with %q: %d, want %d", c.path, c.token, resp.StatusCode, c.status)
		}
	}
}
