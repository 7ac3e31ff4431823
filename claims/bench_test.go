package claims_test

import (
	"context"
	"encoding/binary"
	"math/big"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/sha3"

	"github.com/proofgrid/proofgrid/claims"
	"github.com/proofgrid/proofgrid/merkle"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

// claimants is the epoch size of BenchmarkEpoch (PROOFGRID_BENCH_CLAIMANTS,
// default 1,000,000).
func claimants() int {
	if n, err := strconv.Atoi(os.Getenv("PROOFGRID_BENCH_CLAIMANTS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// BenchmarkEpoch measures an epoch of a million claimants, each step once,
// beside raw keccak256 throughput measured in the same run:
//
//	bash scripts/testenv.sh go test -run '^$' -bench BenchmarkEpoch -benchtime 1x ./claims/
//
// keccak: hashes of 64 bytes per second; build: leaf hashing, sort and
// tree; proofs: every proof read from the node array (as from stored
// layers); task: the whole merkle:epoch (read the ledger, sum, build,
// store) after a bulk load of one entry per claimant, per dialect; read:
// p99 of claim package reads from the database.
func BenchmarkEpoch(b *testing.B) {
	n := claimants()
	b.Run("keccak", func(b *testing.B) {
		h := sha3.NewLegacyKeccak256()
		var buf [64]byte
		var out [32]byte
		start := time.Now()
		const count = 1 << 21
		for range count {
			h.Reset()
			h.Write(buf[:])
			h.Sum(out[:0])
			buf[0] = out[0]
		}
		b.ReportMetric(count/time.Since(start).Seconds()/1e6, "Mhash/s")
	})
	cs := make([]merkle.Claim, n)
	for i := range cs {
		cs[i] = merkle.Claim{Epoch: 1, Account: acct(i), Recipient: acct(i), Amount: big.NewInt(int64(i + 1))}
	}
	var tree *merkle.Tree
	b.Run("build", func(b *testing.B) {
		start := time.Now()
		var err error
		if tree, err = merkle.Build(cs); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s")
	})
	b.Run("proofs", func(b *testing.B) {
		start := time.Now()
		for i := range n {
			_ = merkle.ProofFromNodes(tree.Nodes, tree.Index[i])
		}
		b.ReportMetric(time.Since(start).Seconds(), "s")
	})
	for _, dialect := range storagetest.Dialects {
		b.Run("task/"+dialect, func(b *testing.B) {
			if dialect == storage.DialectPostgres && os.Getenv(storagetest.EnvPostgresURL) == "" {
				b.Skip("no PostgreSQL")
			}
			benchTask(b, storagetest.Open(b, dialect), n)
		})
	}
}

func acct(i int) [32]byte {
	var a [32]byte
	copy(a[:], "bench-account")
	binary.BigEndian.PutUint64(a[24:], uint64(i))
	return a
}

func benchTask(b *testing.B, db *storage.DB, n int) {
	ctx := context.Background()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	entries := make([]storage.LedgerEntry, n)
	for i := range entries {
		a := acct(i)
		entries[i] = storage.LedgerEntry{Key: "pool:bench:" + strconv.Itoa(i), Source: storage.LedgerSourcePool,
			Account: merkle.Hex(a), AccountBytes: a, Amount: big.NewInt(int64(i + 1)), CreatedAt: at}
	}
	start := time.Now()
	if err := db.BulkInsertLedgerEntries(ctx, entries); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "load-s")
	epochs := claims.NewEpochs(db, claims.EpochConfig{Logger: quiet})
	start = time.Now()
	ep, ok, err := epochs.Close(ctx, at.Add(time.Hour))
	if err != nil || !ok || ep.LeafCount != int64(n) {
		b.Fatalf("close = %+v, %v, %v", ep, ok, err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "task-s")

	c := claims.New(db, nil)
	const reads = 2000
	lat := make([]time.Duration, reads)
	for i := range reads {
		a := acct(i * (n / reads))
		t0 := time.Now()
		p, err := c.Package(ctx, 0, merkle.Hex(a))
		lat[i] = time.Since(t0)
		if err != nil || len(p.Proof) == 0 && n > 1 {
			b.Fatalf("package = %+v, %v", p, err)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[reads*99/100].Microseconds())/1000, "read-p99-ms")
	b.ReportMetric(float64(lat[reads/2].Microseconds())/1000, "read-p50-ms")
}
