package merkle_test

import (
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"golang.org/x/crypto/sha3"

	"github.com/proofgrid/proofgrid/merkle"
)

// benchLeaves is the size of an epoch the tree must handle: a million
// claimants.
const benchLeaves = 1_000_000

// reportCPU starts counting the process's CPU time; the returned function
// reports it per operation as cpu-ns/op. On a shared machine wall time
// depends on the neighbours, CPU time much less; and for a parallel build it
// is the total work, comparable with a one-goroutine baseline.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if start > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

var benchClaims = sync.OnceValue(func() []merkle.Claim {
	return randomClaims(rand.New(rand.NewPCG(9, 9)), benchLeaves)
})

// BenchmarkBuild1M builds the tree of a million claims: leaf hashing, sort
// and internal nodes.
func BenchmarkBuild1M(b *testing.B) {
	claims := benchClaims()
	done := reportCPU(b)
	for b.Loop() {
		if _, err := merkle.Build(claims); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

// BenchmarkKeccakRaw makes the Keccak-256 calls BenchmarkBuild1M needs, on
// one goroutine, over inputs of the same sizes: per leaf one of the
// 224-byte encoding and one of the 32-byte inner hash, per internal node one
// of 64 bytes. Build1M's time over this one is the build's overhead.
func BenchmarkKeccakRaw(b *testing.B) {
	var (
		h    = sha3.NewLegacyKeccak256()
		r    = h.(io.Reader) // squeezing directly is the cheapest way out
		enc  = make([]byte, 224)
		pair = make([]byte, 64)
		out  = make([]byte, 32)
	)
	done := reportCPU(b)
	for b.Loop() {
		for i := range benchLeaves {
			enc[100] = byte(i)
			h.Reset()
			h.Write(enc)
			r.Read(out)
			h.Reset()
			h.Write(out)
			r.Read(out)
		}
		for i := range benchLeaves - 1 {
			pair[0] = byte(i)
			h.Reset()
			h.Write(pair)
			r.Read(out)
		}
	}
	done()
}

// BenchmarkProofFromNodes reads one proof out of the nodes of a
// million-leaf tree.
func BenchmarkProofFromNodes(b *testing.B) {
	tree, err := merkle.Build(benchClaims())
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	b.ResetTimer()
	for b.Loop() {
		merkle.ProofFromNodes(tree.Nodes, tree.Index[r.IntN(benchLeaves)])
	}
}

// BenchmarkVerify checks one proof of a million-leaf tree.
func BenchmarkVerify(b *testing.B) {
	claims := benchClaims()[:1]
	leaf, err := claims[0].Leaf()
	if err != nil {
		b.Fatal(err)
	}
	proof := make([][32]byte, 20)
	root := merkle.ProcessProof(leaf, proof)
	for b.Loop() {
		if !merkle.Verify(root, leaf, proof) {
			b.Fatal("does not verify")
		}
	}
}

// BenchmarkDump1M writes the standard-v1 dump of a million claims.
func BenchmarkDump1M(b *testing.B) {
	claims := benchClaims()
	tree, err := merkle.Build(claims)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := tree.WriteDump(discard{}, claims); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
