package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/queue/queuetest"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

const secret = "0123456789abcdef0123456789abcdef"

func TestNewTokenIsPrefixedRandomAndHashed(t *testing.T) {
	a, ha, err := auth.NewToken(auth.PrefixAPI)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := auth.NewToken(auth.PrefixAPI)
	if !strings.HasPrefix(a, "pg_") || len(a) != 3+43 || a == b {
		t.Fatalf("tokens %q and %q: want distinct pg_ + 43 base64url characters", a, b)
	}
	if ha != auth.HashToken(a) || len(ha) != 64 || strings.Contains(ha, a) {
		t.Fatalf("hash %q of %q", ha, a)
	}
	if !auth.SameHash(ha, auth.HashToken(a)) || auth.SameHash(ha, auth.HashToken(b)) {
		t.Fatal("SameHash disagrees with equality")
	}
}

func TestModeAllows(t *testing.T) {
	for _, c := range []struct {
		have, need string
		ok         bool
	}{
		{"admin", "admin", true}, {"admin", "write", true}, {"admin", "read", true},
		{"write", "admin", false}, {"write", "write", true}, {"write", "read", true},
		{"read", "admin", false}, {"read", "write", false}, {"read", "read", true},
		{"", "read", false}, {"root", "read", false},
	} {
		if got := auth.ModeAllows(c.have, c.need); got != c.ok {
			t.Errorf("ModeAllows(%q, %q) = %v, want %v", c.have, c.need, got, c.ok)
		}
	}
}

func TestBearerToken(t *testing.T) {
	if tok, err := auth.BearerToken("Bearer pg_abc"); err != nil || tok != "pg_abc" {
		t.Fatalf("got %q %v", tok, err)
	}
	for _, h := range []string{"", "pg_abc", "Basic eDp5", "Bearer ", "Bearer " + strings.Repeat("a", 300)} {
		if _, err := auth.BearerToken(h); proofgrid.ErrorCode(err) != proofgrid.EUNAUTHORIZED {
			t.Errorf("BearerToken(%.20q) = %v, want unauthorized", h, err)
		}
	}
}

func TestJWTIsPinnedToHS256(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	iss, err := auth.NewJWTIssuer([]byte(secret), time.Hour, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Issue("alice")
	if err != nil {
		t.Fatal(err)
	}
	c, err := iss.Verify(tok)
	if err != nil || c.Subject != "alice" || c.Role != auth.ModeAdmin {
		t.Fatalf("verify own token: %+v %v", c, err)
	}
	claims := auth.Claims{Role: auth.ModeAdmin, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: "proofgrid", Subject: "mallory", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}}
	sign := func(m jwt.SigningMethod, key any, c jwt.Claims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	noExp := claims
	noExp.ExpiresAt = nil
	notAdmin := claims
	notAdmin.Role = "read"
	otherIssuer := claims
	otherIssuer.Issuer = "elsewhere"
	for name, bad := range map[string]string{
		"alg none":     sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims),
		"HS512":        sign(jwt.SigningMethodHS512, []byte(secret), claims),
		"other secret": sign(jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), claims),
		"no expiry":    sign(jwt.SigningMethodHS256, []byte(secret), noExp),
		"not admin":    sign(jwt.SigningMethodHS256, []byte(secret), notAdmin),
		"other issuer": sign(jwt.SigningMethodHS256, []byte(secret), otherIssuer),
	} {
		if _, err := iss.Verify(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	later, _ := auth.NewJWTIssuer([]byte(secret), time.Hour, func() time.Time { return now.Add(2 * time.Hour) })
	if _, err := later.Verify(tok); proofgrid.ErrorCode(err) != proofgrid.EUNAUTHORIZED {
		t.Errorf("expired token: %v", err)
	}
	if _, err := auth.NewJWTIssuer([]byte("short"), 0, nil); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
}

func TestAuthenticate(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		iss, _ := auth.NewJWTIssuer([]byte(secret), time.Hour, nil)
		svc := auth.NewService(db, iss, nil)
		plain, tok, err := svc.CreateToken(ctx, "acme", auth.ModeWrite, "ci", auth.PrefixAPI)
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.Authenticate(ctx, plain)
		if err != nil || p.TeamName != "acme" || p.Mode != auth.ModeWrite || p.TokenID != tok.ID || p.IsAdmin() {
			t.Fatalf("authenticate: %+v %v", p, err)
		}
		if _, err := svc.Authenticate(ctx, plain+"x"); proofgrid.ErrorCode(err) != proofgrid.EUNAUTHORIZED {
			t.Fatalf("wrong token: %v", err)
		}
		if err := db.RevokeAPIToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, plain); proofgrid.ErrorCode(err) != proofgrid.EUNAUTHORIZED {
			t.Fatalf("revoked token: %v", err)
		}
		jwtTok, _ := iss.Issue("ops")
		if p, err := svc.Authenticate(ctx, jwtTok); err != nil || !p.IsAdmin() || !p.IsOperator() || p.TeamID != 0 {
			t.Fatalf("jwt: %+v %v", p, err)
		}
		if _, _, err := svc.CreateToken(ctx, "acme", "root", "", auth.PrefixAPI); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Fatalf("bad mode: %v", err)
		}
		// Without an issuer JWTs are refused.
		if _, err := auth.NewService(db, nil, nil).Authenticate(ctx, jwtTok); proofgrid.ErrorCode(err) != proofgrid.EUNAUTHORIZED {
			t.Fatalf("jwt without issuer: %v", err)
		}
	})
}

