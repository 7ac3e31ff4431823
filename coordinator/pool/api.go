// Package pool serves the mining Pool surface: miner registration, stats
// and leaderboard, the payout recipient coldkey, leases and batches of
// algorithms to evaluate and evolve, verified results and the SOTA
// threshold, and the disclaimer, at /api/v1 plus the root compatibility
// routes /coldkey_address/update and /disclaimer.md. Errors are FastAPI's
// {"detail": "..."}. Signed routes carry X-Key, X-Timestamp and
// X-Signature (see auth/minerauth and docs/pool.md).
package pool

import (
	_ "embed"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth/minerauth"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/pool"
	"github.com/proofgrid/proofgrid/storage"
)

// Prefixes are the path prefixes of the surface, for its error style.
var Prefixes = []string{"/api/v1", "/coldkey_address", "/disclaimer.md"}

// Body caps.
const (
	maxSmallBody  = 8 << 10
	maxSubmitBody = 256 << 10
)

//go:embed disclaimer.md
var disclaimer string

// DisclaimerVersion dates the disclaimer text.
const DisclaimerVersion = "2025-01-01"

// API serves the routes.
type API struct {
	Service  *pool.Service
	Verifier *minerauth.Verifier
}

const localMiner = "pool_miner"

// Mount registers the routes on app. /health is the coordinator's.
func (a *API) Mount(app fiber.Router) {
	signed := a.requireMiner
	small, submit := web.LimitBody(maxSmallBody), web.LimitBody(maxSubmitBody)

	app.Get("/api/v1/disclaimer", a.disclaimerJSON)
	app.Get("/api/v1/disclaimer.md", a.disclaimerMarkdown)
	app.Get("/disclaimer.md", a.disclaimerMarkdown)

	app.Post("/api/v1/miners/register", small, signed, a.register)
	app.Get("/api/v1/miners/stats", signed, a.stats)
	app.Get("/api/v1/miners/leaderboard", a.leaderboard)
	app.Put("/api/v1/miners/recipient-coldkey", small, a.updateRecipient)
	app.Post("/api/v1/miners/recipient-coldkey", small, a.updateRecipient)
	app.Post("/api/v1/miners/coldkey_address/update", small, a.updateRecipient)
	app.Post("/coldkey_address/update", small, a.updateRecipient)
	app.Get("/api/v1/miners/recipient-coldkey", signed, a.ownRecipient)
	app.Get("/api/v1/miners/recipient-coldkey/:miner_hotkey", a.publicRecipient)

	app.Get("/api/v1/tasks/pending_evaluations", signed, a.pendingEvaluations)
	app.Post("/api/v1/tasks/request", small, signed, a.request)
	app.Post("/api/v1/tasks/lease", small, signed, a.lease)
	app.Post("/api/v1/tasks/:lease_id/submit_lease", submit, signed, a.submitLease)
	app.Post("/api/v1/tasks/:batch_id/submit_evolution", submit, signed, a.submitEvolution)
	app.Post("/api/v1/tasks/:batch_id/submit_evaluation", submit, signed, a.submitEvaluation)

	app.Get("/api/v1/results", signed, a.results)
	app.Get("/api/v1/results/sota", a.sota)
	app.Post("/api/v1/results/verify/:result_id", small, signed, a.verify)
}

// requireMiner authenticates a signed request (message auth:{timestamp})
// and stores the miner for the handler. Every failure is 401 with a body
// saying which header is missing, malformed, stale, replayed or wrong.
func (a *API) requireMiner(c *fiber.Ctx) error {
	m, err := a.Verifier.Authenticate(c.UserContext(), c.Get(minerauth.HeaderKey), c.Get(minerauth.HeaderTimestamp), c.Get(minerauth.HeaderSignature))
	if err != nil {
		return err
	}
	c.Locals(localMiner, m)
	return c.Next()
}

