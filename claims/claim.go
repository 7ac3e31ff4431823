package claims

import (
	"context"
	"io"
	"math/big"
	"strconv"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/merkle"
	"github.com/proofgrid/proofgrid/storage"
)

// Package is what an account needs to claim: its leaf in an epoch's tree
// and the proof to that epoch's root.
type Package struct {
	Epoch int64 `json:"epoch"`
	// Index is the leaf's position in the tree's node array (the dump's
	// treeIndex).
	Index            int    `json:"index"`
	Hotkey           string `json:"hotkey"`
	RecipientColdkey string `json:"recipient_coldkey"`
	// AmountUnits is cumulative: a claim pays it minus what was claimed.
	AmountUnits string   `json:"amount_units"`
	Proof       []string `json:"proof"`
	Root        string   `json:"root"`
	// Account and Recipient are the leaf's bytes32 forms; Value is the
	// leaf as StandardMerkleTree.verify takes it, Leaf its hash.
	Account   string   `json:"account"`
	Recipient string   `json:"recipient"`
	Value     []string `json:"value"`
	Leaf      string   `json:"leaf"`
}

// Claims serves claim packages and tree dumps, and simulates claims.
type Claims struct {
	db  *storage.DB
	now func() time.Time
}

// New returns Claims on db; now defaults to time.Now.
func New(db *storage.DB, now func() time.Time) *Claims {
	if now == nil {
		now = time.Now
	}
	return &Claims{db: db, now: now}
}

// Epoch returns published epoch id, or the latest published one when id is
// 0. An epoch not published is ENOTFOUND.
func (c *Claims) Epoch(ctx context.Context, id int64) (storage.LedgerEpoch, error) {
	if id == 0 {
		ep, err := c.db.LatestPublishedLedgerEpoch(ctx)
		if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
			return ep, proofgrid.Errorf(proofgrid.ENOTFOUND, "no epoch is published yet")
		}
		return ep, err
	}
	ep, err := c.db.LedgerEpoch(ctx, id)
	if err == nil && ep.Status != storage.LedgerEpochPublished {
		return ep, proofgrid.Errorf(proofgrid.ENOTFOUND, "epoch %d is not published yet", id)
	}
	return ep, err
}

// Epochs returns the published epochs, newest first.
func (c *Claims) Epochs(ctx context.Context, limit int) ([]storage.LedgerEpoch, error) {
	return c.db.LedgerEpochs(ctx, limit)
}

// Package returns the claim package of hotkey (any form ParseAccount
// takes) in epoch id (0: the latest). ENOTFOUND means no claim. The proof
// is read from the stored nodes: one small row per tree level.
func (c *Claims) Package(ctx context.Context, id int64, hotkey string) (Package, error) {
	a, err := ParseAccount(hotkey)
	if err != nil {
		return Package{}, err
	}
	ep, err := c.Epoch(ctx, id)
	if err != nil {
		return Package{}, err
	}
	leaf, err := c.db.LedgerLeaf(ctx, ep.ID, a.Bytes)
	if err != nil {
		return Package{}, err
	}
	nodes, err := c.db.LedgerNodes(ctx, ep.ID, append(merkle.ProofIndices(int(ep.NodeCount), leaf.TreeIndex), leaf.TreeIndex))
	if err != nil {
		return Package{}, err
	}
	claim := merkle.Claim{Epoch: uint64(ep.ID), Account: leaf.AccountBytes, Recipient: leaf.RecipientBytes, Amount: leaf.Amount}
	p := Package{Epoch: ep.ID, Index: leaf.TreeIndex, Hotkey: leaf.Account, RecipientColdkey: leaf.Recipient,
		AmountUnits: leaf.Amount.String(), Proof: make([]string, 0, len(nodes)-1), Root: merkle.Hex(ep.Root),
		Account: merkle.Hex(leaf.AccountBytes), Recipient: merkle.Hex(leaf.RecipientBytes), Value: claim.Values(),
		Leaf: merkle.Hex(nodes[len(nodes)-1])}
	for _, n := range nodes[:len(nodes)-1] {
		p.Proof = append(p.Proof, merkle.Hex(n))
	}
	return p, nil
}

// WriteDump writes epoch id's tree as OpenZeppelin's standard-v1 dump, which
// StandardMerkleTree.load reads and checks.
func (c *Claims) WriteDump(ctx context.Context, w io.Writer, id int64) error {
	ep, err := c.Epoch(ctx, id)
	if err != nil {
		return err
	}
	nodes, err := c.db.LedgerTreeNodes(ctx, ep.ID)
	if err != nil {
		return err
	}
	leaves, err := c.db.LedgerLeaves(ctx, ep.ID)
	if err != nil {
		return err
	}
	t := &merkle.Tree{Nodes: nodes, Index: make([]int, len(leaves))}
	cs := make([]merkle.Claim, len(leaves))
	for i, l := range leaves {
		t.Index[i] = l.TreeIndex
		cs[i] = merkle.Claim{Epoch: uint64(ep.ID), Account: l.AccountBytes, Recipient: l.RecipientBytes, Amount: l.Amount}
	}
	return t.WriteDump(w, cs)
}

