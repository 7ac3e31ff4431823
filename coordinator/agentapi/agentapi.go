// Package agentapi is proofgrid's own surface for agents and fleet owners,
// mounted at /proofgrid/v1: agent enrolment and heartbeats (signed), and
// team-scoped reads (bearer token): machines, their metrics, and the
// task counts of the team's queues.
package agentapi

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hibiken/asynq"
	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
)

// Prefix is where the surface is mounted.
const Prefix = "/proofgrid/v1"

// MaxHeartbeatBytes caps a heartbeat body; a real one is a few KiB.
const MaxHeartbeatBytes = 256 << 10

// QueueInspector reads the state of asynq queues; *asynq.Inspector is one.
type QueueInspector interface {
	// Queues lists the queues Redis knows.
	Queues() ([]string, error)
	// GetQueueInfo returns a known queue's counts.
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
}

// API serves the routes.
type API struct {
	Fleet    *fleet.Service
	Auth     web.Authenticator
	Verifier web.SignatureVerifier
	// Tokens revokes API tokens; nil leaves the revocation route out.
	Tokens Tokens
	// Queues answers GET /queues; nil makes it 503.
	Queues QueueInspector
}

// Tokens finds and revokes API tokens (auth.Service).
type Tokens interface {
	FindToken(ctx context.Context, teamID int64, plain string) (storage.APIToken, error)
	RevokeToken(ctx context.Context, id int64) error
}

// Mount registers the routes on app.
func (a *API) Mount(app fiber.Router) {
	r := app.Group(Prefix)
	r.Post("/agents/enroll", web.LimitBody(MaxHeartbeatBytes), web.RequireToken(a.Auth, auth.ModeWrite), a.enroll)
	r.Post("/agents/heartbeat", web.LimitBody(MaxHeartbeatBytes), a.Verifier.RequireAgentKey(a.Fleet), a.heartbeat)
	read := web.RequireToken(a.Auth, auth.ModeRead)
	r.Get("/machines", read, a.machines)
	r.Get("/machines/:id", read, a.machine)
	r.Get("/machines/:id/metrics", read, a.metrics)
	r.Get("/queues", read, a.queues)
	if a.Tokens != nil {
		r.Post("/tokens/revoke", web.LimitBody(maxRevokeBytes), web.RequireToken(a.Auth, auth.ModeAdmin), a.revokeToken)
	}
}

const maxRevokeBytes = 4 << 10

func (a *API) enroll(c *fiber.Ctx) error {
	p, _ := web.PrincipalOf(c)
	if p.TeamID == 0 {
		return proofgrid.Errorf(proofgrid.EFORBIDDEN, "enrol with a team API token, not an admin JWT")
	}
	var req proofgrid.EnrollRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	pub, err := web.DecodePublicKey(req.PublicKey)
	if err != nil {
		return err
	}
	// The enrolment is signed with the key it enrols: proof of possession.
	sig, _, err := a.Verifier.Verify(c, pub)
	if err != nil {
		return err
	}
	if sig.KeyID != base64.StdEncoding.EncodeToString(pub) {
		return proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "the signature's key id must be the enrolled public_key")
	}
	resp, err := a.Fleet.Enroll(c.UserContext(), fleet.Enrolment{TeamID: p.TeamID, TokenID: p.TokenID, Operator: p.IsOperator()}, req)
	if err != nil {
		return err
	}
	return c.JSON(resp)
}

func (a *API) heartbeat(c *fiber.Ctx) error {
	m, _ := web.MachineOf(c)
	var hb proofgrid.Heartbeat
	if err := web.DecodeJSON(c, &hb); err != nil {
		return err
	}
	at, err := a.Fleet.Heartbeat(c.UserContext(), m.ID, hb)
	if err != nil {
		return err
	}
	return c.JSON(client.HeartbeatResponse{ReceivedAt: at, HeartbeatInterval: int(a.Fleet.HeartbeatInterval() / time.Second)})
}

// RevokeRequest is the body of POST /tokens/revoke.
type RevokeRequest struct {
	Token string `json:"token"`
}

// RevokeResponse answers POST /tokens/revoke.
type RevokeResponse struct {
	Revoked bool `json:"revoked"`
	// Machines lists the machines the token enrolled last, whose access to
	// their job queues (their Redis users) was revoked with it.
	Machines []string `json:"machines"`
}

