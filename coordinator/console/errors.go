package console

import (
	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
)

// errorData is an error page: what went wrong, what it means and what to
// do about it.
type errorData struct {
	Status  int
	Code    string
	Message string
	Meaning string
	Advice  string
	SignIn  bool
}

// advice explains each error code to a person.
var advice = map[string][2]string{
	proofgrid.EUNAUTHORIZED: {"The console does not know who you are.", "Sign in again with a team token (pg_…) or an operator token (pgo_…)."},
	proofgrid.EFORBIDDEN:    {"You are signed in, but this is not allowed for your credential.", "Reload the page and try again; if it persists, ask an operator for a credential with the rights you need."},
	proofgrid.ENOTFOUND:     {"Nothing by that name is visible to your team: it does not exist, or it belongs to another team.", "Go back to the list and pick it from there."},
	proofgrid.EINVALID:      {"The request had a value the console cannot use.", "Check the address or the form and try again."},
	proofgrid.ECONFLICT:     {"The request conflicts with what is stored.", "Reload the page to see the current state."},
}

// errorPage renders err as a page (or a short fragment for live refresh)
// with the status of its code. Internal errors are logged, not shown.
func (c *Console) errorPage(ctx *fiber.Ctx, v *visit, err error) error {
	code := proofgrid.ErrorCode(err)
	status := proofgrid.HTTPStatus(code)
	d := errorData{Status: status, Code: code, Message: proofgrid.ErrorMessage(err)}
	if a, ok := advice[code]; ok {
		d.Meaning, d.Advice = a[0], a[1]
	} else {
		c.cfg.Logger.Error("console request failed", "path", ctx.Path(), "err", err)
		d.Meaning = "The coordinator could not finish the request: the database or Redis may be unavailable."
		d.Advice = "Try again in a minute; if it persists, check the coordinator's logs and /readyz."
	}
	d.SignIn = code == proofgrid.EUNAUTHORIZED
	if fragment(ctx) {
		return c.send(ctx, status, []byte(`<p class="error" role="alert">`+templateEscape(d.Message)+` — `+templateEscape(d.Advice)+`</p>`))
	}
	return c.render(ctx, status, "error", pageData{Title: "Error", Visit: v, Data: d})
}
