package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
)

// Principal is who a request acts for.
type Principal struct {
	TeamID   int64 // 0 for JWT callers, which belong to no team
	TeamName string
	Mode     string // admin | read | write
	// Operator marks a global credential (an operator token or an admin
	// JWT): it may act on every team's data and on what belongs to no team.
	// A team's admin token is not one: it acts for its own team only.
	Operator bool
	TokenID  int64  // 0 for JWT callers
	Subject  string // JWT subject, or the token's display prefix
}

// IsAdmin reports whether the principal holds admin rights over its own
// team (operators hold them too).
func (p Principal) IsAdmin() bool { return p.Mode == ModeAdmin }

// IsOperator reports whether the principal holds global rights.
func (p Principal) IsOperator() bool { return p.Operator && p.Mode == ModeAdmin }

// Service authenticates bearer credentials against the database and, when
// configured, the JWT issuer.
type Service struct {
	db  *storage.DB
	jwt *JWTIssuer // nil: JWTs are refused
	now func() time.Time
}

// NewService returns a Service. jwt may be nil.
func NewService(db *storage.DB, jwt *JWTIssuer, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, jwt: jwt, now: now}
}

// JWT returns the issuer, nil when none is configured.
func (s *Service) JWT() *JWTIssuer { return s.jwt }

// CreateToken creates a team (if needed) and a token of mode for it and
// returns the plain token, which is not stored anywhere. The token acts
// for that team only.
func (s *Service) CreateToken(ctx context.Context, team, mode, label, prefix string) (string, storage.APIToken, error) {
	return s.createToken(ctx, team, mode, label, prefix, false)
}

// CreateOperatorToken creates an operator token (mode admin, prefix
// PrefixOperator) and returns the plain token. An operator token belongs
// to team (created when new; DefaultOperatorTeam when empty), for the
// routes that act for a team, and has global rights everywhere else.
func (s *Service) CreateOperatorToken(ctx context.Context, team, label string) (string, storage.APIToken, error) {
	if team == "" {
		team = DefaultOperatorTeam
	}
	return s.createToken(ctx, team, ModeAdmin, label, PrefixOperator, true)
}

func (s *Service) createToken(ctx context.Context, team, mode, label, prefix string, operator bool) (string, storage.APIToken, error) {
	if !ValidMode(mode) {
		return "", storage.APIToken{}, proofgrid.Errorf(proofgrid.EINVALID, "mode must be admin, read or write, not %q", mode)
	}
	if team == "" || len(team) > 100 {
		return "", storage.APIToken{}, proofgrid.Errorf(proofgrid.EINVALID, "team name must be 1..100 characters")
	}
	t, err := s.db.EnsureTeam(ctx, team)
	if err != nil {
		return "", storage.APIToken{}, fmt.Errorf("ensure team: %w", err)
	}
	plain, hash, err := NewToken(prefix)
	if err != nil {
		return "", storage.APIToken{}, err
	}
	tok, err := s.db.CreateAPIToken(ctx, storage.APIToken{
		TeamID: t.ID, Mode: mode, Label: label, Prefix: DisplayPrefix(plain), Hash: hash, Operator: operator,
	})
	if err != nil {
		return "", storage.APIToken{}, fmt.Errorf("create token: %w", err)
	}
	return plain, tok, nil
}

// Authenticate resolves a bearer credential: an API token, or an admin JWT
// when an issuer is configured. An admin JWT is an operator credential.
func (s *Service) Authenticate(ctx context.Context, credential string) (Principal, error) {
	if LooksLikeJWT(credential) {
		if s.jwt == nil {
			return Principal{}, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "JWTs are not accepted: no JWT_SECRET is configured")
		}
		claims, err := s.jwt.Verify(credential)
		if err != nil {
			return Principal{}, err
		}
		return Principal{Mode: ModeAdmin, Operator: true, Subject: claims.Subject}, nil
	}
	hash := HashToken(credential)
	tok, err := s.db.APITokenByHash(ctx, hash)
	if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
		return Principal{}, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "unknown or revoked API token")
	} else if err != nil {
		return Principal{}, fmt.Errorf("look up token: %w", err)
	}
	if !SameHash(tok.Hash, hash) {
		return Principal{}, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "unknown or revoked API token")
	}
	team, err := s.db.TeamByID(ctx, tok.TeamID)
	if err != nil {
		return Principal{}, fmt.Errorf("look up team: %w", err)
	}
	// Record use at most once a minute: a write per request would make
	// every read a write.
	if now := s.now(); tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) > time.Minute {
		_ = s.db.TouchAPIToken(ctx, tok.ID, now)
	}
	return Principal{TeamID: team.ID, TeamName: team.Name, Mode: tok.Mode, Operator: tok.Operator, TokenID: tok.ID, Subject: tok.Prefix}, nil
}

// FindToken returns the live API token plain when it belongs to team
// teamID (0: any team). An unknown or revoked token, or one of another
// team, is ENOTFOUND, so the answer tells nothing about other teams.
func (s *Service) FindToken(ctx context.Context, teamID int64, plain string) (storage.APIToken, error) {
	hash := HashToken(plain)
	tok, err := s.db.APITokenByHash(ctx, hash)
	if err != nil && proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
		return storage.APIToken{}, fmt.Errorf("look up token: %w", err)
	}
	if err != nil || !SameHash(tok.Hash, hash) || (teamID != 0 && tok.TeamID != teamID) {
		return storage.APIToken{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "token not found")
	}
	return tok, nil
}

// RevokeToken revokes API token id; it authenticates nothing from then on.
func (s *Service) RevokeToken(ctx context.Context, id int64) error {
	return s.db.RevokeAPIToken(ctx, id)
}
