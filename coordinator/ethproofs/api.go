// Package ethproofs serves the Ethproofs API at /api/v0: teams' prover
// clusters, blocks, proof reports (queued, proving, proved) and their
// listing and downloads, CSP benchmark files and verification keys, with
// the real service's paths, bodies, status codes and {"error": "..."}
// errors. It also serves proofgrid's extensions (recording blocks,
// the zkVM catalogue, agents' job failure reports), its OpenAPI document
// and a docs page.
//
// Callers authenticate with an API key (Authorization: Bearer) of mode
// read, write or admin, or, for prover agents, with a request signed by
// the agent's enrolled key, which acts as a write key of the agent's team
// restricted to the agent's cluster. A team's keys act for that team only:
// what changes every team's view (recording blocks, importing zkVMs,
// uploading CSP benchmarks) takes an operator credential. Proof routes are
// rate limited per key.
//
// The package is thin: the rules live in package proofs.
package ethproofs

import (
	"crypto/ed25519"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/proofs"
	"github.com/proofgrid/proofgrid/ratelimit"
	"github.com/proofgrid/proofgrid/zkvm"
)

// Prefix is where the surface is mounted.
const Prefix = "/api/v0"

// Uploads are the routes whose bodies may exceed the coordinator's
// app-wide body limit (web.BodyGuard). Each reads its body with its own
// limit only after authentication.
var Uploads = []string{
	fiber.MethodPost + " " + Prefix + "/proofs/proved",
	fiber.MethodPost + " " + Prefix + "/csp-benchmarks/upload",
	fiber.MethodPost + " " + Prefix + "/verification-keys/upload",
}

// maxJSONBody caps request bodies other than proved reports and uploads.
const maxJSONBody = 1 << 20

// Config holds the Ethproofs settings of a coordinator. Zero values mean
// the documented defaults.
type Config struct {
	// RateLimit is how many requests one key may make per RateWindow on
	// the proof routes (default 60); a negative value turns limiting off.
	RateLimit int
	// RateWindow is the sliding window of RateLimit (default 60 s).
	RateWindow time.Duration
	// MaxProofBytes caps a decoded proof; larger ones are refused with
	// 413 (default proofs.DefaultMaxProofBytes, 32 MiB).
	MaxProofBytes int64
	// MaxBenchmarkBytes caps a CSP benchmarks file (default 10 MiB).
	MaxBenchmarkBytes int64
	// RPCURL, when set, makes the coordinator follow an Ethereum node's
	// JSON-RPC endpoint and record each new block (role scheduler).
	RPCURL string
	// PollInterval is the time between polls of RPCURL (default 12 s).
	PollInterval time.Duration
	// StartBlock is the first block to record when none is recorded yet;
	// zero starts at the node's head.
	StartBlock int64
	// Confirmations keeps the block source that many blocks behind the
	// head (default 0).
	Confirmations int64
	// Verifiers maps a zkVM slug to the argument vector of its verifier,
	// with the placeholders of zkvm.ExecVerifier ({proof}, {vk_path},
	// {block_number}, {block_hash}).
	Verifiers map[string][]string
	// VerifyTimeout bounds one verification, demo or exec: past it the
	// proof gets cannot_verify (default zkvm.DefaultVerifyTimeout, 30 s;
	// at most 9 min, a minute under the proof:verify task's timeout).
	VerifyTimeout time.Duration
	// VerifyMaxSteps caps the steps a demo proof may declare: larger ones
	// are refused with 422 when reported and get cannot_verify when
	// verified (default zkvm.DefaultVerifyMaxSteps, 16 Mi; raise it with
	// agents' --demo-steps).
	VerifyMaxSteps uint64
	// CatalogueFile names a zkVM catalogue (the JSON form of the built-in
	// one) imported at start, after the built-in catalogue.
	CatalogueFile string
}

// Resolve fills in the defaults.
func (c *Config) Resolve() {
	if c.RateLimit == 0 {
		c.RateLimit = 60
	}
	if c.RateWindow <= 0 {
		c.RateWindow = time.Minute
	}
	if c.MaxProofBytes <= 0 {
		c.MaxProofBytes = proofs.DefaultMaxProofBytes
	}
	if c.MaxBenchmarkBytes <= 0 {
		c.MaxBenchmarkBytes = proofs.DefaultMaxBenchmarkBytes
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 12 * time.Second
	}
	if c.VerifyTimeout <= 0 {
		c.VerifyTimeout = zkvm.DefaultVerifyTimeout
	}
	if c.VerifyMaxSteps == 0 {
		c.VerifyMaxSteps = zkvm.DefaultVerifyMaxSteps
	}
}

// AgentVerifier checks requests signed by enrolled agents;
// web.SignatureVerifier is one.
type AgentVerifier interface {
	Verify(c *fiber.Ctx, pub ed25519.PublicKey) (proofgrid.RequestSignature, *proofgrid.Machine, error)
}

// API serves the routes.
type API struct {
	Proofs *proofs.Service
	Auth   web.Authenticator
	// Agents verifies signed agent requests; nil refuses them.
	Agents AgentVerifier
	// Limiter limits the proof routes; nil turns limiting off.
	Limiter *ratelimit.Limiter
	Logger  *slog.Logger
}

