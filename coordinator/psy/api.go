// Package psy serves the Psy API at the root paths: registration, worker
// and user events with their aggregations, statistics, job status,
// rewards, the leaderboard, checkpoints, contracts and the /ws/tps
// WebSocket. Errors are {"error", "details"}. proofgrid adds signed and
// admin ingest routes under /ingest (see docs/psy.md).
//
// The package is thin: users and their keys are package registry's,
// events, contracts and statistics package activity's, checkpoints and
// rewards package rewards'. It owns the routes, the parameters and the
// response bodies (response.go).
package psy

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/activity"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/ratelimit"
	"github.com/proofgrid/proofgrid/registry"
	"github.com/proofgrid/proofgrid/rewards"
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

// Defaults of Config.
const (
	DefaultRateLimit        = 1000
	DefaultRateWindow       = time.Minute
	DefaultJobStatusRefresh = 10 * time.Second
	DefaultTPSBroadcast     = 12 * time.Second
)

// Config holds the Psy surface's settings of a coordinator. Zero values
// mean the defaults. The checkpoint rule, the pool, the weights and the
// trusted ingest keys are the reward pipeline's (rewards.Config).
type Config struct {
	// RateLimit requests per RateWindow per client on the Psy routes
	// (defaults 1000 per minute); a negative RateLimit turns limiting off.
	RateLimit  int
	RateWindow time.Duration
	// Activity configures the rollups: their batch and how stale they may
	// be and still count as healthy.
	Activity activity.Config
	// Intervals of the periodic tasks of the surface.
	JobStatusRefreshEvery time.Duration // default 10 s
	TPSBroadcastEvery     time.Duration // default 12 s
}

// Resolve fills in the defaults.
func (c *Config) Resolve() {
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&c.RateWindow, DefaultRateWindow}, {&c.JobStatusRefreshEvery, DefaultJobStatusRefresh}, {&c.TPSBroadcastEvery, DefaultTPSBroadcast}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	c.Activity.Resolve()
}

