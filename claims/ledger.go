// Package claims is proofgrid's one reward ledger and the Merkle claims
// published from it.
//
// Every reward source credits the Ledger: Pool window rewards, Psy
// checkpoint distributions and admin grants. Each credit has an
// idempotency key ("<source>:..."), so a source may credit the same work
// twice and the ledger keeps one entry. Amounts are base units (rao) as
// *big.Int, up to 2^256 − 1.
//
// Epochs cut the ledger: an epoch takes every entry up to its cut-off and
// publishes a merkle tree of CUMULATIVE amounts per account, so the latest
// root alone serves every claim, and a claim pays the cumulative amount
// minus what the account claimed before. Claims reads packages (leaf and
// proof, computed from stored tree nodes in O(log n)) and simulates claims.
//
// The package is separate from rewards, which holds the pure split of a
// checkpoint's pool: the ledger is where every source's rewards end up, and
// a Psy checkpoint computation calls Ledger.CreditPsyTx inside its own
// transaction.
package claims

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth/minerauth"
	"github.com/proofgrid/proofgrid/merkle"
	"github.com/proofgrid/proofgrid/storage"
)

// Account is a ledger account: its native text form and its bytes32 form,
// the leaf's (32-byte keys as they are, 20-byte addresses left-padded).
type Account struct {
	Text  string
	Bytes [32]byte
}

// ParseAccount parses an account as the admin route and the claim routes
// take it: an SS58 address (checksum checked), a 0x 20-byte address, or a
// 32-byte key as 0x hex or 64 bare hex digits. Hex is kept in lower case.
func ParseAccount(s string) (Account, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Account{}, proofgrid.Errorf(proofgrid.EINVALID, "account is empty")
	}
	digits, prefixed := strings.CutPrefix(strings.ToLower(s), "0x")
	if prefixed || len(digits) == 64 {
		b, err := hex.DecodeString(digits)
		if err != nil || (len(b) != 20 && len(b) != 32) {
			return Account{}, proofgrid.Errorf(proofgrid.EINVALID, "account %q: hex must be a 20-byte address or a 32-byte key", s)
		}
		a, _ := merkle.AccountFromBytes(b)
		return Account{Text: "0x" + digits, Bytes: a}, nil
	}
	pub, _, err := minerauth.DecodeSS58(s)
	if err != nil {
		return Account{}, proofgrid.Errorf(proofgrid.EINVALID, "account %q is neither an SS58 address nor 0x hex: %s", s, proofgrid.ErrorMessage(err))
	}
	return Account{Text: s, Bytes: pub}, nil
}

// Credit is one reward to credit: Amount base units to Account (its native
// text form, see ParseAccount). Key makes it idempotent and starts with its
// source: "pool:...", "psy:...", "admin:...". Its fields are those of
// pool.Credit, so the Pool's credits convert with claims.Credit(c).
type Credit struct {
	Key     string
	Account string
	Amount  *big.Int
	Reason  string
}

// MaxReason is the longest reason a credit may carry.
const MaxReason = 200

// Ledger writes the reward ledger.
type Ledger struct {
	db  *storage.DB
	now func() time.Time
}

// NewLedger returns a Ledger on db; now defaults to time.Now.
func NewLedger(db *storage.DB, now func() time.Time) *Ledger {
	if now == nil {
		now = time.Now
	}
	return &Ledger{db: db, now: now}
}

// Credit writes credits in one transaction. A credit whose key is stored
// already is skipped. An invalid credit (account, amount, reason, key
// without a source) fails the whole call with EINVALID.
func (l *Ledger) Credit(ctx context.Context, credits []Credit) error {
	_, err := l.credit(ctx, l.db, credits, ParseAccount)
	return err
}

// CreditTx writes credits on tx, so that they commit with the change that
// earned them (a Psy checkpoint computation, a Pool window close).
func (l *Ledger) CreditTx(ctx context.Context, tx *storage.Tx, credits []Credit) error {
	_, err := l.credit(ctx, tx, credits, ParseAccount)
	return err
}

// inserter is what DB and Tx share for writing entries.
type inserter interface {
	InsertLedgerEntries(ctx context.Context, entries []storage.LedgerEntry) (int64, error)
}

// credit writes credits whose accounts parse parses.
func (l *Ledger) credit(ctx context.Context, w inserter, credits []Credit, parse func(string) (Account, error)) (int64, error) {
	entries, err := l.entries(credits, parse)
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	return w.InsertLedgerEntries(ctx, entries)
}