// Mount registers the routes on app.
func (a *API) Mount(app fiber.Router) {
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	r := app.Group(Prefix)
	// Agents may read and report proofs; managing clusters and keys takes
	// a team's API key, and global data (blocks, zkVMs, benchmarks) an
	// operator's.
	read, write := a.authenticate(auth.ModeRead, false), a.authenticate(auth.ModeWrite, false)
	admin, operator := a.authenticate(auth.ModeAdmin, false), a.operator()
	agentRead, agentWrite := a.authenticate(auth.ModeRead, true), a.authenticate(auth.ModeWrite, true)
	limit := a.rateLimit()

	r.Get("/openapi.json", openAPI)
	r.Get("/docs", docs)

	r.Get("/blocks/:block", a.getBlock)
	r.Post("/blocks", operator, a.recordBlock)

	r.Get("/zkvms", a.listZKVMs)
	r.Post("/zkvms", operator, a.importZKVMs)

	r.Get("/clusters", agentRead, a.listClusters)
	r.Post("/clusters", write, a.createCluster)
	r.Patch("/clusters/:id", write, a.updateCluster)

	r.Get("/proofs", agentRead, limit, a.listProofs)
	r.Post("/proofs/queued", agentWrite, limit, a.report(proofs.Report{Status: "queued"}))
	r.Post("/proofs/proving", agentWrite, limit, a.report(proofs.Report{Status: "proving"}))
	r.Post("/proofs/proved", agentWrite, limit, a.report(proofs.Report{Status: "proved"}))
	r.Get("/proofs/download/block/:block", limit, a.downloadBlock)
	r.Get("/proofs/download/cluster/:cluster", limit, a.downloadCluster)
	r.Get("/proofs/download/:id", read, limit, a.downloadProof)

	r.Post("/worker-events", agentWrite, limit, a.reportFailure)

	r.Post("/csp-benchmarks/upload", operator, a.uploadBenchmark)
	r.Get("/csp-benchmarks/list", a.listBenchmarks)
	r.Get("/csp-benchmarks/download/:id", a.downloadBenchmark)

	r.Get("/verification-keys/active", limit, a.activeKeys)
	r.Get("/verification-keys/download/:id", admin, limit, a.downloadKey)
	r.Post("/verification-keys/upload", admin, a.uploadKey)
}

const callerKey = "ethproofs.caller"

// caller is who a request acts for.
type caller struct {
	teamID int64
	// machine is the signing agent, nil for API keys.
	machine *proofgrid.Machine
	// rateKey is what rate limiting counts against.
	rateKey string
}

func (cl caller) reporter() proofs.Reporter {
	return proofs.Reporter{TeamID: cl.teamID, Machine: cl.machine}
}

// authenticate admits API keys whose mode allows need and, when agents
// is set, requests signed by an enrolled prover agent, which act with
// write rights for the agent's team.
func (a *API) authenticate(need string, agents bool) fiber.Handler {
	bearer := web.RequireToken(a.Auth, need)
	return func(c *fiber.Ctx) error {
		if c.Get(proofgrid.SignatureHeader) != "" && c.Get(fiber.HeaderAuthorization) == "" {
			if a.Agents == nil || !agents {
				return proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "this endpoint takes an API key (Authorization: Bearer), not an agent signature")
			}
			_, m, err := a.Agents.Verify(c, nil)
			if err != nil {
				return err
			}
			if m.Role != proofgrid.RoleProver {
				return proofgrid.Errorf(proofgrid.EFORBIDDEN, "only prover agents may use the Ethproofs API; this machine is %s", m.Role)
			}
			c.Locals(callerKey, caller{teamID: m.TeamID, machine: m, rateKey: "machine:" + m.ID})
			return c.Next()
		}
		return bearer(c)
	}
}

// operator admits operator credentials only; an agent signature is
// refused like on the other key-only routes.
func (a *API) operator() fiber.Handler {
	bearer := web.RequireOperator(a.Auth)
	return func(c *fiber.Ctx) error {
		if c.Get(proofgrid.SignatureHeader) != "" && c.Get(fiber.HeaderAuthorization) == "" {
			return proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "this endpoint takes an operator key (Authorization: Bearer), not an agent signature")
		}
		return bearer(c)
	}
}

// callerOf returns who the request acts for: the signing agent, or the
// principal of the API key that web.RequireToken admitted. Anonymous
// requests get the zero caller.
func callerOf(c *fiber.Ctx) caller {
	if cl, ok := c.Locals(callerKey).(caller); ok {
		return cl
	}
	p, ok := web.PrincipalOf(c)
	if !ok {
		return caller{}
	}
	key := "token:" + strconv.FormatInt(p.TokenID, 10)
	if p.TokenID == 0 {
		key = "jwt:" + p.Subject
	}
	cl := caller{teamID: p.TeamID, rateKey: key}
	c.Locals(callerKey, cl)
	return cl
}

// rateLimit limits by API key or agent, or by address for anonymous
// requests, with Ethproofs' headers and message; see web.RateLimit for
// why it fails open.
func (a *API) rateLimit() fiber.Handler {
	return web.RateLimit{
		Limiter: a.Limiter,
		Prefix:  "ethproofs:",
		Key: func(c *fiber.Ctx) string {
			if key := callerOf(c).rateKey; key != "" {
				return key
			}
			return "ip:" + c.IP()
		},
		FormatReset: func(t time.Time) string {
			return t.Add(time.Second - 1).Truncate(time.Second).UTC().Format(time.RFC3339)
		},
		Refuse: func(res ratelimit.Result, _ time.Duration) error {
			return proofgrid.Errorf(proofgrid.ERATELIMIT, "Rate limit exceeded. Try again in %d seconds", int(math.Ceil(res.RetryAfter.Seconds())))
		},
		Logger: a.Logger,
	}.Handler()
}

// timestamp formats times as the API shows them: RFC 3339 in UTC.
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func timestampPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := timestamp(*t)
	return &s
}
