package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/storage"
)

const (
	// SessionCookie holds the session id; only its SHA-256 is stored.
	SessionCookie = "pg_session"
	// signinCookie carries the sign-in form's CSRF token before there is
	// a session (double submit).
	signinCookie = "pg_signin"
	// CSRFField is the hidden form field every POST must carry.
	CSRFField  = "csrf"
	sessionKey = "proofgrid:console:session:"
)

// session is what Redis keeps for a signed-in visitor. It refers to the
// credential by its hash, never the credential itself, so a revoked token
// ends every session signed in with it.
type session struct {
	TokenHash string `json:"token_hash,omitempty"`
	// A zkGolf contestant signs in with a cmp_ token: the console then
	// shows the zkGolf pages only, with the live verifier log of the
	// contestant's own submissions.
	GolfTokenHash string `json:"golf_token_hash,omitempty"`
	// A JWT operator has no token row: its subject and expiry are kept.
	Subject   string    `json:"subject,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitempty"`
	CSRF      string    `json:"csrf"`
	CreatedAt time.Time `json:"created_at"`
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sessionRedisKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return sessionKey + hex.EncodeToString(sum[:])
}

// secure reports whether the visitor reached us over TLS, directly or
// through a proxy that says so.
func secure(ctx *fiber.Ctx) bool {
	return ctx.Protocol() == "https" || strings.EqualFold(ctx.Get("X-Forwarded-Proto"), "https")
}

func (c *Console) setCookie(ctx *fiber.Ctx, name, value string, ttl time.Duration) {
	ck := &fiber.Cookie{
		Name: name, Value: value, Path: Prefix, HTTPOnly: true, Secure: secure(ctx), SameSite: fiber.CookieSameSiteStrictMode,
	}
	if ttl < 0 {
		ck.Expires = time.Unix(1, 0)
		ck.MaxAge = -1
	} else if ttl > 0 {
		ck.MaxAge = int(ttl.Seconds())
	}
	ctx.Cookie(ck)
}

// load returns the session of the request's cookie and the principal it
// stands for, refreshing its TTL; ok is false when there is none.
func (c *Console) load(ctx context.Context, id string) (session, auth.Principal, storage.GolfToken, bool, error) {
	var none storage.GolfToken
	if id == "" {
		return session{}, auth.Principal{}, none, false, nil
	}
	key := sessionRedisKey(id)
	raw, err := c.cfg.Redis.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return session{}, auth.Principal{}, none, false, nil
	} else if err != nil {
		return session{}, auth.Principal{}, none, false, err
	}
	var s session
	if err := json.Unmarshal(raw, &s); err != nil {
		return session{}, auth.Principal{}, none, false, nil
	}
	var (
		p      auth.Principal
		golfer storage.GolfToken
		ok     bool
	)
	if s.GolfTokenHash != "" {
		golfer, ok, err = c.golfer(ctx, s)
	} else {
		p, ok, err = c.principal(ctx, s)
	}
	if err != nil || !ok {
		if !ok && err == nil {
			c.cfg.Redis.Del(ctx, key)
		}
		return session{}, auth.Principal{}, none, false, err
	}
	c.cfg.Redis.Expire(ctx, key, c.ttlOf(s))
	return s, p, golfer, true, nil
}

// golfer resolves a zkGolf session to its contestant's name; a revoked
// token ends the session.
func (c *Console) golfer(ctx context.Context, s session) (storage.GolfToken, bool, error) {
	if c.cfg.Golf == nil {
		return storage.GolfToken{}, false, nil
	}
	tok, err := c.cfg.DB.GolfTokenByHash(ctx, s.GolfTokenHash)
	if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
		return storage.GolfToken{}, false, nil
	} else if err != nil {
		return storage.GolfToken{}, false, err
	}
	if !auth.SameHash(tok.Hash, s.GolfTokenHash) {
		return storage.GolfToken{}, false, nil
	}
	return tok, true, nil
}

