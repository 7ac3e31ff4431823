package claims_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth/minerauth"
	"github.com/proofgrid/proofgrid/claims"
	"github.com/proofgrid/proofgrid/internal/clocktest"
	"github.com/proofgrid/proofgrid/merkle"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type env struct {
	db     *storage.DB
	clock  *clocktest.Clock
	ledger *claims.Ledger
	epochs *claims.Epochs
	claims *claims.Claims
}

func newEnv(t *testing.T, db *storage.DB, recipients claims.RecipientsFunc) *env {
	c := clocktest.New(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	return &env{db: db, clock: c, ledger: claims.NewLedger(db, c.Now),
		epochs: claims.NewEpochs(db, claims.EpochConfig{Now: c.Now, Recipients: recipients, Logger: quiet}), claims: claims.New(db, c.Now)}
}

func hotkey(b byte) string {
	var k [32]byte
	k[0], k[31] = b, 0xa0
	return minerauth.Address(k)
}

func units(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return v
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := proofgrid.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (err %v), want %q", got, err, code)
	}
}

// close closes an epoch one second later and fails unless it published.
func (e *env) close(t *testing.T) storage.LedgerEpoch {
	t.Helper()
	e.clock.Advance(time.Second)
	ep, ok, err := e.epochs.Close(context.Background(), e.clock.Now())
	if err != nil || !ok || ep.Status != storage.LedgerEpochPublished {
		t.Fatalf("close = %+v, %v, %v", ep, ok, err)
	}
	return ep
}

func claimOf(p claims.Package) claims.ClaimRequest {
	return claims.ClaimRequest{Index: p.Index, Hotkey: p.Hotkey, RecipientColdkey: p.RecipientColdkey, AmountUnits: p.AmountUnits, Proof: p.Proof}
}

// TestCumulativeClaims claims 100 in epoch 1, grants 50 more, and finds
// that epoch 2's claim pays 50 only; second claims are refused.
func TestCumulativeClaims(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newEnv(t, db, nil)
		alice, bob := hotkey(1), hotkey(2)
		if _, err := e.ledger.Grant(ctx, "genesis", []claims.Grant{{alice, big.NewInt(100), "genesis"}, {bob, big.NewInt(7), "genesis"}}); err != nil {
			t.Fatal(err)
		}
		ep1 := e.close(t)
		if ep1.ID != 1 || ep1.LeafCount != 2 || ep1.TotalUnits.Int64() != 107 || ep1.NewUnits.Int64() != 107 {
			t.Fatalf("epoch 1 = %+v", ep1)
		}
		p1, err := e.claims.Package(ctx, 0, alice)
		if err != nil || p1.Epoch != 1 || p1.AmountUnits != "100" || p1.Hotkey != alice || p1.RecipientColdkey != alice || len(p1.Proof) != 1 {
			t.Fatalf("package = %+v, %v", p1, err)
		}
		r, err := e.claims.Claim(ctx, 1, claimOf(p1))
		if err != nil || r.PaidUnits != "100" {
			t.Fatalf("claim = %+v, %v", r, err)
		}
		_, err = e.claims.Claim(ctx, 1, claimOf(p1))
		wantCode(t, err, proofgrid.ECONFLICT)

		if err := e.ledger.Credit(ctx, []claims.Credit{{Key: "pool:window:1:" + alice, Account: alice, Amount: big.NewInt(50), Reason: "window 1"}}); err != nil {
			t.Fatal(err)
		}
		ep2 := e.close(t)
		if ep2.ID != 2 || ep2.TotalUnits.Int64() != 157 || ep2.NewUnits.Int64() != 50 {
			t.Fatalf("epoch 2 = %+v", ep2)
		}
		p2, err := e.claims.Package(ctx, 0, alice)
		if err != nil || p2.Epoch != 2 || p2.AmountUnits != "150" || p2.Root == p1.Root {
			t.Fatalf("package 2 = %+v, %v", p2, err)
		}
		r, err = e.claims.Claim(ctx, 0, claimOf(p2))
		if err != nil || r.PaidUnits != "50" || r.AmountUnits != "150" {
			t.Fatalf("claim 2 = %+v, %v", r, err)
		}
		_, err = e.claims.Claim(ctx, 2, claimOf(p2))
		wantCode(t, err, proofgrid.ECONFLICT)
		// Epoch 1's package, still valid against epoch 1's root, pays
		// nothing more.
		_, err = e.claims.Claim(ctx, 1, claimOf(p1))
		wantCode(t, err, proofgrid.ECONFLICT)

		led, err := e.claims.Ledger(ctx, 2)
		if err != nil || led.ClaimCount != 1 || led.ClaimedUnits != "50" || led.TotalUnits != "157" {
			t.Fatalf("ledger = %+v, %v", led, err)
		}
		// A hotkey without a leaf has no claim.
		_, err = e.claims.Package(ctx, 0, hotkey(9))
		wantCode(t, err, proofgrid.ENOTFOUND)
	})
}