// API serves the routes.
type API struct {
	Registry *registry.Service
	Activity *activity.Service
	Rewards  *rewards.Service
	Auth     web.Authenticator
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
	get("/user_info", handle(a.userInfo))
	get("/worker_events", handle(a.workerEvents))
	get("/user_events", handle(a.userEvents))
	get("/worker_events_aggregations", handle(a.workerEventAggregations))
	get("/user_events_aggregations", handle(a.userEventAggregations))

	get("/stats", handle(func(c *fiber.Ctx) (Stats, error) { return then(stats)(a.Activity.Overview(c.UserContext())) }))
	get("/stats/realms", handle(func(c *fiber.Ctx) (RealmsStats, error) {
		return then(realmsStats)(a.Activity.Realms(c.UserContext()))
	}))
	get("/stats/realms/:realm_id", byID("realm_id", func(ctx context.Context, id int64) (RealmStats, error) {
		return then(realmStats(id))(a.Activity.Realm(ctx, id))
	}))
	get("/stats/workers/:worker_public_key", byWorker(mapped(a.Activity.Worker, workerStats)))
	get("/stats/jobs", handle(a.jobs))
	get("/stats/jobs/realm/:realm_id", handle(a.jobsOfRealm))
	get("/stats/jobs/all-realms", handle(a.jobsByRealm))
	get("/stats/jobs/counts", handle(a.jobCounts))

	get("/rewards/:worker_public_key", handle(a.legacyRewards))
	get("/rewards_aggregations/:worker_public_key", handle(a.rewardAggregations))
	get("/leaderboard/workers", handle(a.leaderboard))

	get("/checkpoint/stats", handle(a.checkpointStats))
	get("/checkpoint/stats/:checkpoint_id", byID("checkpoint_id", mapped(a.Rewards.Checkpoint, checkpointStats)))
	get("/checkpoint/job-events/:checkpoint_id", handle(a.jobEvents))
	get("/checkpoint/summary/:checkpoint_id", byID("checkpoint_id", mapped(a.Rewards.Summary, checkpointSummary)))
	get("/checkpoint/distributions/:checkpoint_id", byID("checkpoint_id", a.Rewards.Distributions))
	get("/checkpoint/rewards/:worker_public_key", handle(a.workerRewards))
	get("/checkpoint/rewards/:worker_public_key/stats", byWorker(mapped(a.Activity.RewardRecordOf, workerRewardStats)))
	post("/checkpoint/calculate-rewards/:checkpoint_id", 1<<10, admin, byID("checkpoint_id", a.Rewards.CalculateNow))
	get("/admin/checkpoint-processing-status", admin, handle(func(c *fiber.Ctx) (ProcessingStatus, error) {
		return then(processingStatus)(a.Rewards.Processing(c.UserContext()))
	}))

	get("/contracts", handle(a.contracts))
	get("/contracts/:contract_uuid", handle(func(c *fiber.Ctx) (ContractView, error) {
		return then(contractView)(a.Activity.Contract(c.UserContext(), c.Params("contract_uuid")))
	}))

	post("/ingest/worker_events", maxIngestBody, handle(a.ingestWorkerEvents))
	post("/ingest/user_events", maxIngestBody, admin, ingest(func(b *userEventsBody) []activity.UserEventInput { return b.Events },
		a.Activity.IngestUserEvents))
	post("/ingest/contracts", maxIngestBody, admin, ingest(func(b *contractsBody) []storage.PsyContract { return b.Contracts },
		a.Activity.RecordContracts))

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

// Handler helpers: a handler reads its parameters, calls the domain and
// maps the result to its response body; these answer with the body as
// JSON, or with the error in the surface's shape.

// handle answers with what f returns for the request.
func handle[T any](f func(c *fiber.Ctx) (T, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		v, err := f(c)
		if err != nil {
			return err
		}
		return c.JSON(v)
	}
}

// byID answers with what f returns for the integer path parameter name.
func byID[T any](name string, f func(ctx context.Context, id int64) (T, error)) fiber.Handler {
	return handle(func(c *fiber.Ctx) (T, error) {
		id, err := int64Param(c, name)
		if err != nil {
			var zero T
			return zero, err
		}
		return f(c.UserContext(), id)
	})
}

// byWorker answers with what f returns for the worker_public_key path
// parameter.
func byWorker[T any](f func(ctx context.Context, key string) (T, error)) fiber.Handler {
	return handle(func(c *fiber.Ctx) (T, error) {
		k, err := workerKeyParam(c)
		if err != nil {
			var zero T
			return zero, err
		}
		return f(c.UserContext(), k)
	})
}

// mapped returns f with its result mapped to a response body by m.
func mapped[A, D, R any](f func(context.Context, A) (D, error), m func(D) R) func(context.Context, A) (R, error) {
	return func(ctx context.Context, arg A) (R, error) { return then(m)(f(ctx, arg)) }
}

// ingest answers an admin ingest request: it decodes the body B and
// records the list that list picks from it with record.
func ingest[B, T any](list func(*B) []T, record func(context.Context, []T) (activity.IngestResult, error)) fiber.Handler {
	return handle(func(c *fiber.Ctx) (activity.IngestResult, error) {
		var body B
		if err := web.DecodeJSON(c, &body); err != nil {
			return activity.IngestResult{}, err
		}
		return record(c.UserContext(), list(&body))
	})
}

// Bodies of the admin ingest routes.
type (
	userEventsBody struct {
		Events []activity.UserEventInput `json:"events"`
	}
	contractsBody struct {
		Contracts []storage.PsyContract `json:"contracts"`
	}
)

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

// Handlers of the routes with more than a path parameter.

func (a *API) register(c *fiber.Ctx) error {
	var r registry.RegisterRequest
	if err := web.DecodeJSON(c, &r); err != nil {
		return err
	}
	u, err := a.Registry.Register(c.UserContext(), r)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true, "user_id": strconv.FormatInt(u.ID, 10)})
}