// principal resolves a session's credential reference as Authenticate
// would: a revoked token, or an expired JWT, ends the session.
func (c *Console) principal(ctx context.Context, s session) (auth.Principal, bool, error) {
	if s.TokenHash == "" {
		if s.Subject == "" || !c.cfg.Now().Before(s.ExpiresAt) {
			return auth.Principal{}, false, nil
		}
		return auth.Principal{Mode: auth.ModeAdmin, Operator: true, Subject: s.Subject}, true, nil
	}
	tok, err := c.cfg.DB.APITokenByHash(ctx, s.TokenHash)
	if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
		return auth.Principal{}, false, nil
	} else if err != nil {
		return auth.Principal{}, false, err
	}
	if !auth.SameHash(tok.Hash, s.TokenHash) {
		return auth.Principal{}, false, nil
	}
	team, err := c.cfg.DB.TeamByID(ctx, tok.TeamID)
	if err != nil {
		return auth.Principal{}, false, err
	}
	return auth.Principal{TeamID: team.ID, TeamName: team.Name, Mode: tok.Mode, Operator: tok.Operator, TokenID: tok.ID, Subject: tok.Prefix}, true, nil
}

func (c *Console) ttlOf(s session) time.Duration {
	ttl := c.cfg.SessionTTL
	if s.TokenHash == "" && s.GolfTokenHash == "" {
		ttl = min(ttl, s.ExpiresAt.Sub(c.cfg.Now()))
	}
	return max(ttl, time.Second)
}

// guard admits signed-in visitors, checks the CSRF token of every POST,
// and renders the errors of h as pages.
func (c *Console) guard(h func(*fiber.Ctx, *visit) error) fiber.Handler {
	return c.guardFor(h, false)
}

// guardGolf is guard for the pages a zkGolf contestant may open too.
func (c *Console) guardGolf(h func(*fiber.Ctx, *visit) error) fiber.Handler {
	return c.guardFor(h, true)
}

func (c *Console) guardFor(h func(*fiber.Ctx, *visit) error, golfers bool) fiber.Handler {
	return func(ctx *fiber.Ctx) error {
		s, p, golfer, ok, err := c.load(ctx.UserContext(), ctx.Cookies(SessionCookie))
		if err != nil {
			return c.errorPage(ctx, nil, err)
		}
		if !ok {
			if fragment(ctx) || ctx.Method() != fiber.MethodGet {
				return c.errorPage(ctx, nil, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "you are not signed in, or your session ended"))
			}
			return ctx.Redirect(Prefix+"/signin?next="+url.QueryEscape(ctx.OriginalURL()), fiber.StatusSeeOther)
		}
		v := &visit{Principal: p, Session: s, Path: ctx.Path(), Golfer: golfer.UserName, GolferID: golfer.UserID}
		if ctx.Method() == fiber.MethodPost && !sameToken(ctx.FormValue(CSRFField), s.CSRF) {
			return c.errorPage(ctx, v, errCSRF)
		}
		// A contestant belongs to no team: team pages would have no
		// scope to show.
		if v.Golfer != "" && !golfers {
			return c.errorPage(ctx, v, proofgrid.Errorf(proofgrid.EFORBIDDEN,
				"a zkGolf token opens the zkGolf pages only; sign in with a team or operator token for the rest"))
		}
		if err := h(ctx, v); err != nil {
			return c.errorPage(ctx, v, err)
		}
		return nil
	}
}

var errCSRF = proofgrid.Errorf(proofgrid.EFORBIDDEN, "this form was sent without its security token (CSRF)")

func sameToken(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// fragment reports a live-refresh request from console.js.
func fragment(ctx *fiber.Ctx) bool { return ctx.Get("X-Console-Fragment") == "1" }

type signinData struct {
	CSRF  string
	Next  string
	Error string
}

func (c *Console) signinForm(ctx *fiber.Ctx) error {
	if _, _, _, ok, _ := c.load(ctx.UserContext(), ctx.Cookies(SessionCookie)); ok {
		return ctx.Redirect(safeNext(ctx.Query("next")), fiber.StatusSeeOther)
	}
	return c.renderSignin(ctx, fiber.StatusOK, ctx.Query("next"), "")
}

func (c *Console) renderSignin(ctx *fiber.Ctx, status int, next, msg string) error {
	tok := randomToken()
	c.setCookie(ctx, signinCookie, tok, 0)
	return c.render(ctx, status, "signin", pageData{Title: "Sign in", Data: signinData{CSRF: tok, Next: safeNext(next), Error: msg}})
}

// safeNext keeps a redirect target inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return Prefix
	}
	return next
}