// TestForgedClaims refuses a claim whose proof or amount is wrong.
func TestForgedClaims(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newEnv(t, db, nil)
		var grants []claims.Grant
		for i := range 5 {
			grants = append(grants, claims.Grant{hotkey(byte(i + 1)), big.NewInt(int64(10 * (i + 1))), ""})
		}
		if _, err := e.ledger.Grant(ctx, "r1", grants); err != nil {
			t.Fatal(err)
		}
		e.close(t)
		p, err := e.claims.Package(ctx, 0, hotkey(3))
		if err != nil {
			t.Fatal(err)
		}
		wrong := claimOf(p)
		wrong.AmountUnits = "31"
		_, err = e.claims.Claim(ctx, 0, wrong)
		wantCode(t, err, proofgrid.EINVALID)

		forged := claimOf(p)
		forged.Proof = append([]string(nil), p.Proof...)
		forged.Proof[0] = merkle.Hex([32]byte{1, 2, 3})
		_, err = e.claims.Claim(ctx, 0, forged)
		wantCode(t, err, proofgrid.EINVALID)

		// Another hotkey's proof does not prove this hotkey's leaf.
		other, _ := e.claims.Package(ctx, 0, hotkey(4))
		stolen := claimOf(p)
		stolen.Proof = other.Proof
		_, err = e.claims.Claim(ctx, 0, stolen)
		wantCode(t, err, proofgrid.EINVALID)

		redirected := claimOf(p)
		redirected.RecipientColdkey = hotkey(8)
		_, err = e.claims.Claim(ctx, 0, redirected)
		wantCode(t, err, proofgrid.EINVALID)

		if r, err := e.claims.Claim(ctx, 0, claimOf(p)); err != nil || r.PaidUnits != "30" {
			t.Fatalf("honest claim = %+v, %v", r, err)
		}
	})
}

// TestConcurrentClose closes the same epoch from two replicas at once:
// both get epoch 1 and one tree is published.
func TestConcurrentClose(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newEnv(t, db, nil)
		if _, err := e.ledger.Grant(ctx, "r1", []claims.Grant{{hotkey(1), big.NewInt(5), ""}, {hotkey(2), big.NewInt(6), ""}}); err != nil {
			t.Fatal(err)
		}
		cutoff := e.clock.Now().Add(time.Minute)
		replicas := []*claims.Epochs{claims.NewEpochs(db, claims.EpochConfig{Logger: quiet}), claims.NewEpochs(db, claims.EpochConfig{Logger: quiet})}
		eps := make([]storage.LedgerEpoch, 2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, r := range replicas {
			wg.Go(func() { eps[i], _, errs[i] = r.Close(ctx, cutoff) })
		}
		wg.Wait()
		for i := range eps {
			if errs[i] != nil || eps[i].ID != 1 || eps[i].Status != storage.LedgerEpochPublished {
				t.Fatalf("replica %d: %+v, %v", i, eps[i], errs[i])
			}
		}
		if eps[0].Root != eps[1].Root {
			t.Fatal("replicas see different roots")
		}
		all, err := db.LedgerEpochs(ctx, 0)
		if err != nil || len(all) != 1 {
			t.Fatalf("epochs = %+v, %v", all, err)
		}
		leaves, err := db.LedgerLeaves(ctx, 1)
		if err != nil || len(leaves) != 2 {
			t.Fatalf("leaves = %d, %v", len(leaves), err)
		}
		// Publishing again (a retried task) changes nothing.
		again, err := e.epochs.Publish(ctx, 1)
		if err != nil || again.Root != eps[0].Root || again.PublishedAt == nil || !again.PublishedAt.Equal(*eps[0].PublishedAt) {
			t.Fatalf("publish again = %+v, %v", again, err)
		}
	})
}

