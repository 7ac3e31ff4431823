// Package psy serves the Psy API at the root paths: registration, worker
// and user events with their aggregations, statistics, job status,
// rewards, the leaderboard, checkpoints, contracts and the /ws/tps
// WebSocket. Errors are {"error", "details"}. proofgrid adds signed and
// admin ingest routes under /ingest (see docs/psy.md).
package psy

import (
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/psy"
	"github.com/proofgrid/proofgrid/ratelimit"
	"github.com/proofgrid/proofgrid/storage"
)

// Prefixes are the root path prefixes of the surface, for its error
// style.
var Prefixes = []string{
	"/register", "/user_info", "/worker_events", "/user_events", "/worker_events_aggregations",
	"/user_events_aggregations", "/stats", "/rewards", "/rewards_aggregations", "/leaderboard", "/checkpoint",
	"/admin", "/contracts", "/ws", "/ingest",
}

// Uploads are the ingest routes, whose batches may exceed the
// coordinator's app-wide body limit (web.BodyGuard); each reads its body
// with maxIngestBody after its authentication.
var Uploads = []string{
	fiber.MethodPost + " /ingest/worker_events",
	fiber.MethodPost + " /ingest/user_events",
	fiber.MethodPost + " /ingest/contracts",
}

// Body caps.
const (
	maxRegisterBody = 8 << 10
	maxIngestBody   = 4 << 20
)

// Query limits of the document.
const (
	defaultEventLimit  = 300
	maxEventLimit      = 1000
	defaultRewardLimit = 100
	maxLeaderboard     = 100
	maxHours           = 24 * 366
)

// API serves the routes.
type API struct {
	Service *psy.Service
	Auth    web.Authenticator
	// Limiter, when set, limits requests per client and sets the
	// X-RateLimit-* headers.
	Limiter *ratelimit.Limiter
	// Nonces refuses a replayed ingest request.
	Nonces web.NonceCache
	Hub    *Hub
	Now    func() time.Time
	// Logger gets the warnings of the rate limiter (default
	// slog.Default()).
	Logger *slog.Logger
}

// Mount registers the routes on app. /health is the coordinator's.
func (a *API) Mount(app fiber.Router) {
	// Limits count against the client address, not a bearer
	// credential: credentials are checked after the limiter, so keying on
	// them would let a client escape its limit with a new made-up token
	// each time.
	pre := []fiber.Handler{}
	if a.Limiter != nil {
		pre = append(pre, web.RateLimit{Limiter: a.Limiter, Prefix: "psy:", Logger: a.Logger}.Handler())
	}
	admin := web.RequireOperator(a.Auth) // rewards and ingest are global, not a team's
	get := func(path string, h ...fiber.Handler) {
		app.Get(path, append(append([]fiber.Handler{}, pre...), h...)...)
	}
	// The body is read after any authentication, right before the
	// route's own handler.
	post := func(path string, limit int, h ...fiber.Handler) {
		hs := append(append([]fiber.Handler{}, pre...), h[:len(h)-1]...)
		app.Post(path, append(hs, web.LimitBody(limit), h[len(h)-1])...)
	}

	post("/register", maxRegisterBody, a.register)
	get("/user_info", a.userInfo)
	get("/worker_events", a.workerEvents)
	get("/user_events", a.userEvents)
	get("/worker_events_aggregations", a.workerEventAggregations)
	get("/user_events_aggregations", a.userEventAggregations)

	get("/stats", a.stats)
	get("/stats/realms", a.realms)
	get("/stats/realms/:realm_id", a.realm)
	get("/stats/workers/:worker_public_key", a.worker)
	get("/stats/jobs", a.jobs)
	get("/stats/jobs/realm/:realm_id", a.jobsOfRealm)
	get("/stats/jobs/all-realms", a.jobsByRealm)
	get("/stats/jobs/counts", a.jobCounts)

	get("/rewards/:worker_public_key", a.legacyRewards)
	get("/rewards_aggregations/:worker_public_key", a.rewardAggregations)
	get("/leaderboard/workers", a.leaderboard)

	get("/checkpoint/stats", a.checkpointStats)
	get("/checkpoint/stats/:checkpoint_id", a.checkpointStatsOf)
	get("/checkpoint/job-events/:checkpoint_id", a.jobEvents)
	get("/checkpoint/summary/:checkpoint_id", a.summary)
	get("/checkpoint/distributions/:checkpoint_id", a.distributions)
	get("/checkpoint/rewards/:worker_public_key", a.workerRewards)
	get("/checkpoint/rewards/:worker_public_key/stats", a.workerRewardStats)
	post("/checkpoint/calculate-rewards/:checkpoint_id", 1<<10, admin, a.calculate)
	get("/admin/checkpoint-processing-status", admin, a.processing)

	get("/contracts", a.contracts)
	get("/contracts/:contract_uuid", a.contract)

	post("/ingest/worker_events", maxIngestBody, a.ingestWorkerEvents)
	post("/ingest/user_events", maxIngestBody, admin, a.ingestUserEvents)
	post("/ingest/contracts", maxIngestBody, admin, a.ingestContracts)

	if a.Hub != nil {
		get("/ws/tps", a.requireUpgrade, websocket.New(a.Hub.Serve, websocket.Config{
			ReadBufferSize: maxClientMessage, WriteBufferSize: 1024,
		}))
	}
}