func (c *Console) signin(ctx *fiber.Ctx) error {
	next := ctx.FormValue("next")
	if !sameToken(ctx.FormValue(CSRFField), ctx.Cookies(signinCookie)) {
		return c.errorPage(ctx, nil, errCSRF)
	}
	cred := strings.TrimSpace(ctx.FormValue("token"))
	if cred == "" {
		return c.renderSignin(ctx, fiber.StatusBadRequest, next,
			"Paste a team token (pg_…), an operator token (pgo_…) or a zkGolf token (cmp_…).")
	}
	if strings.HasPrefix(cred, auth.PrefixZKGolf) && c.cfg.Golf != nil {
		if _, err := c.cfg.Golf.Authenticate(ctx.UserContext(), cred); err != nil {
			if proofgrid.ErrorCode(err) == proofgrid.EUNAUTHORIZED {
				return c.renderSignin(ctx, fiber.StatusUnauthorized, next,
					"That zkGolf token is unknown or revoked. Ask the contest's operator for a new one.")
			}
			return c.errorPage(ctx, nil, err)
		}
		if !strings.HasPrefix(safeNext(next), Prefix+"/golf") {
			next = Prefix + "/golf"
		}
		return c.startSession(ctx, session{GolfTokenHash: auth.HashToken(cred), CSRF: randomToken(), CreatedAt: c.cfg.Now().UTC()}, next)
	}
	p, err := c.cfg.Auth.Authenticate(ctx.UserContext(), cred)
	if err != nil {
		if proofgrid.ErrorCode(err) == proofgrid.EUNAUTHORIZED {
			return c.renderSignin(ctx, fiber.StatusUnauthorized, next,
				"That token is unknown or revoked. Check you copied all of it; an admin can create one with `coordinator token create`.")
		}
		return c.errorPage(ctx, nil, err)
	}
	s := session{CSRF: randomToken(), CreatedAt: c.cfg.Now().UTC()}
	if auth.LooksLikeJWT(cred) {
		s.Subject, s.ExpiresAt = p.Subject, c.cfg.Now().Add(c.cfg.SessionTTL)
		if claims, err := c.jwtExpiry(cred); err == nil && !claims.IsZero() {
			s.ExpiresAt = claims
		}
	} else {
		s.TokenHash = auth.HashToken(cred)
	}
	return c.startSession(ctx, s, next)
}

// startSession stores s under a new id, sets its cookie and sends the
// visitor on to next.
func (c *Console) startSession(ctx *fiber.Ctx, s session, next string) error {
	raw, _ := json.Marshal(s)
	id := randomToken()
	if err := c.cfg.Redis.Set(ctx.UserContext(), sessionRedisKey(id), raw, c.ttlOf(s)).Err(); err != nil {
		return c.errorPage(ctx, nil, err)
	}
	c.setCookie(ctx, signinCookie, "", -1)
	c.setCookie(ctx, SessionCookie, id, 0)
	return ctx.Redirect(safeNext(next), fiber.StatusSeeOther)
}

// jwtExpiry reads a JWT's expiry when the authenticator can verify it.
func (c *Console) jwtExpiry(token string) (time.Time, error) {
	svc, ok := c.cfg.Auth.(*auth.Service)
	if !ok || svc.JWT() == nil {
		return time.Time{}, errors.New("no issuer")
	}
	claims, err := svc.JWT().Verify(token)
	if err != nil || claims.ExpiresAt == nil {
		return time.Time{}, err
	}
	return claims.ExpiresAt.Time, nil
}

func (c *Console) signout(ctx *fiber.Ctx, v *visit) error {
	c.cfg.Redis.Del(ctx.UserContext(), sessionRedisKey(ctx.Cookies(SessionCookie)))
	c.setCookie(ctx, SessionCookie, "", -1)
	return ctx.Redirect(Prefix+"/signin", fiber.StatusSeeOther)
}
