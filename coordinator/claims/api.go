// Package claims is the Merkle claim surface of the Pool: the claim routes
// (mounted at MERKLE_CLAIM_PATH_PREFIX, default /claims, or standalone
// without a prefix), the admin routes that grant rewards and close epochs
// (/api/v1/admin/rewards, /api/v1/admin/epochs), and the root OpenAPI
// document (/openapi.json, /docs, /redoc). It is thin: the rules are in
// package claims.
package claims

import (
	"bufio"
	"context"
	"math/big"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/claims"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/merkle"
	"github.com/proofgrid/proofgrid/storage"
)

// DefaultPrefix is where the claim routes are mounted by default.
const DefaultPrefix = "/claims"

// AdminPrefix holds the admin routes of the ledger.
const AdminPrefix = "/api/v1/admin"

// Config configures the claim surface. Zero values mean defaults.
type Config struct {
	// Disabled leaves the claim routes unmounted (MERKLE_CLAIM_ENABLED=false).
	// The admin routes and the merkle:epoch task run either way.
	Disabled bool
	// PathPrefix is where the claim routes are mounted
	// (MERKLE_CLAIM_PATH_PREFIX, default /claims).
	PathPrefix string
	// Simulation registers POST claim and the claim ledger routes
	// (PROOFGRID_CLAIM_SIMULATION; off by default, on in `make run`).
	Simulation bool
	// EpochLength is how often the merkle:epoch periodic task closes an
	// epoch (PROOFGRID_EPOCH_LENGTH, default 24 h).
	EpochLength time.Duration
}

// Resolve fills in defaults.
func (c *Config) Resolve() {
	if c.PathPrefix == "" {
		c.PathPrefix = DefaultPrefix
	}
	c.PathPrefix = "/" + strings.Trim(c.PathPrefix, "/")
	if c.EpochLength <= 0 {
		c.EpochLength = 24 * time.Hour
	}
}

// API serves the claim and admin routes.
type API struct {
	Claims *claims.Claims
	Ledger *claims.Ledger
	Epochs *claims.Epochs
	Auth   web.Authenticator
	// Simulation registers POST claim and the ledger routes.
	Simulation bool
	Now        func() time.Time
}

// Body caps.
const (
	maxGrantBody = 4 << 20
	maxClaimBody = 16 << 10
)

// MountClaims registers the claim routes on r: a group at the prefix, or a
// standalone app's root. Specific routes come before /epoch/:epoch_id/...
// so that "proof" and "claim" are never read as epoch ids.
func (a *API) MountClaims(r fiber.Router) {
	r.Get("/health", a.health)
	r.Get("/epochs", a.epochs)
	r.Get("/epoch", a.epoch)
	r.Get("/epoch/proof/:hotkey", a.pkg)
	r.Get("/epoch/claim/:hotkey", a.pkg)
	r.Get("/epoch/:epoch_id", a.epoch)
	r.Get("/epoch/:epoch_id/proof/:hotkey", a.pkg)
	r.Get("/epoch/:epoch_id/claim/:hotkey", a.pkg)
	r.Get("/epoch/:epoch_id/tree", a.tree)
	if a.Simulation {
		r.Post("/epoch/claim", web.LimitBody(maxClaimBody), a.claim)
		r.Post("/epoch/:epoch_id/claim", web.LimitBody(maxClaimBody), a.claim)
		r.Get("/ledger", a.ledger)
		r.Get("/ledger/:epoch_id", a.ledger)
	}
}

// MountAdmin registers the admin routes (admin token or admin JWT).
func (a *API) MountAdmin(app fiber.Router) {
	admin := web.RequireOperator(a.Auth) // grants and epochs are global
	app.Post(AdminPrefix+"/rewards", admin, web.LimitBody(maxGrantBody), a.grant)
	app.Post(AdminPrefix+"/epochs", admin, web.LimitBody(1<<10), a.closeEpoch)
}

// Epoch is an epoch as the routes show it.
type Epoch struct {
	Epoch        int64      `json:"epoch"`
	Root         string     `json:"root"`
	LeafCount    int64      `json:"leaf_count"`
	EntryCount   int64      `json:"entry_count"`
	TotalUnits   string     `json:"total_units"`
	NewUnits     string     `json:"new_units"`
	CutoffAt     time.Time  `json:"cutoff_at"`
	PublishedAt  *time.Time `json:"published_at"`
	LeafEncoding []string   `json:"leaf_encoding"`
	Domain       string     `json:"domain"`
}

func epochOf(e storage.LedgerEpoch) Epoch {
	return Epoch{Epoch: e.ID, Root: merkle.Hex(e.Root), LeafCount: e.LeafCount, EntryCount: e.EntryCount,
		TotalUnits: e.TotalUnits.String(), NewUnits: e.NewUnits.String(), CutoffAt: e.Cutoff, PublishedAt: e.PublishedAt,
		LeafEncoding: merkle.LeafEncoding(), Domain: merkle.Domain}
}