// TestEmptyEpoch publishes nothing without entries, nor without entries
// since the latest epoch.
func TestEmptyEpoch(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newEnv(t, db, nil)
		ep, ok, err := e.epochs.Close(ctx, e.clock.Now())
		if err != nil || ok || ep.ID != 0 {
			t.Fatalf("empty close = %+v, %v, %v", ep, ok, err)
		}
		_, err = e.claims.Epoch(ctx, 0)
		wantCode(t, err, proofgrid.ENOTFOUND)
		if _, err := e.ledger.Grant(ctx, "r1", []claims.Grant{{hotkey(1), big.NewInt(5), ""}}); err != nil {
			t.Fatal(err)
		}
		e.close(t)
		e.clock.Advance(time.Hour)
		if _, ok, err := e.epochs.Close(ctx, e.clock.Now()); err != nil || ok {
			t.Fatalf("close without new entries = %v, %v", ok, err)
		}
		if all, _ := db.LedgerEpochs(ctx, 0); len(all) != 1 {
			t.Fatalf("epochs = %d, want 1", len(all))
		}
	})
}

// TestDumpLoads writes an epoch's dump and loads it: the tree checks and
// reproduces the root, and every package's proof is the tree's. The dump
// is left in PROOFGRID_DUMP_DIR when set, for merkle/testdata/verify-dump.js.
func TestDumpLoads(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		recipients := func(_ context.Context, accounts []string) (map[string]string, error) {
			return map[string]string{accounts[0]: "0x00000000000000000000000000000000000000aa"}, nil
		}
		e := newEnv(t, db, recipients)
		var grants []claims.Grant
		for i := range 37 {
			grants = append(grants, claims.Grant{hotkey(byte(i + 1)), units("18446744073709551616"), ""})
		}
		grants = append(grants, claims.Grant{"0x00000000000000000000000000000000000000bb", big.NewInt(1), ""})
		if _, err := e.ledger.Grant(ctx, "r1", grants); err != nil {
			t.Fatal(err)
		}
		ep := e.close(t)
		var buf bytes.Buffer
		if err := e.claims.WriteDump(ctx, &buf, ep.ID); err != nil {
			t.Fatal(err)
		}
		if dir := os.Getenv("PROOFGRID_DUMP_DIR"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, "epoch-"+db.Dialect()+".json"), buf.Bytes(), 0o644)
		}
		tree, values, err := merkle.Load(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if tree.Root() != ep.Root || len(values) != 38 {
			t.Fatalf("loaded root %x (%d values), want %x", tree.Root(), len(values), ep.Root)
		}
		redirected := 0
		for i, v := range values {
			if v.Recipient != v.Account {
				redirected++
			}
			p, err := e.claims.Package(ctx, ep.ID, merkle.Hex(v.Account))
			if err != nil {
				t.Fatal(err)
			}
			proof := tree.Proof(i)
			if len(p.Proof) != len(proof) || p.Index != tree.Index[i] || p.AmountUnits != v.Amount.String() {
				t.Fatalf("package %d = %+v", i, p)
			}
			for k := range proof {
				if p.Proof[k] != merkle.Hex(proof[k]) {
					t.Fatalf("package %d proof %d differs", i, k)
				}
			}
		}
		if redirected != 1 {
			t.Fatalf("%d leaves pay a recipient, want 1", redirected)
		}
		// The 20-byte address is left-padded.
		p, err := e.claims.Package(ctx, 0, "0x00000000000000000000000000000000000000BB")
		if err != nil || p.Account != "0x00000000000000000000000000000000000000000000000000000000000000bb" || p.Hotkey != "0x00000000000000000000000000000000000000bb" {
			t.Fatalf("address package = %+v, %v", p, err)
		}
	})
}

