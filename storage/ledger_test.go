package storage_test

import (
	"context"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

func units(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return v
}

func account(b byte) [32]byte {
	var a [32]byte
	a[0], a[31] = b, b
	return a
}

func entry(key string, acct byte, amount string, at time.Time) storage.LedgerEntry {
	return storage.LedgerEntry{Key: key, Source: storage.LedgerSourceAdmin, Account: string(rune('a' + acct)),
		AccountBytes: account(acct), Amount: units(amount), Reason: "test", CreatedAt: at}
}

// TestLedgerBigSums credits amounts beyond 2^64 and checks the sums are
// exact on both dialects, and that a key is written once.
func TestLedgerBigSums(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		big1 := "18446744073709551616000" // 2^64 · 1000
		max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(1)).String()
		n, err := db.InsertLedgerEntries(ctx, []storage.LedgerEntry{
			entry("k1", 1, big1, base),
			entry("k2", 1, big1, base.Add(time.Second)),
			entry("k3", 2, "5", base),
			entry("k4", 3, max, base),
			entry("k5", 3, max, base),
		})
		if err != nil || n != 5 {
			t.Fatalf("insert = %d, %v", n, err)
		}
		// The same keys again change nothing.
		n, err = db.InsertLedgerEntries(ctx, []storage.LedgerEntry{entry("k1", 1, "7", base), entry("k3", 2, "7", base)})
		if err != nil || n != 0 {
			t.Fatalf("insert again = %d, %v", n, err)
		}
		_, err = db.InsertLedgerEntries(ctx, []storage.LedgerEntry{entry("k9", 1, "0", base)})
		wantCode(t, err, proofgrid.EINVALID)

		bs, err := db.LedgerBalances(ctx, base.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"36893488147419103232000", "5", new(big.Int).Mul(units(max), big.NewInt(2)).String()}
		if len(bs) != len(want) {
			t.Fatalf("balances = %+v", bs)
		}
		for i, b := range bs {
			if b.Amount.String() != want[i] || b.AccountBytes != account(byte(i+1)) {
				t.Errorf("balance %d = %s of %x, want %s", i, b.Amount, b.AccountBytes, want[i])
			}
		}
		// The cut-off is inclusive and leaves later entries out.
		bs, err = db.LedgerBalances(ctx, base)
		if err != nil || bs[0].Amount.String() != big1 || bs[0].Entries != 1 {
			t.Fatalf("balances at base = %+v, %v", bs, err)
		}
		if c, err := db.LedgerEntryCount(ctx, base); err != nil || c != 4 {
			t.Fatalf("count = %d, %v", c, err)
		}
		es, err := db.LedgerEntries(ctx, account(1), 0)
		if err != nil || len(es) != 2 || es[0].Key != "k2" || es[0].Amount.String() != big1 {
			t.Fatalf("entries = %+v, %v", es, err)
		}
	})
}

// TestLedgerEpochPublishOnce publishes the same epoch from two goroutines:
// one stores the tree, the other stores nothing.
func TestLedgerEpochPublishOnce(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		err := db.InTx(ctx, func(tx *storage.Tx) error {
			if err := tx.LockLedgerEpochs(ctx); err != nil {
				return err
			}
			return tx.InsertLedgerEpoch(ctx, storage.LedgerEpoch{ID: 1, Cutoff: base, EntryCount: 3, CreatedAt: base})
		})
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.InsertLedgerEpoch(ctx, storage.LedgerEpoch{ID: 2, Cutoff: base, CreatedAt: base}), proofgrid.ECONFLICT)

		// 300 leaves: more than two node chunks.
		const n = 300
		p := storage.LedgerPublication{EpochID: 1, EntryCount: 3, TotalUnits: big.NewInt(n), NewUnits: big.NewInt(n), PublishedAt: base}
		for i := range n {
			a := account(byte(i % 250))
			a[1] = byte(i / 250)
			p.Leaves = append(p.Leaves, storage.LedgerLeaf{Account: "acct", AccountBytes: a, Recipient: "r", RecipientBytes: a,
				Amount: big.NewInt(int64(i + 1)), TreeIndex: 2*n - 2 - i})
		}
		for i := range 2*n - 1 {
			p.Nodes = append(p.Nodes, account(byte(i%256)))
			p.Nodes[i][2] = byte(i / 256)
		}
		p.Root = p.Nodes[0]
		var wg sync.WaitGroup
		results := make([]bool, 2)
		errs := make([]error, 2)
		for g := range 2 {
			wg.Go(func() { results[g], errs[g] = db.PublishLedgerEpoch(ctx, p) })
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil || results[0] == results[1] {
			t.Fatalf("publish = %v %v, errors %v %v; want exactly one true", results[0], results[1], errs[0], errs[1])
		}
		e, err := db.LedgerEpoch(ctx, 1)
		if err != nil || e.Status != storage.LedgerEpochPublished || e.LeafCount != n || e.NodeCount != 2*n-1 || e.Root != p.Root || e.TotalUnits.Int64() != n {
			t.Fatalf("epoch = %+v, %v", e, err)
		}
		leaves, err := db.LedgerLeaves(ctx, 1)
		if err != nil || len(leaves) != n {
			t.Fatalf("leaves = %d, %v", len(leaves), err)
		}
		nodes, err := db.LedgerTreeNodes(ctx, 1)
		if err != nil || len(nodes) != 2*n-1 || nodes[400] != p.Nodes[400] {
			t.Fatalf("nodes = %d, %v", len(nodes), err)
		}
		some, err := db.LedgerNodes(ctx, 1, []int{598, 0, 129, 257})
		if err != nil || some[0] != p.Nodes[598] || some[1] != p.Nodes[0] || some[2] != p.Nodes[129] || some[3] != p.Nodes[257] {
			t.Fatalf("nodes = %x, %v", some, err)
		}
		l, err := db.LedgerLeaf(ctx, 1, p.Leaves[7].AccountBytes)
		if err != nil || l.Amount.Int64() != 8 || l.TreeIndex != p.Leaves[7].TreeIndex {
			t.Fatalf("leaf = %+v, %v", l, err)
		}
		_, err = db.LedgerLeaf(ctx, 1, account(255))
		wantCode(t, err, proofgrid.ENOTFOUND)

		// Simulated claims pay the cumulative delta once.
		c, err := db.RecordLedgerClaim(ctx, l, base)
		if err != nil || c.Paid.Int64() != 8 {
			t.Fatalf("claim = %+v, %v", c, err)
		}
		_, err = db.RecordLedgerClaim(ctx, l, base)
		wantCode(t, err, proofgrid.ECONFLICT)
		l.Amount = units("36893488147419103232000")
		c, err = db.RecordLedgerClaim(ctx, l, base)
		if err != nil || c.Paid.String() != "36893488147419103231992" {
			t.Fatalf("second claim = %+v, %v", c, err)
		}
		cs, err := db.LedgerClaims(ctx, 1, 0)
		if err != nil || len(cs) != 2 || cs[1].Paid.String() != "36893488147419103231992" {
			t.Fatalf("claims = %+v, %v", cs, err)
		}
	})
}