func (a *API) health(c *fiber.Ctx) error {
	body := fiber.Map{"status": "ok", "service": "merkle-claims", "simulation": a.Simulation, "latest_epoch": nil}
	if ep, err := a.Claims.Epoch(c.UserContext(), 0); err == nil {
		body["latest_epoch"] = ep.ID
	} else if proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
		return err
	}
	return c.JSON(body)
}

func (a *API) epochs(c *fiber.Ctx) error {
	limit, err := web.IntQuery(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	eps, err := a.Claims.Epochs(c.UserContext(), limit)
	if err != nil {
		return err
	}
	out := make([]Epoch, 0, len(eps))
	for _, e := range eps {
		out = append(out, epochOf(e))
	}
	var def any
	if len(eps) > 0 {
		def = eps[0].ID
	}
	return c.JSON(fiber.Map{"default_epoch": def, "epochs": out})
}

// epochParam reads :epoch_id; 0 (absent) is the latest epoch.
func epochParam(c *fiber.Ctx) (int64, error) {
	raw := c.Params("epoch_id")
	if raw == "" {
		return 0, nil
	}
	return claims.EpochID(raw)
}

func (a *API) epoch(c *fiber.Ctx) error {
	id, err := epochParam(c)
	if err != nil {
		return err
	}
	ep, err := a.Claims.Epoch(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(epochOf(ep))
}

func (a *API) pkg(c *fiber.Ctx) error {
	id, err := epochParam(c)
	if err != nil {
		return err
	}
	p, err := a.Claims.Package(c.UserContext(), id, c.Params("hotkey"))
	if err != nil {
		return err
	}
	return c.JSON(p)
}

// tree streams the epoch's OpenZeppelin standard-v1 dump.
func (a *API) tree(c *fiber.Ctx) error {
	id, err := epochParam(c)
	if err != nil {
		return err
	}
	// Look the epoch up first so that a missing one is a 404, not a
	// broken stream.
	if _, err := a.Claims.Epoch(c.UserContext(), id); err != nil {
		return err
	}
	ctx := context.WithoutCancel(c.UserContext())
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		_ = a.Claims.WriteDump(ctx, w, id)
		_ = w.Flush()
	})
	return nil
}

func (a *API) claim(c *fiber.Ctx) error {
	id, err := epochParam(c)
	if err != nil {
		return err
	}
	// A claim package is accepted as it is: its other fields are
	// informational and the proof is checked against the epoch's root.
	var req struct {
		claims.ClaimRequest
		Epoch     any `json:"epoch"`
		Root      any `json:"root"`
		Account   any `json:"account"`
		Recipient any `json:"recipient"`
		Value     any `json:"value"`
		Leaf      any `json:"leaf"`
	}
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	res, err := a.Claims.Claim(c.UserContext(), id, req.ClaimRequest)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (a *API) ledger(c *fiber.Ctx) error {
	id, err := epochParam(c)
	if err != nil {
		return err
	}
	l, err := a.Claims.Ledger(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(l)
}

// grantRequest is the body of POST /api/v1/admin/rewards.
type grantRequest struct {
	RequestID string `json:"request_id"`
	Entries   []struct {
		Hotkey      string `json:"hotkey"`
		AmountUnits string `json:"amount_units"`
		Reason      string `json:"reason"`
	} `json:"entries"`
}

func (a *API) grant(c *fiber.Ctx) error {
	var req grantRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if len(req.Entries) > claims.MaxGrants {
		return proofgrid.Errorf(proofgrid.EINVALID, "a request grants at most %d entries, got %d", claims.MaxGrants, len(req.Entries))
	}
	grants := make([]claims.Grant, len(req.Entries))
	total := new(big.Int)
	for i, e := range req.Entries {
		v, err := claims.ParseUnits(e.AmountUnits)
		if err != nil {
			return proofgrid.Errorf(proofgrid.EINVALID, "entries[%d]: %s", i, proofgrid.ErrorMessage(err))
		}
		grants[i] = claims.Grant{Hotkey: e.Hotkey, Amount: v, Reason: e.Reason}
		total.Add(total, v)
	}
	n, err := a.Ledger.Grant(c.UserContext(), req.RequestID, grants)
	if err != nil {
		return err
	}
	status := fiber.StatusCreated
	if n == 0 {
		status = fiber.StatusOK // a replay of a request id seen before
	}
	return c.Status(status).JSON(fiber.Map{"request_id": strings.TrimSpace(req.RequestID), "entries": len(grants),
		"created": n, "total_units": total.String()})
}

func (a *API) closeEpoch(c *fiber.Ctx) error {
	ep, ok, err := a.Epochs.Close(c.UserContext(), a.Now())
	if err != nil {
		return err
	}
	if !ok {
		return c.JSON(fiber.Map{"published": false, "epoch": nil, "reason": "no ledger entries since the latest epoch"})
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"published": true, "epoch": epochOf(ep)})
}