// TestGrantIdempotent credits a request id once, and validates grants.
func TestGrantIdempotent(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newEnv(t, db, nil)
		g := []claims.Grant{{hotkey(1), big.NewInt(5), "a"}, {hotkey(2), big.NewInt(6), "b"}}
		if n, err := e.ledger.Grant(ctx, "req-1", g); err != nil || n != 2 {
			t.Fatalf("grant = %d, %v", n, err)
		}
		if n, err := e.ledger.Grant(ctx, "req-1", g); err != nil || n != 0 {
			t.Fatalf("grant again = %d, %v", n, err)
		}
		if n, err := e.ledger.Grant(ctx, "req-2", g[:1]); err != nil || n != 1 {
			t.Fatalf("grant req-2 = %d, %v", n, err)
		}
		bs, err := db.LedgerBalances(ctx, e.clock.Now())
		if err != nil || len(bs) != 2 {
			t.Fatalf("balances = %+v, %v", bs, err)
		}
		for _, bad := range [][]claims.Grant{
			{{"5notanss58", big.NewInt(1), ""}},
			{{hotkey(1)[:47] + "x", big.NewInt(1), ""}},
			{{hotkey(1), big.NewInt(0), ""}},
			{{hotkey(1), new(big.Int).Lsh(big.NewInt(1), 256), ""}},
			{{hotkey(1), big.NewInt(1), string(make([]byte, 201))}},
			{},
		} {
			_, err := e.ledger.Grant(ctx, "req-bad", bad)
			wantCode(t, err, proofgrid.EINVALID)
		}
		_, err = e.ledger.Grant(ctx, "", g)
		wantCode(t, err, proofgrid.EINVALID)
	})
}

// TestCreditPsy turns a Psy checkpoint distribution, handed over inside
// the computation's transaction, into one ledger entry per worker.
func TestCreditPsy(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newEnv(t, db, nil)
		ed := "0x11" + strings.Repeat("22", 31)
		agent := "MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=" // base64 of 32 × '3'
		dists := []storage.PsyDistribution{
			{CheckpointID: 7, WorkerPublicKey: ed, CircuitType: "a", JobCount: 2, TotalRewards: 600},
			{CheckpointID: 7, WorkerPublicKey: ed, CircuitType: "b", JobCount: 1, TotalRewards: 150},
			{CheckpointID: 7, WorkerPublicKey: agent, CircuitType: "a", JobCount: 1, TotalRewards: 250},
			{CheckpointID: 7, WorkerPublicKey: "team:abc", CircuitType: "a", JobCount: 1, TotalRewards: 9},
		}
		for range 2 { // a recomputation credits nothing twice
			err := db.InTx(ctx, func(tx *storage.Tx) error {
				skipped, err := e.ledger.CreditPsyTx(ctx, tx, 7, dists)
				if len(skipped) != 1 || skipped[0] != "team:abc" {
					t.Errorf("skipped = %v", skipped)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		a, _ := claims.ParseAccount(ed)
		es, err := db.LedgerEntries(ctx, a.Bytes, 0)
		if err != nil || len(es) != 1 || es[0].Amount.Int64() != 750 || es[0].Source != storage.LedgerSourcePsy || es[0].Key != "psy:checkpoint:7:"+ed {
			t.Fatalf("entries = %+v, %v", es, err)
		}
		var k [32]byte
		copy(k[:], bytes.Repeat([]byte("3"), 32))
		es, err = db.LedgerEntries(ctx, k, 0)
		if err != nil || len(es) != 1 || es[0].Amount.Int64() != 250 || es[0].Account != agent {
			t.Fatalf("agent entries = %+v, %v", es, err)
		}
	})
}
