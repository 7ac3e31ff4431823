package web

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
)

const (
	principalKey = "proofgrid.principal"
	machineKey   = "proofgrid.machine"
)

// Authenticator is what the auth middleware needs; *auth.Service has it.
type Authenticator interface {
	Authenticate(ctx context.Context, credential string) (auth.Principal, error)
}

// RequireToken admits requests whose bearer credential is valid and whose
// mode allows need (read, write or admin) within the caller's team.
func RequireToken(a Authenticator, need string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, err := bearer(c, a)
		if err != nil {
			return err
		}
		if !auth.ModeAllows(p.Mode, need) {
			return proofgrid.Errorf(proofgrid.EFORBIDDEN, "this endpoint needs a %s token; yours is %s", need, p.Mode)
		}
		c.Locals(principalKey, p)
		return c.Next()
	}
}

// RequireOperator admits requests whose bearer credential is an operator
// credential (an operator token or an admin JWT). It guards global
// actions: on what belongs to no team (blocks, zkVMs, stake, rewards) or
// to every team. A team's admin token is refused with 403.
func RequireOperator(a Authenticator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, err := bearer(c, a)
		if err != nil {
			return err
		}
		if !p.IsOperator() {
			return proofgrid.Errorf(proofgrid.EFORBIDDEN, "this endpoint needs an operator token (coordinator token create --operator) or an admin JWT; a team's %s token acts for its own team only", p.Mode)
		}
		c.Locals(principalKey, p)
		return c.Next()
	}
}

// ReadScope is the team whose data p reads on a team-scoped read route: its
// own, or 0 (every team) for an operator.
func ReadScope(p auth.Principal) int64 {
	if p.IsOperator() {
		return 0
	}
	return p.TeamID
}

// bearer authenticates the request's bearer credential.
func bearer(c *fiber.Ctx, a Authenticator) (auth.Principal, error) {
	tok, err := auth.BearerToken(c.Get(fiber.HeaderAuthorization))
	if err != nil {
		return auth.Principal{}, err
	}
	return a.Authenticate(c.UserContext(), tok)
}

// OptionalToken authenticates when credentials are present and lets
// anonymous requests through.
func OptionalToken(a Authenticator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if c.Get(fiber.HeaderAuthorization) == "" {
			return c.Next()
		}
		return RequireToken(a, auth.ModeRead)(c)
	}
}

// PrincipalOf returns the authenticated principal of the request.
func PrincipalOf(c *fiber.Ctx) (auth.Principal, bool) {
	p, ok := c.Locals(principalKey).(auth.Principal)
	return p, ok
}

// AgentKeys finds the public key of an enrolled machine.
type AgentKeys interface {
	AgentKey(ctx context.Context, machineID string) (ed25519.PublicKey, proofgrid.Machine, error)
}

// AgentPublicKeys finds the public key of an enrolled machine, without
// its identity; fleet.Service serves them from memory.
type AgentPublicKeys interface {
	AgentPublicKey(ctx context.Context, machineID string) (ed25519.PublicKey, error)
}

// NonceCache refuses a (key, nonce) pair seen before.
type NonceCache interface {
	Use(ctx context.Context, keyID, nonce string) error
}

// SignatureVerifier checks signed agent requests.
type SignatureVerifier struct {
	Keys   AgentKeys
	Nonces NonceCache
	Now    func() time.Time
	// MaxBody caps the body read to check a signature (default
	// DefaultUploadLimit). The signature covers the body, so an upload
	// route signed by an agent reads it before the request is
	// authentic; only requests naming an enrolled machine get that far.
	MaxBody int
}

// Verify checks the request's X-Proofgrid-Signature against pub (or, when
// pub is nil, the enrolled key of the machine the header names), then
// spends its nonce. The order matters: the nonce is spent only for an
// authentic request, so garbage cannot fill the cache with real nonces.
func (v SignatureVerifier) Verify(c *fiber.Ctx, pub ed25519.PublicKey) (proofgrid.RequestSignature, *proofgrid.Machine, error) {
	sig, err := proofgrid.ParseRequestSignature(c.Get(proofgrid.SignatureHeader))
	if err != nil {
		return sig, nil, err
	}
	var machine *proofgrid.Machine
	if pub == nil {
		key, m, err := v.Keys.AgentKey(c.UserContext(), sig.KeyID)
		if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
			return sig, nil, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "unknown machine %q: enrol again", sig.KeyID)
		} else if err != nil {
			return sig, nil, err
		}
		pub, machine = key, &m
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	maxBody := v.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultUploadLimit
	}
	body, err := ReadBody(c, maxBody)
	if err != nil {
		return sig, nil, err
	}
	if err := proofgrid.VerifyRequest(pub, sig, c.Method(), c.OriginalURL(), body, now()); err != nil {
		return sig, nil, err
	}
	if err := v.Nonces.Use(c.UserContext(), sig.KeyID, sig.Nonce); err != nil {
		return sig, nil, err
	}
	return sig, machine, nil
}

// RequireAgent admits requests signed by an enrolled machine.
func (v SignatureVerifier) RequireAgent() fiber.Handler {
	return func(c *fiber.Ctx) error {
		_, m, err := v.Verify(c, nil)
		if err != nil {
			return err
		}
		c.Locals(machineKey, *m)
		return c.Next()
	}
}

// RequireAgentKey admits requests signed by an enrolled machine, like
// RequireAgent, for routes that need only the machine's id: the key comes
// from keys (a cache), and the machine in the request's locals carries
// nothing but its ID. The signature and the nonce are checked as always.
func (v SignatureVerifier) RequireAgentKey(keys AgentPublicKeys) fiber.Handler {
	return func(c *fiber.Ctx) error {
		sig, err := proofgrid.ParseRequestSignature(c.Get(proofgrid.SignatureHeader))
		if err != nil {
			return err
		}
		pub, err := keys.AgentPublicKey(c.UserContext(), sig.KeyID)
		if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
			return proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "unknown machine %q: enrol again", sig.KeyID)
		} else if err != nil {
			return err
		}
		if _, _, err := v.Verify(c, pub); err != nil {
			return err
		}
		// The header's strings alias fasthttp's request buffer.
		c.Locals(machineKey, proofgrid.Machine{ID: strings.Clone(sig.KeyID)})
		return c.Next()
	}
}

// MachineOf returns the machine that signed the request.
func MachineOf(c *fiber.Ctx) (proofgrid.Machine, bool) {
	m, ok := c.Locals(machineKey).(proofgrid.Machine)
	return m, ok
}

// DecodePublicKey parses a base64 (standard) Ed25519 public key.
func DecodePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "public_key must be a base64 Ed25519 public key (32 bytes)")
	}
	return ed25519.PublicKey(b), nil
}