func (a *API) userInfo(c *fiber.Ctx) (storage.PsyUser, error) {
	k := c.Query("public_key")
	if k == "" {
		return storage.PsyUser{}, web.ErrMissing("public_key")
	}
	return a.Registry.User(c.UserContext(), k)
}

func (a *API) workerEvents(c *fiber.Ctx) ([]WorkerEventView, error) {
	var q activity.WorkerEventQuery
	var err error
	if q.RealmID, err = int64Query(c, "realm_id"); err != nil {
		return nil, err
	}
	if q.RealmID != nil && *q.RealmID < 0 {
		return nil, web.Invalid("realm_id must not be negative")
	}
	if q.Status = c.Query("status"); q.Status != "" && !storage.ValidWorkerEventStatus(q.Status) {
		return nil, web.OneOf("status", q.Status, storage.WorkerEventPending, storage.WorkerEventInProgress,
			storage.WorkerEventCompleted, storage.WorkerEventFailed, storage.WorkerEventCancelled)
	}
	if q.Category = c.Query("category"); q.Category != "" {
		if err := web.OneOf("category", q.Category, activity.Categories...); err != nil {
			return nil, err
		}
	}
	q.PublicKey, q.Topic, q.CircuitType = c.Query("public_key"), c.Query("topic"), c.Query("circuit_type")
	if q.FromCheckpoint, err = int64Query(c, "from_checkpoint_id"); err != nil {
		return nil, err
	}
	if q.ToCheckpoint, err = int64Query(c, "to_checkpoint_id"); err != nil {
		return nil, err
	}
	if q.Offset, q.Limit, err = page(c, defaultEventLimit, maxEventLimit); err != nil {
		return nil, err
	}
	if q.Ascending, err = ascending(c); err != nil {
		return nil, err
	}
	return then(each(workerEventView))(a.Activity.WorkerEvents(c.UserContext(), q))
}

func (a *API) userEvents(c *fiber.Ctx) ([]storage.PsyUserEvent, error) {
	f := storage.PsyUserEventFilter{UserID: c.Query("user_id")}
	var err error
	if f.TxType = c.Query("tx_type"); f.TxType != "" {
		if err := web.OneOf("tx_type", f.TxType, storage.PsyTxRegisterUser, storage.PsyTxDeployContract, storage.PsyTxUserTransaction); err != nil {
			return nil, err
		}
	}
	if f.Start, f.End, err = timeRange(c); err != nil {
		return nil, err
	}
	if f.Offset, f.Limit, err = page(c, defaultEventLimit, maxEventLimit); err != nil {
		return nil, err
	}
	if f.Ascending, err = ascending(c); err != nil {
		return nil, err
	}
	return a.Activity.UserEvents(c.UserContext(), f)
}

// timeRange reads start_time and end_time.
func timeRange(c *fiber.Ctx) (start, end *time.Time, err error) {
	if start, err = timeQuery(c, "start_time"); err != nil {
		return nil, nil, err
	}
	end, err = timeQuery(c, "end_time")
	return start, end, err
}

// bucketQuery reads the bucket parameter, one of buckets, def when
// absent: the document names no default, and its own examples ask for
// hourly events and daily rewards.
func bucketQuery(c *fiber.Ctx, buckets []string, def string) (string, error) {
	b := c.Query("bucket", def)
	return b, web.OneOf("bucket", b, buckets...)
}

// aggregationQuery reads the parameters of both aggregation endpoints.
func aggregationQuery(c *fiber.Ctx) (activity.AggregationQuery, error) {
	var q activity.AggregationQuery
	var err error
	if q.Bucket, err = bucketQuery(c, activity.EventBuckets, activity.BucketHour); err != nil {
		return q, err
	}
	if q.Start, q.End, err = timeRange(c); err != nil {
		return q, err
	}
	if q.Offset, q.Limit, err = page(c, defaultEventLimit, maxEventLimit); err != nil {
		return q, err
	}
	q.Ascending, err = ascending(c)
	return q, err
}