func minerOf(c *fiber.Ctx) minerauth.Miner {
	m, _ := c.Locals(localMiner).(minerauth.Miner)
	return m
}

// optionalJSON decodes a body when there is one: several Pool routes take
// an optional JSON object.
func optionalJSON(c *fiber.Ctx, v any) error {
	if len(strings.TrimSpace(string(c.Body()))) == 0 {
		return nil
	}
	return web.DecodeJSON(c, v)
}

func (a *API) disclaimerJSON(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"title": "Pool disclaimer", "version": DisclaimerVersion, "format": "markdown", "disclaimer": disclaimer})
}

func (a *API) disclaimerMarkdown(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/markdown; charset=utf-8")
	return c.SendString(disclaimer)
}

// Miners.

func minerJSON(m storage.PoolMiner) fiber.Map {
	return fiber.Map{"hotkey": m.Hotkey, "recipient_coldkey": nullable(m.RecipientColdkey), "reputation": m.Reputation,
		"registered_at": m.RegisteredAt, "last_seen_at": m.LastSeenAt}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (a *API) register(c *fiber.Ctx) error {
	var body struct{}
	if err := optionalJSON(c, &body); err != nil {
		return err
	}
	m, created, err := a.Service.Register(c.UserContext(), minerOf(c).Hotkey)
	if err != nil {
		return err
	}
	out := minerJSON(m)
	out["registered"], out["created"] = true, created
	if created {
		c.Status(fiber.StatusCreated)
	}
	return c.JSON(out)
}

func (a *API) stats(c *fiber.Ctx) error {
	ctx := c.UserContext()
	st, err := a.Service.Stats(ctx, minerOf(c).Hotkey)
	if err != nil {
		return err
	}
	counts, err := a.Service.Counts(ctx)
	if err != nil {
		return err
	}
	out := minerJSON(st.PoolMiner)
	out["evaluations"] = fiber.Map{"submitted": st.Evaluations, "agreed": st.Agreed, "outliers": st.Outliers}
	out["evolutions"] = fiber.Map{"submitted": st.Evolutions, "verified": st.VerifiedEvolutions}
	out["rewards_units"] = st.Rewarded.String()
	var active any
	if st.Active != nil {
		active = fiber.Map{"id": st.Active.ID, "kind": st.Active.Kind, "task_type": st.Active.TaskType, "expires_at": st.Active.ExpiresAt}
	}
	out["active_assignment"] = active
	cfg := a.Service.Config()
	w := a.Service.Window()
	out["pool"] = fiber.Map{
		"miners": counts.Miners, "algorithms": counts.Algorithms, "pending_results": counts.Pending,
		"verified_results": counts.Verified, "disputed_results": counts.Disputed, "evaluations": counts.Evaluations,
		"active_assignments": counts.ActiveAssignments, "window": w.Number, "window_started_at": w.Start,
		"window_ends_at": w.End, "window_pool_units": cfg.Pool().String(), "min_activity": cfg.MinActivity,
		"consensus": fiber.Map{"k": cfg.K, "n": cfg.N, "tolerance": cfg.Tolerance},
	}
	return c.JSON(out)
}

func (a *API) leaderboard(c *fiber.Ctx) error {
	limit, err := web.IntQuery(c, "limit", 20, 1, 100)
	if err != nil {
		return err
	}
	rows, err := a.Service.Leaderboard(c.UserContext(), limit)
	if err != nil {
		return err
	}
	out := make([]fiber.Map, len(rows))
	for i, r := range rows {
		out[i] = fiber.Map{"rank": i + 1, "hotkey": r.Hotkey, "reputation": r.Reputation, "evaluations": r.Evaluations,
			"agreed": r.Agreed, "outliers": r.Outliers, "evolutions": r.Evolutions, "verified_evolutions": r.VerifiedEvolutions}
	}
	return c.JSON(fiber.Map{"miners": out, "count": len(out)})
}

// recipientBody is the body of a recipient update; coldkey_address is the
// legacy name of recipient_coldkey.
type recipientBody struct {
	RecipientColdkey *string `json:"recipient_coldkey"`
	ColdkeyAddress   *string `json:"coldkey_address"`
}

// updateRecipient authenticates the request with the recipient update
// message, which binds the recipient, and sets it.
func (a *API) updateRecipient(c *fiber.Ctx) error {
	key, ts, sig := c.Get(minerauth.HeaderKey), c.Get(minerauth.HeaderTimestamp), c.Get(minerauth.HeaderSignature)
	for _, h := range [][2]string{{minerauth.HeaderKey, key}, {minerauth.HeaderTimestamp, ts}, {minerauth.HeaderSignature, sig}} {
		if h[1] == "" {
			return proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "missing %s header", h[0])
		}
	}
	var body recipientBody
	if err := web.DecodeJSON(c, &body); err != nil {
		return err
	}
	var recipient string
	switch {
	case body.RecipientColdkey != nil && body.ColdkeyAddress != nil && *body.RecipientColdkey != *body.ColdkeyAddress:
		return proofgrid.Errorf(proofgrid.EINVALID, "recipient_coldkey and coldkey_address differ; send one of them")
	case body.RecipientColdkey != nil:
		recipient = *body.RecipientColdkey
	case body.ColdkeyAddress != nil:
		recipient = *body.ColdkeyAddress
	}
	m, err := a.Verifier.AuthenticateRecipientUpdate(c.UserContext(), key, ts, sig, recipient)
	if err != nil {
		return err
	}
	miner, err := a.Service.SetRecipient(c.UserContext(), m.Hotkey, recipient)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"hotkey": miner.Hotkey, "recipient_coldkey": miner.RecipientColdkey, "updated_at": miner.RecipientUpdatedAt,
		"coldkey_address": miner.RecipientColdkey})
}

