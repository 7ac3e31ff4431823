// Package registry holds who the Psy network's users are: public keys in
// the forms Psy accepts (Ed25519, secp256k1, Ethereum addresses), their
// signatures (Ed25519 and EIP-191 personal_sign), signed registration, and
// the authentication of a registered user's signed ingest requests.
//
// It is identity only: what a user does (events, contracts, statistics) is
// package activity's, and whether what a user reports may earn is package
// rewards'. It imports neither Fiber nor asynq.
package registry

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/rewards"
	"github.com/proofgrid/proofgrid/storage"
)

// Service registers and authenticates Psy users.
type Service struct {
	db    *storage.DB
	rule  rewards.Rule
	clock func() time.Time
}

// New returns a Service. rule places each registration's RegisterUser user
// event in its checkpoint; now is the clock (nil: time.Now).
func New(db *storage.DB, rule rewards.Rule, now func() time.Time) (*Service, error) {
	if db == nil || rule == nil {
		return nil, errors.New("registry: a database and a checkpoint rule are required")
	}
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, rule: rule, clock: now}, nil
}

// RegisterRequest is the body of POST /register.
type RegisterRequest struct {
	PublicKey     string `json:"public_key"`
	TwitterHandle string `json:"twitter_handle"`
	Label         string `json:"label"`
	Signature     string `json:"signature"`
}

// Register verifies the signature of r over RegistrationMessage and
// stores the user with a RegisterUser event. A key registered already is
// ECONFLICT.
func (s *Service) Register(ctx context.Context, r RegisterRequest) (storage.PsyUser, error) {
	var problems []string
	if r.PublicKey == "" {
		problems = append(problems, "public_key is required")
	}
	if r.Signature == "" {
		problems = append(problems, "signature is required")
	}
	if n := len(r.TwitterHandle); n == 0 || n > 64 {
		problems = append(problems, "twitter_handle must be 1..64 characters")
	}
	if n := len(r.Label); n == 0 || n > 200 {
		problems = append(problems, "label must be 1..200 characters")
	}
	if strings.ContainsAny(r.TwitterHandle+r.Label, "\r\n") {
		problems = append(problems, "twitter_handle and label may not contain line breaks")
	}
	if len(problems) > 0 {
		return storage.PsyUser{}, &proofgrid.Error{Code: proofgrid.EINVALID, Message: "invalid registration", Details: problems}
	}
	key, err := ParseKey(r.PublicKey)
	if err != nil {
		return storage.PsyUser{}, err
	}
	if err := key.Verify(RegistrationMessage(key.Canonical, r.TwitterHandle, r.Label), r.Signature); err != nil {
		return storage.PsyUser{}, err
	}
	now := s.clock().UTC()
	return s.db.CreatePsyUser(ctx, storage.PsyUser{
		PublicKey: key.Canonical, KeyType: key.Type, Address: key.Address,
		TwitterHandle: r.TwitterHandle, Label: r.Label, CreatedAt: now,
	}, s.rule.Of(now))
}

// User returns the user registered with publicKey (any accepted form).
func (s *Service) User(ctx context.Context, publicKey string) (storage.PsyUser, error) {
	key, err := ParseKey(publicKey)
	if err != nil {
		return storage.PsyUser{}, err
	}
	return s.db.PsyUserByKey(ctx, key.Canonical)
}

// AuthenticateWorker checks that a registered user signed msg with sig
// and returns the user.
func (s *Service) AuthenticateWorker(ctx context.Context, publicKey string, msg []byte, sig string) (storage.PsyUser, error) {
	key, err := ParseKey(publicKey)
	if err != nil {
		return storage.PsyUser{}, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "%s: %s", HeaderPublicKey, proofgrid.ErrorMessage(err))
	}
	u, err := s.db.PsyUserByKey(ctx, key.Canonical)
	if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
		return storage.PsyUser{}, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "%s is not registered: POST /register first", key.Canonical)
	} else if err != nil {
		return storage.PsyUser{}, err
	}
	// A user registered with an address verifies through the address; one
	// registered with a full key through that key.
	reg, err := ParseKey(u.PublicKey)
	if err != nil {
		return storage.PsyUser{}, err
	}
	if err := reg.Verify(msg, sig); err != nil {
		return storage.PsyUser{}, err
	}
	return u, nil
}

// CanonicalWorker returns the stored form of a worker key: Psy keys are 0x
// lower-case hex; other workers (agents, teams) keep theirs.
func CanonicalWorker(k string) string {
	if key, err := ParseKey(k); err == nil {
		return key.Canonical
	}
	return k
}