func (a *API) workerEventAggregations(c *fiber.Ctx) ([]EventAggregation, error) {
	q, err := aggregationQuery(c)
	if err != nil {
		return nil, err
	}
	return then(each(eventAggregation))(a.Activity.WorkerEventAggregations(c.UserContext(), q))
}

func (a *API) userEventAggregations(c *fiber.Ctx) ([]UserEventAggregation, error) {
	q, err := aggregationQuery(c)
	if err != nil {
		return nil, err
	}
	return then(each(userEventAggregation))(a.Activity.UserEventAggregations(c.UserContext(), q))
}

// hours reads the hours window of the job status endpoints: default 24,
// clamped into 1..8784 (a leap year).
func hours(c *fiber.Ctx) (int, error) { return web.ClampQuery(c, "hours", 24, 1, maxHours) }

func (a *API) jobs(c *fiber.Ctx) (JobSummary, error) {
	h, err := hours(c)
	if err != nil {
		return JobSummary{}, err
	}
	realm, err := int64Query(c, "realm_id")
	if err != nil {
		return JobSummary{}, err
	}
	return then(jobSummary)(a.Activity.Jobs(c.UserContext(), h, realm))
}

func (a *API) jobsOfRealm(c *fiber.Ctx) ([]JobStatusSummary, error) {
	id, err := int64Param(c, "realm_id")
	if err != nil {
		return nil, err
	}
	h, err := hours(c)
	if err != nil {
		return nil, err
	}
	return then(each(jobStatusSummary))(a.Activity.JobsOfRealm(c.UserContext(), h, id))
}

func (a *API) jobsByRealm(c *fiber.Ctx) ([]RealmJobs, error) {
	h, err := hours(c)
	if err != nil {
		return nil, err
	}
	return then(each(realmJobs))(a.Activity.JobsByRealm(c.UserContext(), h))
}

// jobCounts covers all time unless hours is given.
func (a *API) jobCounts(c *fiber.Ctx) (map[string]int64, error) {
	h := 0
	if c.Query("hours") != "" {
		var err error
		if h, err = hours(c); err != nil {
			return nil, err
		}
	}
	return a.Activity.JobCounts(c.UserContext(), h)
}

func (a *API) legacyRewards(c *fiber.Ctx) (LegacyReward, error) {
	k, err := workerKeyParam(c)
	if err != nil {
		return LegacyReward{}, err
	}
	id, err := int64Query(c, "checkpoint_id")
	if err != nil {
		return LegacyReward{}, err
	} else if id == nil {
		return LegacyReward{}, web.ErrMissing("checkpoint_id")
	}
	return then(legacyReward)(a.Activity.RewardOf(c.UserContext(), k, *id))
}

// rewardRange reads the time range and the limit of buckets of the
// worker reward endpoints.
func rewardRange(c *fiber.Ctx) (start, end *time.Time, limit int, err error) {
	if start, end, err = timeRange(c); err != nil {
		return nil, nil, 0, err
	}
	limit, err = web.ClampQuery(c, "limit", defaultRewardLimit, 1, maxEventLimit)
	return start, end, limit, err
}

func (a *API) rewardAggregations(c *fiber.Ctx) ([]RewardAggregation, error) {
	k, err := workerKeyParam(c)
	if err != nil {
		return nil, err
	}
	bucket, err := bucketQuery(c, activity.RewardBuckets, activity.BucketDay)
	if err != nil {
		return nil, err
	}
	start, end, limit, err := rewardRange(c)
	if err != nil {
		return nil, err
	}
	return then(rewardAggregations)(a.Activity.Rewards(c.UserContext(), k, bucket, start, end, limit))
}