func (a *API) requireUpgrade(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		return proofgrid.Errorf(proofgrid.EINVALID, "/ws/tps is a WebSocket: connect with an Upgrade: websocket request")
	}
	if !a.Hub.Admits(c.IP()) {
		return proofgrid.Errorf(proofgrid.ERATELIMIT, "too many /ws/tps connections from this address or in total; close one and retry")
	}
	return c.Next()
}

// Query helpers.

func int64Query(c *fiber.Ctx, name string) (*int64, error) {
	raw := c.Query(name)
	if raw == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, web.Invalid("%s must be an integer, got %q", name, raw)
	}
	return &n, nil
}

func int64Param(c *fiber.Ctx, name string) (int64, error) {
	n, err := strconv.ParseInt(c.Params(name), 10, 64)
	if err != nil {
		return 0, web.Invalid("%s must be an integer, got %q", name, c.Params(name))
	}
	return n, nil
}

// timeQuery parses an RFC 3339 time parameter.
func timeQuery(c *fiber.Ctx, name string) (*time.Time, error) {
	raw := c.Query(name)
	if raw == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return nil, web.Invalid("%s must be an RFC 3339 time such as 2024-01-01T00:00:00Z, got %q", name, raw)
	}
	t = t.UTC()
	return &t, nil
}

// ascending reads order=asc|desc (default desc).
func ascending(c *fiber.Ctx) (bool, error) {
	o := strings.ToLower(c.Query("order", "desc"))
	if err := web.OneOf("order", o, "asc", "desc"); err != nil {
		return false, err
	}
	return o == "asc", nil
}

// page reads offset (default 0, not negative) and limit (clamped into
// 1..hi, default def).
func page(c *fiber.Ctx, def, hi int) (offset, limit int, err error) {
	if offset, err = web.IntQuery(c, "offset", 0, 0, math.MaxInt32); err != nil {
		return 0, 0, err
	}
	limit, err = web.ClampQuery(c, "limit", def, 1, hi)
	return offset, limit, err
}

func workerKeyParam(c *fiber.Ctx) (string, error) {
	k := strings.TrimSpace(c.Params("worker_public_key"))
	if k == "" || len(k) > 200 {
		return "", web.Invalid("worker_public_key must be 1..200 characters")
	}
	return k, nil
}

// Handlers.

func (a *API) register(c *fiber.Ctx) error {
	var r psy.RegisterRequest
	if err := web.DecodeJSON(c, &r); err != nil {
		return err
	}
	u, err := a.Service.Register(c.UserContext(), r)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true, "user_id": strconv.FormatInt(u.ID, 10)})
}

func (a *API) userInfo(c *fiber.Ctx) error {
	k := c.Query("public_key")
	if k == "" {
		return web.ErrMissing("public_key")
	}
	u, err := a.Service.User(c.UserContext(), k)
	if err != nil {
		return err
	}
	return c.JSON(u)
}