func (l *Ledger) entries(credits []Credit, parse func(string) (Account, error)) ([]storage.LedgerEntry, error) {
	now := l.now()
	out := make([]storage.LedgerEntry, 0, len(credits))
	for i, c := range credits {
		source, _, ok := strings.Cut(c.Key, ":")
		if !ok || source == "" {
			return nil, proofgrid.Errorf(proofgrid.EINVALID, "credit %d: key %q must start with its source, e.g. pool:", i, c.Key)
		}
		a, err := parse(c.Account)
		if err != nil {
			return nil, proofgrid.Errorf(proofgrid.EINVALID, "credit %d: %s", i, proofgrid.ErrorMessage(err))
		}
		if err := checkAmount(c.Amount); err != nil {
			return nil, proofgrid.Errorf(proofgrid.EINVALID, "credit %d: %s", i, proofgrid.ErrorMessage(err))
		}
		if len(c.Reason) > MaxReason {
			return nil, proofgrid.Errorf(proofgrid.EINVALID, "credit %d: reason is longer than %d characters", i, MaxReason)
		}
		out = append(out, storage.LedgerEntry{Key: c.Key, Source: source, Account: a.Text, AccountBytes: a.Bytes,
			Amount: new(big.Int).Set(c.Amount), Reason: c.Reason, CreatedAt: now})
	}
	return out, nil
}

// checkAmount accepts 0 < a < 2^256.
func checkAmount(a *big.Int) error {
	if a == nil || a.Sign() <= 0 || a.BitLen() > 256 {
		return proofgrid.Errorf(proofgrid.EINVALID, "amount must be above 0 and below 2^256")
	}
	return nil
}

// ParseUnits parses a decimal amount of base units: above 0, below 2^256.
func ParseUnits(s string) (*big.Int, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "amount_units %q must be a decimal integer", s)
	}
	v, _ := new(big.Int).SetString(s, 10)
	if err := checkAmount(v); err != nil {
		return nil, err
	}
	return v, nil
}

// Grant is one admin allocation (genesis or manual).
type Grant struct {
	Hotkey string
	Amount *big.Int
	Reason string
}

// MaxGrants is the most grants one admin request may carry.
const MaxGrants = 10000

// Grant credits grants under requestID and reports how many entries were
// new: a request id seen before credits nothing again, so an admin may
// retry a request safely.
func (l *Ledger) Grant(ctx context.Context, requestID string, grants []Grant) (int64, error) {
	if requestID = strings.TrimSpace(requestID); requestID == "" || len(requestID) > 200 {
		return 0, proofgrid.Errorf(proofgrid.EINVALID, "request_id is required (at most 200 characters)")
	}
	if len(grants) == 0 || len(grants) > MaxGrants {
		return 0, proofgrid.Errorf(proofgrid.EINVALID, "a request grants 1 to %d entries, got %d", MaxGrants, len(grants))
	}
	credits := make([]Credit, len(grants))
	for i, g := range grants {
		credits[i] = Credit{Key: fmt.Sprintf("admin:%s:%d", requestID, i), Account: g.Hotkey, Amount: g.Amount, Reason: g.Reason}
	}
	return l.credit(ctx, l.db, credits, ParseAccount)
}

// PsyAccount returns the ledger account of a Psy worker key: a key or
// address ParseAccount takes, or an agent's base64 Ed25519 key (kept in
// its base64 form). Other workers ("team:<uuid>", "coordinator", a
// secp256k1 key not registered with an address) have no account.
func PsyAccount(worker string) (Account, bool) {
	if a, err := ParseAccount(worker); err == nil {
		return a, true
	}
	if b, err := base64.StdEncoding.DecodeString(worker); err == nil && len(b) == 32 {
		return Account{Text: worker, Bytes: [32]byte(b)}, true
	}
	return Account{}, false
}

// CreditPsyTx writes the distribution of Psy checkpoint checkpointID as
// ledger entries on tx, one per worker (its circuit types summed), keyed
// "psy:checkpoint:<id>:<worker>" so that a recomputation credits nothing
// twice. A secp256k1 worker key is credited to the Ethereum address its
// user registered. It returns the workers that have no account and were
// not credited.
func (l *Ledger) CreditPsyTx(ctx context.Context, tx *storage.Tx, checkpointID int64, dists []storage.PsyDistribution) (skipped []string, err error) {
	sums := map[string]*big.Int{}
	var order []string
	for _, d := range dists {
		if d.TotalRewards <= 0 {
			continue
		}
		s, ok := sums[d.WorkerPublicKey]
		if !ok {
			s = new(big.Int)
			sums[d.WorkerPublicKey] = s
			order = append(order, d.WorkerPublicKey)
		}
		s.Add(s, big.NewInt(d.TotalRewards))
	}
	credits := make([]Credit, 0, len(order))
	for _, w := range order {
		a, ok := PsyAccount(w)
		if !ok {
			u, err := tx.PsyUserByKey(ctx, strings.ToLower(w))
			if err == nil && u.Address != "" {
				a, ok = PsyAccount(u.Address)
			} else if err != nil && proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
				return nil, err
			}
		}
		if !ok {
			skipped = append(skipped, w)
			continue
		}
		credits = append(credits, Credit{Key: fmt.Sprintf("psy:checkpoint:%d:%s", checkpointID, w), Account: a.Text,
			Amount: sums[w], Reason: fmt.Sprintf("psy checkpoint %d", checkpointID)})
	}
	_, err = l.credit(ctx, tx, credits, func(s string) (Account, error) {
		if a, ok := PsyAccount(s); ok {
			return a, nil
		}
		return ParseAccount(s)
	})
	return skipped, err
}