// TestOperatorCredentials checks that only operator tokens and admin JWTs
// are operators: a team's admin token holds admin rights for its team and
// nothing more.
func TestOperatorCredentials(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		svc := auth.NewService(db, nil, nil)
		admin, _, err := svc.CreateToken(ctx, "acme", auth.ModeAdmin, "", auth.PrefixAPI)
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.Authenticate(ctx, admin)
		if err != nil || !p.IsAdmin() || p.IsOperator() || p.TeamName != "acme" {
			t.Fatalf("team admin: %+v %v", p, err)
		}
		op, tok, err := svc.CreateOperatorToken(ctx, "", "on call")
		if err != nil || !tok.Operator || tok.Mode != auth.ModeAdmin || !strings.HasPrefix(op, auth.PrefixOperator) {
			t.Fatalf("CreateOperatorToken = %q %+v %v", op, tok, err)
		}
		p, err = svc.Authenticate(ctx, op)
		if err != nil || !p.IsOperator() || p.TeamName != auth.DefaultOperatorTeam || p.TokenID != tok.ID {
			t.Fatalf("operator: %+v %v", p, err)
		}
		// An operator token may name its team.
		op, _, err = svc.CreateOperatorToken(ctx, "acme", "")
		if err != nil {
			t.Fatal(err)
		}
		if p, err := svc.Authenticate(ctx, op); err != nil || !p.IsOperator() || p.TeamName != "acme" {
			t.Fatalf("operator of acme: %+v %v", p, err)
		}
		// The flag alone is not enough: an operator is an admin.
		if (auth.Principal{Mode: auth.ModeRead, Operator: true}).IsOperator() {
			t.Fatal("a read principal flagged operator is an operator")
		}
	})
}

func TestReplayCache(t *testing.T) {
	r := queuetest.StartRedis(t, queuetest.Options{})
	c := auth.NewReplayCache(r.Client(), "")
	ctx := context.Background()
	if err := c.Use(ctx, "m1", "00aa"); err != nil {
		t.Fatal(err)
	}
	if err := c.Use(ctx, "m1", "00aa"); proofgrid.ErrorCode(err) != proofgrid.EUNAUTHORIZED {
		t.Fatalf("second use: %v", err)
	}
	if err := c.Use(ctx, "m2", "00aa"); err != nil {
		t.Fatalf("same nonce, other key: %v", err)
	}
	ttl := r.Client().TTL(ctx, "proofgrid:nonce:m1:00aa").Val()
	if ttl < 10*time.Minute || ttl > 11*time.Minute {
		t.Fatalf("nonce kept for %v, want 11 minutes (twice the window plus a minute)", ttl)
	}
	r.Kill()
	if err := c.Use(ctx, "m1", "00bb"); proofgrid.ErrorCode(err) != proofgrid.EUNAVAILABLE {
		t.Fatalf("redis down: %v, want unavailable (fail closed)", err)
	}
}
