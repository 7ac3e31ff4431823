// Package auth holds the credential rules shared by every surface: API
// tokens (random, prefixed, SHA-256 at rest), admin JWTs (HS256 pinned) and
// the replay cache for signed agent requests.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/proofgrid/proofgrid"
)

// Token modes.
const (
	ModeAdmin = "admin"
	ModeRead  = "read"
	ModeWrite = "write"
)

// Token prefixes: they let secret scanners and people recognise a token.
const (
	PrefixAPI      = "pg_"
	PrefixOperator = "pgo_"
	PrefixZKGolf   = "cmp_"
)

// DefaultOperatorTeam is the team an operator token belongs to when none
// is named.
const DefaultOperatorTeam = "operators"

// ValidMode reports whether m is a known token mode.
func ValidMode(m string) bool { return m == ModeAdmin || m == ModeRead || m == ModeWrite }

// ModeAllows reports whether a token of mode have may do what need requires
// within its team: admin may do everything, write may also read. Global
// actions need an operator as well (Principal.IsOperator).
func ModeAllows(have, need string) bool {
	switch need {
	case ModeRead:
		return have == ModeRead || have == ModeWrite || have == ModeAdmin
	case ModeWrite:
		return have == ModeWrite || have == ModeAdmin
	case ModeAdmin:
		return have == ModeAdmin
	}
	return false
}

// NewToken returns a fresh token (prefix + 256 random bits, base64url) and
// the hash to store. The plain token is shown once and never stored.
func NewToken(prefix string) (plain, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	plain = prefix + base64.RawURLEncoding.EncodeToString(b)
	return plain, HashToken(plain), nil
}

// HashToken is the at-rest form of a token: hex SHA-256. Tokens carry 256
// bits of entropy, so a fast hash is enough; lookups go by hash, and the
// stored hash is compared again in constant time by SameHash.
func HashToken(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// SameHash compares two token hashes in constant time.
func SameHash(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// DisplayPrefix is the part of a token safe to show in listings.
func DisplayPrefix(plain string) string {
	if len(plain) > 10 {
		return plain[:10]
	}
	return plain
}

// BearerToken extracts the token of an "Authorization: Bearer <token>"
// header value.
func BearerToken(header string) (string, error) {
	if header == "" {
		return "", proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "missing Authorization header: send 'Authorization: Bearer <token>'")
	}
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "malformed Authorization header: send 'Authorization: Bearer <token>'")
	}
	tok = strings.TrimSpace(tok)
	if len(tok) > 256 {
		return "", proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "token too long")
	}
	return tok, nil
}