func (a *API) workerEvents(c *fiber.Ctx) error {
	var q psy.WorkerEventQuery
	var err error
	if q.RealmID, err = int64Query(c, "realm_id"); err != nil {
		return err
	}
	if q.RealmID != nil && *q.RealmID < 0 {
		return web.Invalid("realm_id must not be negative")
	}
	if q.Status = c.Query("status"); q.Status != "" && !storage.ValidWorkerEventStatus(q.Status) {
		return web.OneOf("status", q.Status, storage.WorkerEventPending, storage.WorkerEventInProgress,
			storage.WorkerEventCompleted, storage.WorkerEventFailed, storage.WorkerEventCancelled)
	}
	if q.Category = c.Query("category"); q.Category != "" {
		if err := web.OneOf("category", q.Category, psy.Categories...); err != nil {
			return err
		}
	}
	q.PublicKey, q.Topic, q.CircuitType = c.Query("public_key"), c.Query("topic"), c.Query("circuit_type")
	if q.FromCheckpoint, err = int64Query(c, "from_checkpoint_id"); err != nil {
		return err
	}
	if q.ToCheckpoint, err = int64Query(c, "to_checkpoint_id"); err != nil {
		return err
	}
	if q.Offset, q.Limit, err = page(c, defaultEventLimit, maxEventLimit); err != nil {
		return err
	}
	if q.Ascending, err = ascending(c); err != nil {
		return err
	}
	evs, err := a.Service.WorkerEvents(c.UserContext(), q)
	if err != nil {
		return err
	}
	return c.JSON(evs)
}