func recipientJSON(m storage.PoolMiner) fiber.Map {
	return fiber.Map{"hotkey": m.Hotkey, "miner_hotkey": m.Hotkey, "recipient_coldkey": nullable(m.RecipientColdkey),
		"updated_at": m.RecipientUpdatedAt}
}

func (a *API) ownRecipient(c *fiber.Ctx) error {
	m, err := a.Service.Miner(c.UserContext(), minerOf(c).Hotkey)
	if err != nil {
		return err
	}
	return c.JSON(recipientJSON(m))
}

func (a *API) publicRecipient(c *fiber.Ctx) error {
	pub, _, err := minerauth.DecodeSS58(c.Params("miner_hotkey"))
	if err != nil {
		return proofgrid.Errorf(proofgrid.EINVALID, "miner_hotkey is not a valid SS58 address: %s", proofgrid.ErrorMessage(err))
	}
	m, err := a.Service.PublicMiner(c.UserContext(), minerauth.Address(pub))
	if err != nil {
		return err
	}
	return c.JSON(recipientJSON(m))
}

// Tasks.

func algorithmJSON(al storage.PoolAlgorithm) fiber.Map {
	parents := al.ParentIDs
	if parents == nil {
		parents = []int64{}
	}
	return fiber.Map{"algorithm_id": al.ID, "algorithm_dsl": al.DSL, "task_type": al.TaskType, "name": al.Name,
		"origin": al.Origin, "parent_algorithm_ids": parents, "status": al.Status, "score": score(al.ScoreMicros),
		"evaluations": al.Evaluations}
}

func algorithmsJSON(as []storage.PoolAlgorithm) []fiber.Map {
	out := make([]fiber.Map, len(as))
	for i, al := range as {
		out[i] = algorithmJSON(al)
	}
	return out
}

func score(m *int64) any {
	if m == nil {
		return nil
	}
	return pool.Score(*m)
}

