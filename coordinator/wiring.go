package coordinator

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid/claims"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/rewards"
)

// wiring is what a surface's wire function adds to: routes, the error
// style of its prefix, the service its task handlers call (tasks.go
// registers the handlers), periodic tasks and background loops. Each
// surface has its own wire_<surface>.go, so the surfaces stay out of each
// other's way. The reward pipeline is wired first, because surfaces record
// jobs with it.
type wiring struct {
	rewards  *rewards.Service
	app      *fiber.App
	styles   *web.Styles
	tasks    *tasks
	periodic []queue.Periodic
	// background loops run with the scheduler role until its context
	// ends (e.g. a block source polling a node).
	background []func(context.Context)
	// recipients is how epochs find each account's payout recipient; the
	// Pool's wire function sets it before wireClaims runs (default: every
	// account is paid itself).
	recipients claims.RecipientsFunc
}