func (a *API) userEvents(c *fiber.Ctx) error {
	f := storage.PsyUserEventFilter{UserID: c.Query("user_id")}
	var err error
	if f.TxType = c.Query("tx_type"); f.TxType != "" {
		if err := web.OneOf("tx_type", f.TxType, storage.PsyTxRegisterUser, storage.PsyTxDeployContract, storage.PsyTxUserTransaction); err != nil {
			return err
		}
	}
	if f.Start, err = timeQuery(c, "start_time"); err != nil {
		return err
	}
	if f.End, err = timeQuery(c, "end_time"); err != nil {
		return err
	}
	if f.Offset, f.Limit, err = page(c, defaultEventLimit, maxEventLimit); err != nil {
		return err
	}
	if f.Ascending, err = ascending(c); err != nil {
		return err
	}
	evs, err := a.Service.UserEvents(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(evs)
}

// aggregationQuery reads the parameters of both aggregation endpoints;
// bucket is required and one of buckets.
func aggregationQuery(c *fiber.Ctx, buckets []string) (psy.AggregationQuery, error) {
	var q psy.AggregationQuery
	var err error
	if q.Bucket = c.Query("bucket"); q.Bucket == "" {
		return q, &proofgrid.Error{Code: proofgrid.EINVALID, Message: "bucket is required",
			Details: []string{"one of " + strings.Join(buckets, ", ")}}
	}
	if err := web.OneOf("bucket", q.Bucket, buckets...); err != nil {
		return q, err
	}
	if q.Start, err = timeQuery(c, "start_time"); err != nil {
		return q, err
	}
	if q.End, err = timeQuery(c, "end_time"); err != nil {
		return q, err
	}
	if q.Offset, q.Limit, err = page(c, defaultEventLimit, maxEventLimit); err != nil {
		return q, err
	}
	q.Ascending, err = ascending(c)
	return q, err
}

func (a *API) workerEventAggregations(c *fiber.Ctx) error {
	q, err := aggregationQuery(c, psy.EventBuckets)
	if err != nil {
		return err
	}
	out, err := a.Service.WorkerEventAggregations(c.UserContext(), q)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) userEventAggregations(c *fiber.Ctx) error {
	q, err := aggregationQuery(c, psy.EventBuckets)
	if err != nil {
		return err
	}
	out, err := a.Service.UserEventAggregations(c.UserContext(), q)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) stats(c *fiber.Ctx) error {
	st, err := a.Service.Stats(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (a *API) realms(c *fiber.Ctx) error {
	st, err := a.Service.Realms(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (a *API) realm(c *fiber.Ctx) error {
	id, err := int64Param(c, "realm_id")
	if err != nil {
		return err
	}
	st, err := a.Service.Realm(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (a *API) worker(c *fiber.Ctx) error {
	k, err := workerKeyParam(c)
	if err != nil {
		return err
	}
	st, err := a.Service.Worker(c.UserContext(), k)
	if err != nil {
		return err
	}
	return c.JSON(st)
}

// hours reads the hours window of the job status endpoints: default 24,
// clamped into 1..8784 (a leap year).
func hours(c *fiber.Ctx) (int, error) { return web.ClampQuery(c, "hours", 24, 1, maxHours) }

func (a *API) jobs(c *fiber.Ctx) error {
	h, err := hours(c)
	if err != nil {
		return err
	}
	realm, err := int64Query(c, "realm_id")
	if err != nil {
		return err
	}
	out, err := a.Service.Jobs(c.UserContext(), h, realm)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) jobsOfRealm(c *fiber.Ctx) error {
	id, err := int64Param(c, "realm_id")
	if err != nil {
		return err
	}
	h, err := hours(c)
	if err != nil {
		return err
	}
	out, err := a.Service.JobsOfRealm(c.UserContext(), h, id)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) jobsByRealm(c *fiber.Ctx) error {
	h, err := hours(c)
	if err != nil {
		return err
	}
	out, err := a.Service.JobsByRealm(c.UserContext(), h)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// jobCounts covers all time unless hours is given.
func (a *API) jobCounts(c *fiber.Ctx) error {
	h := 0
	if c.Query("hours") != "" {
		var err error
		if h, err = hours(c); err != nil {
			return err
		}
	}
	out, err := a.Service.JobCounts(c.UserContext(), h)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) legacyRewards(c *fiber.Ctx) error {
	k, err := workerKeyParam(c)
	if err != nil {
		return err
	}
	id, err := int64Query(c, "checkpoint_id")
	if err != nil {
		return err
	} else if id == nil {
		return web.ErrMissing("checkpoint_id")
	}
	out, err := a.Service.RewardOf(c.UserContext(), k, *id)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) rewardAggregations(c *fiber.Ctx) error {
	k, err := workerKeyParam(c)
	if err != nil {
		return err
	}
	bucket := c.Query("bucket")
	if bucket == "" {
		return &proofgrid.Error{Code: proofgrid.EINVALID, Message: "bucket is required",
			Details: []string{"one of " + strings.Join(psy.RewardBuckets, ", ")}}
	}
	if err := web.OneOf("bucket", bucket, psy.RewardBuckets...); err != nil {
		return err
	}
	start, err := timeQuery(c, "start_time")
	if err != nil {
		return err
	}
	end, err := timeQuery(c, "end_time")
	if err != nil {
		return err
	}
	limit, err := web.ClampQuery(c, "limit", defaultRewardLimit, 1, maxEventLimit)
	if err != nil {
		return err
	}
	out, err := a.Service.RewardAggregations(c.UserContext(), k, bucket, start, end, limit)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) leaderboard(c *fiber.Ctx) error {
	limit, err := web.ClampQuery(c, "limit", maxLeaderboard, 1, maxLeaderboard)
	if err != nil {
		return err
	}
	out, err := a.Service.Leaderboard(c.UserContext(), limit)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) checkpointStats(c *fiber.Ctx) error {
	from, err := int64Query(c, "start_checkpoint")
	if err != nil {
		return err
	}
	to, err := int64Query(c, "end_checkpoint")
	if err != nil {
		return err
	}
	lo, hi := int64(0), int64(math.MaxInt64)
	if from != nil {
		lo = *from
	}
	if to != nil {
		hi = *to
	}
	out, err := a.Service.CheckpointStatsRange(c.UserContext(), lo, hi)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) checkpointStatsOf(c *fiber.Ctx) error {
	id, err := int64Param(c, "checkpoint_id")
	if err != nil {
		return err
	}
	out, err := a.Service.CheckpointStatsOf(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) jobEvents(c *fiber.Ctx) error {
	id, err := int64Param(c, "checkpoint_id")
	if err != nil {
		return err
	}
	offset, limit, err := page(c, defaultEventLimit, maxEventLimit)
	if err != nil {
		return err
	}
	out, err := a.Service.JobEvents(c.UserContext(), id, limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) summary(c *fiber.Ctx) error {
	id, err := int64Param(c, "checkpoint_id")
	if err != nil {
		return err
	}
	out, err := a.Service.Summary(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) distributions(c *fiber.Ctx) error {
	id, err := int64Param(c, "checkpoint_id")
	if err != nil {
		return err
	}
	out, err := a.Service.Distributions(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) workerRewards(c *fiber.Ctx) error {
	k, err := workerKeyParam(c)
	if err != nil {
		return err
	}
	period := c.Query("time_period", "1d")
	if err := web.OneOf("time_period", period, "2m", "1h", "1d", "1w", "1m"); err != nil {
		return err
	}
	start, err := timeQuery(c, "start_time")
	if err != nil {
		return err
	}
	end, err := timeQuery(c, "end_time")
	if err != nil {
		return err
	}
	limit, err := web.ClampQuery(c, "limit", defaultRewardLimit, 1, maxEventLimit)
	if err != nil {
		return err
	}
	out, err := a.Service.WorkerRewards(c.UserContext(), k, period, start, end, limit)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) workerRewardStats(c *fiber.Ctx) error {
	k, err := workerKeyParam(c)
	if err != nil {
		return err
	}
	out, err := a.Service.WorkerRewardStatsOf(c.UserContext(), k)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) calculate(c *fiber.Ctx) error {
	id, err := int64Param(c, "checkpoint_id")
	if err != nil {
		return err
	}
	out, err := a.Service.CalculateNow(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) processing(c *fiber.Ctx) error {
	out, err := a.Service.Processing(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) contracts(c *fiber.Ctx) error {
	offset, limit, err := page(c, defaultEventLimit, maxEventLimit)
	if err != nil {
		return err
	}
	out, err := a.Service.Contracts(c.UserContext(), c.Query("deployer"), limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) contract(c *fiber.Ctx) error {
	out, err := a.Service.Contract(c.UserContext(), c.Params("contract_uuid"))
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// ingestWorkerEvents stores events a registered worker signed itself.
func (a *API) ingestWorkerEvents(c *fiber.Ctx) error {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	ts, nonce, err := psy.CheckIngestHeaders(c.Get(psy.HeaderTimestamp), c.Get(psy.HeaderNonce), now(), proofgrid.SignatureWindow)
	if err != nil {
		return err
	}
	msg := psy.IngestMessage(c.Method(), c.OriginalURL(), ts, nonce, c.Request().Body())
	user, err := a.Service.AuthenticateWorker(c.UserContext(), c.Get(psy.HeaderPublicKey), msg, c.Get(psy.HeaderSignature))
	if err != nil {
		return err
	}
	// The nonce is spent only for an authentic request, so that forged
	// requests cannot use up a worker's nonces.
	if a.Nonces != nil {
		if err := a.Nonces.Use(c.UserContext(), "psy:"+user.PublicKey, nonce); err != nil {
			return err
		}
	}
	var body struct {
		Events []psy.WorkerEventInput `json:"events"`
	}
	if err := web.DecodeJSON(c, &body); err != nil {
		return err
	}
	res, err := a.Service.IngestWorkerEvents(c.UserContext(), user, body.Events)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (a *API) ingestUserEvents(c *fiber.Ctx) error {
	var body struct {
		Events []psy.UserEventInput `json:"events"`
	}
	if err := web.DecodeJSON(c, &body); err != nil {
		return err
	}
	res, err := a.Service.IngestUserEvents(c.UserContext(), body.Events)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (a *API) ingestContracts(c *fiber.Ctx) error {
	var body struct {
		Contracts []storage.PsyContract `json:"contracts"`
	}
	if err := web.DecodeJSON(c, &body); err != nil {
		return err
	}
	res, err := a.Service.RecordContracts(c.UserContext(), body.Contracts)
	if err != nil {
		return err
	}
	return c.JSON(res)
}