func (a *API) assignmentJSON(as pool.Assignment) fiber.Map {
	out := fiber.Map{"task_type": as.TaskType, "kind": as.Kind, "expires_at": as.ExpiresAt, "created_at": as.CreatedAt,
		"evolve_budget": as.EvolveBudget}
	if as.WindowStart != nil {
		out["sim_window_number"] = *as.WindowStart / int64(a.Service.Config().WindowLength/time.Second)
	}
	switch as.Kind {
	case pool.KindLease:
		out["lease_id"] = as.ID
		out["evaluate_algorithms"] = algorithmsJSON(as.Evaluate)
		out["seed_algorithms"] = algorithmsJSON(as.Seeds)
		out["gossip"] = fiber.Map{"task_type": as.TaskType, "algorithms": algorithmsJSON(as.Gossip)}
	case pool.KindEvaluate:
		out["batch_id"] = as.ID
		out["evaluate_algorithms"] = algorithmsJSON(as.Evaluate)
		out["algorithms"] = out["evaluate_algorithms"]
	default:
		out["batch_id"] = as.ID
		out["seed_algorithms"] = algorithmsJSON(as.Seeds)
		out["algorithms"] = out["seed_algorithms"]
	}
	return out
}

func (a *API) pendingEvaluations(c *fiber.Ctx) error {
	as, err := a.Service.Pending(c.UserContext(), minerOf(c).Hotkey)
	if err != nil {
		return err
	}
	list := []fiber.Map{}
	if as != nil {
		m := a.assignmentJSON(*as)
		m["id"] = as.ID
		list = append(list, m)
	}
	return c.JSON(fiber.Map{"count": len(list), "assignments": list})
}

func (a *API) request(c *fiber.Ctx) error {
	var req pool.TaskRequest
	if err := optionalJSON(c, &req); err != nil {
		return err
	}
	tt, err := pool.ValidateTaskType(a.Service.Config(), req.TaskType)
	if err != nil {
		return err
	}
	as, err := a.Service.Request(c.UserContext(), minerOf(c).Hotkey, tt)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(a.assignmentJSON(as))
}

func (a *API) lease(c *fiber.Ctx) error {
	var req pool.LeaseRequest
	if err := optionalJSON(c, &req); err != nil {
		return err
	}
	p, err := pool.ValidateLease(a.Service.Config(), req)
	if err != nil {
		return err
	}
	as, err := a.Service.Lease(c.UserContext(), minerOf(c).Hotkey, p)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(a.assignmentJSON(as))
}

func receiptJSON(r pool.Receipt) fiber.Map {
	evos := make([]fiber.Map, len(r.Evolutions))
	accepted := 0
	for i, e := range r.Evolutions {
		evos[i] = fiber.Map{"algorithm_id": e.AlgorithmID, "duplicate": e.Duplicate}
		if !e.Duplicate {
			accepted++
		}
	}
	return fiber.Map{"id": r.AssignmentID, "kind": r.Kind, "status": pool.AssignmentSubmitted,
		"evaluations_accepted": r.Accepted, "evaluations_late": r.Late, "evolutions_accepted": accepted,
		"evolutions": evos, "gossip_accepted": r.GossipAccepted, "window_started_at": r.WindowStart}
}

func assignmentID(c *fiber.Ctx, name string) (string, error) {
	id := c.Params(name)
	if len(id) == 0 || len(id) > 64 {
		return "", proofgrid.Errorf(proofgrid.EINVALID, "%s must be the id a lease or batch was handed out with", name)
	}
	return id, nil
}

func (a *API) submitLease(c *fiber.Ctx) error {
	id, err := assignmentID(c, "lease_id")
	if err != nil {
		return err
	}
	var sub pool.LeaseSubmission
	if err := web.DecodeJSON(c, &sub); err != nil {
		return err
	}
	r, err := a.Service.SubmitLease(c.UserContext(), minerOf(c).Hotkey, id, sub)
	if err != nil {
		return err
	}
	return c.JSON(receiptJSON(r))
}