// revokeToken revokes an API token of the caller's team (any team for an
// admin JWT), and with it the queue access of the machines it enrolled.
func (a *API) revokeToken(c *fiber.Ctx) error {
	p, _ := web.PrincipalOf(c)
	var req RevokeRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.Token == "" {
		return web.Invalid("token is required")
	}
	// A team's admin revokes its team's tokens; an operator any token.
	team := p.TeamID
	if p.IsOperator() {
		team = 0
	}
	tok, err := a.Tokens.FindToken(c.UserContext(), team, req.Token)
	if err != nil {
		return err
	}
	// An operator token belongs to a team too, but only an operator may
	// revoke one: a team admin must not cut off the operators' machines.
	if tok.Operator && !p.IsOperator() {
		return proofgrid.Errorf(proofgrid.ENOTFOUND, "token not found")
	}
	// Machines first: if that fails, the token is still live and the
	// call can be repeated.
	ids, err := a.Fleet.RevokeEnrolments(c.UserContext(), tok.ID)
	if err != nil {
		return err
	}
	if err := a.Tokens.RevokeToken(c.UserContext(), tok.ID); err != nil {
		return err
	}
	return c.JSON(RevokeResponse{Revoked: true, Machines: ids})
}

func (a *API) machines(c *fiber.Ctx) error {
	p, _ := web.PrincipalOf(c)
	ms, err := a.Fleet.Machines(c.UserContext(), web.ReadScope(p))
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []proofgrid.Machine{}
	}
	return c.JSON(fiber.Map{"machines": ms})
}

func (a *API) machine(c *fiber.Ctx) error {
	p, _ := web.PrincipalOf(c)
	m, err := a.Fleet.Machine(c.UserContext(), web.ReadScope(p), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func (a *API) metrics(c *fiber.Ctx) error {
	p, _ := web.PrincipalOf(c)
	limit, err := web.IntQuery(c, "limit", 100, 1, 10000)
	if err != nil {
		return err
	}
	var since time.Time
	if s := c.Query("since"); s != "" {
		if since, err = time.Parse(time.RFC3339, s); err != nil {
			return web.Invalid("since must be an RFC 3339 time, got %q", s)
		}
	}
	pts, err := a.Fleet.Metrics(c.UserContext(), web.ReadScope(p), c.Params("id"), since, limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"metrics": pts})
}

// QueueCounts is one of a team's queues in GET /queues: how many of its
// tasks are in each state. Payloads are not shown: the operators' monitor
// has them.
type QueueCounts struct {
	Queue string `json:"queue"`
	// Kind is "prove" (a cluster's queue) or "avs" (an AVS machine's).
	Kind string `json:"kind"`
	// ClusterID or MachineID names the queue's owner.
	ClusterID string `json:"cluster_id,omitempty"`
	MachineID string `json:"machine_id,omitempty"`
	Pending   int    `json:"pending"`
	Active    int    `json:"active"`
	Scheduled int    `json:"scheduled"`
	Retry     int    `json:"retry"`
	Archived  int    `json:"archived"`
	Completed int    `json:"completed"`
	Paused    bool   `json:"paused"`
}

// queues lists the caller's team's queues with their counts. A queue no
// task has reached yet is unknown to Redis and counts zero everywhere.
func (a *API) queues(c *fiber.Ctx) error {
	p, _ := web.PrincipalOf(c)
	if p.TeamID == 0 {
		return proofgrid.Errorf(proofgrid.EFORBIDDEN, "queues belong to teams: use a team API token (operators see every queue in /monitor)")
	}
	if a.Queues == nil {
		return proofgrid.Errorf(proofgrid.EUNAVAILABLE, "queue counts are not available")
	}
	names, err := a.Fleet.TeamQueues(c.UserContext(), p.TeamID)
	if err != nil {
		return err
	}
	known, err := a.Queues.Queues()
	if err != nil {
		return proofgrid.Errorf(proofgrid.EUNAVAILABLE, "cannot read the queues: %v", err)
	}
	out := make([]QueueCounts, 0, len(names))
	for _, name := range names {
		q := QueueCounts{Queue: name}
		if id, ok := strings.CutPrefix(name, queue.ProveQueue("")); ok {
			q.Kind, q.ClusterID = "prove", id
		} else if id, ok := strings.CutPrefix(name, queue.AVSQueue("")); ok {
			q.Kind, q.MachineID = "avs", id
		}
		if slices.Contains(known, name) {
			info, err := a.Queues.GetQueueInfo(name)
			if err != nil {
				return proofgrid.Errorf(proofgrid.EUNAVAILABLE, "cannot read queue %s: %v", name, err)
			}
			q.Pending, q.Active, q.Scheduled = info.Pending, info.Active, info.Scheduled
			q.Retry, q.Archived, q.Completed, q.Paused = info.Retry, info.Archived, info.Completed, info.Paused
		}
		out = append(out, q)
	}
	return c.JSON(fiber.Map{"queues": out})
}