// ClaimRequest is a claim as the claim routes take it.
type ClaimRequest struct {
	Index            int      `json:"index"`
	Hotkey           string   `json:"hotkey"`
	RecipientColdkey string   `json:"recipient_coldkey"`
	AmountUnits      string   `json:"amount_units"`
	Proof            []string `json:"proof"`
}

// ClaimResult is a simulated claim that paid.
type ClaimResult struct {
	ID               int64     `json:"id"`
	Epoch            int64     `json:"epoch"`
	Hotkey           string    `json:"hotkey"`
	RecipientColdkey string    `json:"recipient_coldkey"`
	AmountUnits      string    `json:"amount_units"`
	PaidUnits        string    `json:"paid_units"`
	ClaimedAt        time.Time `json:"claimed_at"`
}

func claimResult(c storage.LedgerClaim) ClaimResult {
	return ClaimResult{ID: c.ID, Epoch: c.EpochID, Hotkey: c.Account, RecipientColdkey: c.Recipient,
		AmountUnits: c.Amount.String(), PaidUnits: c.Paid.String(), ClaimedAt: c.CreatedAt}
}

// Claim simulates the on-chain claim against epoch id (0: the latest): the
// leaf made of the request must be proved to the epoch's root (else
// EINVALID: a forged proof, a wrong amount or recipient), and it pays the
// amount minus what the account claimed before (ECONFLICT when that is
// nothing: the amount was claimed already).
func (c *Claims) Claim(ctx context.Context, id int64, req ClaimRequest) (ClaimResult, error) {
	ep, err := c.Epoch(ctx, id)
	if err != nil {
		return ClaimResult{}, err
	}
	acct, err := ParseAccount(req.Hotkey)
	if err != nil {
		return ClaimResult{}, err
	}
	rcpt, err := ParseAccount(req.RecipientColdkey)
	if err != nil {
		return ClaimResult{}, proofgrid.Errorf(proofgrid.EINVALID, "recipient_coldkey: %s", proofgrid.ErrorMessage(err))
	}
	amount, err := ParseUnits(req.AmountUnits)
	if err != nil {
		return ClaimResult{}, err
	}
	if len(req.Proof) > 64 {
		return ClaimResult{}, proofgrid.Errorf(proofgrid.EINVALID, "proof has %d nodes; a tree this deep cannot exist", len(req.Proof))
	}
	proof := make([][32]byte, len(req.Proof))
	for i, s := range req.Proof {
		if proof[i], err = merkle.ParseHash(s); err != nil {
			return ClaimResult{}, proofgrid.Errorf(proofgrid.EINVALID, "proof[%d]: %s", i, proofgrid.ErrorMessage(err))
		}
	}
	leafHash, err := merkle.Claim{Epoch: uint64(ep.ID), Account: acct.Bytes, Recipient: rcpt.Bytes, Amount: amount}.Leaf()
	if err != nil {
		return ClaimResult{}, err
	}
	if !merkle.Verify(ep.Root, leafHash, proof) {
		return ClaimResult{}, proofgrid.Errorf(proofgrid.EINVALID, "the proof does not lead from this claim to the root of epoch %d", ep.ID)
	}
	stored, err := c.db.LedgerLeaf(ctx, ep.ID, acct.Bytes)
	if err != nil {
		return ClaimResult{}, err
	}
	if stored.TreeIndex != req.Index {
		return ClaimResult{}, proofgrid.Errorf(proofgrid.EINVALID, "index is %d; this claim's leaf is at %d", req.Index, stored.TreeIndex)
	}
	cl, err := c.db.RecordLedgerClaim(ctx, stored, c.now())
	if err != nil {
		return ClaimResult{}, err
	}
	return claimResult(cl), nil
}

// ClaimLedger is the simulated claim ledger of one epoch.
type ClaimLedger struct {
	Epoch        int64         `json:"epoch"`
	Root         string        `json:"root"`
	TotalUnits   string        `json:"total_units"`
	ClaimedUnits string        `json:"claimed_units"`
	Claims       []ClaimResult `json:"claims"`
	ClaimCount   int           `json:"claim_count"`
	CutoffAt     time.Time     `json:"cutoff_at"`
	Accounts     int64         `json:"accounts"`
}

// Ledger returns the simulated claims made against epoch id (0: latest).
func (c *Claims) Ledger(ctx context.Context, id int64) (ClaimLedger, error) {
	ep, err := c.Epoch(ctx, id)
	if err != nil {
		return ClaimLedger{}, err
	}
	cls, err := c.db.LedgerClaims(ctx, ep.ID, 0)
	if err != nil {
		return ClaimLedger{}, err
	}
	out := ClaimLedger{Epoch: ep.ID, Root: merkle.Hex(ep.Root), TotalUnits: ep.TotalUnits.String(),
		Claims: make([]ClaimResult, 0, len(cls)), ClaimCount: len(cls), CutoffAt: ep.Cutoff, Accounts: ep.LeafCount}
	paid := new(big.Int)
	for _, cl := range cls {
		paid.Add(paid, cl.Paid)
		out.Claims = append(out.Claims, claimResult(cl))
	}
	out.ClaimedUnits = paid.String()
	return out, nil
}

// EpochID parses an epoch id from a path.
func EpochID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, proofgrid.Errorf(proofgrid.EINVALID, "epoch_id must be a positive integer, got %q", s)
	}
	return id, nil
}