func (a *API) submitEvaluation(c *fiber.Ctx) error {
	id, err := assignmentID(c, "batch_id")
	if err != nil {
		return err
	}
	var sub pool.EvaluationSubmission
	if err := web.DecodeJSON(c, &sub); err != nil {
		return err
	}
	r, err := a.Service.SubmitEvaluation(c.UserContext(), minerOf(c).Hotkey, id, sub)
	if err != nil {
		return err
	}
	return c.JSON(receiptJSON(r))
}

func (a *API) submitEvolution(c *fiber.Ctx) error {
	id, err := assignmentID(c, "batch_id")
	if err != nil {
		return err
	}
	var sub pool.EvolutionSubmission
	if err := web.DecodeJSON(c, &sub); err != nil {
		return err
	}
	r, err := a.Service.SubmitEvolution(c.UserContext(), minerOf(c).Hotkey, id, sub)
	if err != nil {
		return err
	}
	return c.JSON(receiptJSON(r))
}

// Results.

func resultJSON(al storage.PoolAlgorithm) fiber.Map {
	m := algorithmJSON(al)
	m["result_id"] = al.ID
	m["miner_hotkey"] = nullable(al.Author)
	m["verified_at"] = al.VerifiedAt
	m["reason"] = nullable(al.Reason)
	return m
}

func (a *API) results(c *fiber.Ctx) error {
	limit, err := web.IntQuery(c, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	f := storage.PoolResultFilter{Limit: limit}
	if tt := c.Query("task_type"); tt != "" {
		if f.TaskType, err = pool.ValidateTaskType(a.Service.Config(), &tt); err != nil {
			return err
		}
	}
	if raw := c.Query("min_score"); raw != "" {
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(v) {
			return proofgrid.Errorf(proofgrid.EINVALID, "min_score must be a number, got %q", raw)
		}
		m, err := pool.ScoreMicros("min_score", v)
		if err != nil {
			return err
		}
		f.MinMicros = &m
	}
	rows, err := a.Service.Results(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]fiber.Map, len(rows))
	for i, r := range rows {
		out[i] = resultJSON(r)
	}
	return c.JSON(fiber.Map{"results": out, "count": len(out)})
}

func (a *API) sota(c *fiber.Ctx) error {
	tt := c.Query("task_type")
	taskType, err := pool.ValidateTaskType(a.Service.Config(), &tt)
	if err != nil {
		return err
	}
	best, err := a.Service.SOTA(c.UserContext(), taskType)
	if err != nil {
		return err
	}
	out := fiber.Map{"task_type": taskType, "sota_threshold": nil, "result_id": nil, "algorithm_id": nil, "miner_hotkey": nil, "verified_at": nil}
	if best != nil {
		out["sota_threshold"] = score(best.ScoreMicros)
		out["result_id"], out["algorithm_id"] = best.ID, best.ID
		out["miner_hotkey"], out["verified_at"] = nullable(best.Author), best.VerifiedAt
	}
	return c.JSON(out)
}

func (a *API) verify(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("result_id"), 10, 64)
	if err != nil || id < 1 {
		return proofgrid.Errorf(proofgrid.EINVALID, "result_id must be a positive integer, got %q", c.Params("result_id"))
	}
	// Like every other signed route, this one is for registered miners.
	if _, err := a.Service.Miner(c.UserContext(), minerOf(c).Hotkey); err != nil {
		return err
	}
	v, err := a.Service.VerifyResult(c.UserContext(), id)
	if err != nil {
		return err
	}
	out := resultJSON(v.Result)
	out["verified"] = true
	return c.JSON(out)
}

// HealthFields are the Pool's fields of the shared /health.
func HealthFields(s *pool.Service) fiber.Map {
	w := s.Window()
	return fiber.Map{"window": w.Number, "window_started_at": w.Start, "window_ends_at": w.End,
		"tempo_seconds": int64(w.Length / time.Second), "onchain": "disabled", "window_pool_units": s.Config().Pool().String()}
}