func (a *API) workerRewards(c *fiber.Ctx) (WorkerRewardResponse, error) {
	k, err := workerKeyParam(c)
	if err != nil {
		return WorkerRewardResponse{}, err
	}
	period := c.Query("time_period", "1d")
	if err := web.OneOf("time_period", period, "2m", "1h", "1d", "1w", "1m"); err != nil {
		return WorkerRewardResponse{}, err
	}
	start, end, limit, err := rewardRange(c)
	if err != nil {
		return WorkerRewardResponse{}, err
	}
	return then(workerRewardResponse(period))(a.Activity.Rewards(c.UserContext(), k, activity.TimePeriods[period], start, end, limit))
}

func (a *API) leaderboard(c *fiber.Ctx) ([]LeaderboardEntry, error) {
	limit, err := web.ClampQuery(c, "limit", maxLeaderboard, 1, maxLeaderboard)
	if err != nil {
		return nil, err
	}
	return then(each(leaderboardEntry))(a.Activity.Leaderboard(c.UserContext(), limit))
}

func (a *API) checkpointStats(c *fiber.Ctx) ([]CheckpointStats, error) {
	from, err := int64Query(c, "start_checkpoint")
	if err != nil {
		return nil, err
	}
	to, err := int64Query(c, "end_checkpoint")
	if err != nil {
		return nil, err
	}
	lo, hi := int64(0), int64(math.MaxInt64)
	if from != nil {
		lo = *from
	}
	if to != nil {
		hi = *to
	}
	return then(each(checkpointStats))(a.Rewards.Checkpoints(c.UserContext(), lo, hi))
}

func (a *API) jobEvents(c *fiber.Ctx) ([]storage.PsyJobEvent, error) {
	id, err := int64Param(c, "checkpoint_id")
	if err != nil {
		return nil, err
	}
	offset, limit, err := page(c, defaultEventLimit, maxEventLimit)
	if err != nil {
		return nil, err
	}
	return a.Rewards.JobEvents(c.UserContext(), id, limit, offset)
}

func (a *API) contracts(c *fiber.Ctx) ([]ContractView, error) {
	offset, limit, err := page(c, defaultEventLimit, maxEventLimit)
	if err != nil {
		return nil, err
	}
	return then(each(contractView))(a.Activity.Contracts(c.UserContext(), c.Query("deployer"), limit, offset))
}

// ingestWorkerEvents stores events a registered worker signed itself.
// They are shown whoever sent them; they earn only when the operator
// trusts the key (see rewards.SourceIngest).
func (a *API) ingestWorkerEvents(c *fiber.Ctx) (activity.IngestResult, error) {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	ts, nonce, err := registry.CheckIngestHeaders(c.Get(registry.HeaderTimestamp), c.Get(registry.HeaderNonce), now(), proofgrid.SignatureWindow)
	if err != nil {
		return activity.IngestResult{}, err
	}
	msg := registry.IngestMessage(c.Method(), c.OriginalURL(), ts, nonce, c.Request().Body())
	user, err := a.Registry.AuthenticateWorker(c.UserContext(), c.Get(registry.HeaderPublicKey), msg, c.Get(registry.HeaderSignature))
	if err != nil {
		return activity.IngestResult{}, err
	}
	// The nonce is spent only for an authentic request, so that forged
	// requests cannot use up a worker's nonces.
	if a.Nonces != nil {
		if err := a.Nonces.Use(c.UserContext(), "psy:"+user.PublicKey, nonce); err != nil {
			return activity.IngestResult{}, err
		}
	}
	var body struct {
		Events []activity.WorkerEventInput `json:"events"`
	}
	if err := web.DecodeJSON(c, &body); err != nil {
		return activity.IngestResult{}, err
	}
	return a.Activity.IngestWorkerEvents(c.UserContext(), user, body.Events)
}
