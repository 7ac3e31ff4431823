package auth

import (
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/proofgrid/proofgrid"
)

// JWTIssuer issues and verifies admin JWTs signed with HS256. The
// algorithm is pinned on verification, so "none" or RS/HS confusion
// tokens are refused.
type JWTIssuer struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// Claims are the claims of an admin JWT.
type Claims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

// NewJWTIssuer returns an issuer; ttl defaults to 24 h.
func NewJWTIssuer(secret []byte, ttl time.Duration, now func() time.Time) (*JWTIssuer, error) {
	if len(secret) < 32 {
		return nil, errors.New("auth: JWT secret must be at least 32 bytes")
	}
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	if now == nil {
		now = time.Now
	}
	return &JWTIssuer{secret: secret, ttl: ttl, now: now}, nil
}

// Issue returns a signed admin token for subject.
func (j *JWTIssuer) Issue(subject string) (string, error) {
	now := j.now()
	claims := Claims{
		Role: ModeAdmin,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   subject,
			Issuer:    "proofgrid",
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(j.ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(j.secret)
}

// Verify checks a token and returns its claims.
func (j *JWTIssuer) Verify(token string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return j.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer("proofgrid"),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(j.now),
	)
	if err != nil {
		return nil, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "invalid token: %v", err)
	}
	if c.Role != ModeAdmin {
		return nil, proofgrid.Errorf(proofgrid.EFORBIDDEN, "token is not an admin token")
	}
	return &c, nil
}

// LooksLikeJWT reports whether a bearer credential is a JWT rather than an
// API token (three dot-separated parts).
func LooksLikeJWT(tok string) bool {
	n := 0
	for i := 0; i < len(tok); i++ {
		if tok[i] == '.' {
			n++
		}
	}
	return n == 2
}
