package merkle

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"hash"
	"io"
	"math/bits"
	"runtime"
	"slices"
	"sync"

	"golang.org/x/crypto/sha3"

	"github.com/proofgrid/proofgrid"
)

// Tree is a built tree in OpenZeppelin's array layout.
type Tree struct {
	// Nodes holds the 2n−1 nodes of a tree of n leaves: Nodes[0] is the
	// root, the children of node i are 2i+1 and 2i+2, and the leaves fill
	// Nodes[n−1:] in descending hash order. It is the dump's "tree".
	Nodes [][32]byte
	// Index[i] is the position in Nodes of the leaf of the i-th value given
	// to Build (the dump's "treeIndex").
	Index []int
}

// Root returns the root of t.
func (t *Tree) Root() [32]byte { return t.Nodes[0] }

// Len returns the number of leaves of t.
func (t *Tree) Len() int { return len(t.Index) }

// Leaf returns the leaf hash of the i-th value.
func (t *Tree) Leaf(i int) [32]byte { return t.Nodes[t.Index[i]] }

// Proof returns the proof of the i-th value, as StandardMerkleTree's
// getProof(i) does.
func (t *Tree) Proof(i int) [][32]byte { return ProofFromNodes(t.Nodes, t.Index[i]) }

// BuildLeaves builds the tree of ready leaf hashes the way OpenZeppelin's
// MerkleTree.prepare does with sortLeaves: leaves sorted by hash (ties keep
// their order), placed in reverse at the end of the array. Index[i] is where
// leaves[i] ended up.
func BuildLeaves(leaves [][32]byte) (*Tree, error) {
	if len(leaves) == 0 {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "a merkle tree needs at least one leaf")
	}
	if uint64(len(leaves)) > maxLeaves {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "a merkle tree holds at most %d leaves", uint64(maxLeaves))
	}
	entries := make([]entry, len(leaves))
	for i, l := range leaves {
		entries[i] = entry{hash: l, index: uint32(i)}
	}
	return buildSorted(entries), nil
}

// maxLeaves bounds a tree so that entry.index fits.
const maxLeaves = 1<<32 - 1

// entry is a leaf hash with the index of the value it came from; sorting
// these rather than indices keeps the comparisons in cache.
type entry struct {
	hash  [32]byte
	index uint32
}

// buildSorted sorts entries by hash and builds the tree over them.
func buildSorted(entries []entry) *Tree {
	n := len(entries)
	entries = sortEntries(entries)
	t := &Tree{Nodes: make([][32]byte, 2*n-1), Index: make([]int, n)}
	last := len(t.Nodes) - 1
	for k := range entries {
		t.Nodes[last-k] = entries[k].hash
		t.Index[entries[k].index] = last - k
	}
	hashInternal(t.Nodes, n-1)
	return t
}

// compareEntries orders entries by hash, then, as JavaScript's stable sort
// leaves equal leaves, by value index.
func compareEntries(a, b entry) int {
	// The first eight bytes nearly always decide between two hashes.
	if x, y := binary.BigEndian.Uint64(a.hash[:8]), binary.BigEndian.Uint64(b.hash[:8]); x != y {
		return cmp.Compare(x, y)
	}
	if c := bytes.Compare(a.hash[8:], b.hash[8:]); c != 0 {
		return c
	}
	return cmp.Compare(a.index, b.index)
}

// radixMin is the number of entries from which sortEntries buckets them
// first.
const radixMin = 1 << 12

// sortEntries returns entries sorted with compareEntries, in place or in a
// new slice. Leaf hashes are uniform, so
// a counting sort on their top 16 bits leaves a handful per bucket, and
// sorting those is cheap: at a million leaves this is several times faster
// than a comparison sort of the whole slice. Hashes that crowd one bucket
// only make that bucket's sort slower, never wrong.
func sortEntries(entries []entry) []entry {
	if len(entries) < radixMin {
		slices.SortFunc(entries, compareEntries)
		return entries
	}
	var start [1<<16 + 1]int
	for i := range entries {
		start[int(binary.BigEndian.Uint16(entries[i].hash[:2]))+1]++
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	sorted := make([]entry, len(entries))
	next := start
	for i := range entries {
		b := binary.BigEndian.Uint16(entries[i].hash[:2])
		sorted[next[b]] = entries[i]
		next[b]++
	}
	for b := range 1 << 16 {
		slices.SortFunc(sorted[start[b]:start[b+1]], compareEntries)
	}
	return sorted
}

// parallelMin is the number of hashes below which a level is hashed on one
// goroutine: under it, starting goroutines costs more than it saves.
const parallelMin = 1 << 13

// hashInternal fills the internal nodes nodes[0:internal] from their
// children, one depth at a time so that each level's nodes are independent
// and can be split between goroutines.
func hashInternal(nodes [][32]byte, internal int) {
	if internal == 0 {
		return
	}
	// Depth d holds indices [2^d − 1, 2^(d+1) − 1); start at the deepest
	// depth that has an internal node.
	start := 0
	for 2*start+1 < internal {
		start = 2*start + 1
	}
	for ; ; start = (start - 1) / 2 {
		end := min(2*start+1, internal)
		parallel(end-start, func(lo, hi int) {
			k := newKeccak()
			for i := start + lo; i < start+hi; i++ {
				k.node(&nodes[i], &nodes[2*i+1], &nodes[2*i+2])
			}
		})
		if start == 0 {
			return
		}
	}
}

// parallel calls f over [0, n) split into one contiguous part per
// GOMAXPROCS, or once when n is small.
func parallel(n int, f func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/parallelMin)
	if workers <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Go(func() { f(lo, hi) })
	}
	wg.Wait()
}

// NodeHash returns the parent of a and b: keccak256 of the two sorted
// ascending and concatenated (OpenZeppelin's standardNodeHash).
func NodeHash(a, b [32]byte) [32]byte {
	var out [32]byte
	newKeccak().node(&out, &a, &b)
	return out
}

// IsLeaf reports whether treeIndex is a leaf of a tree of nodeCount nodes.
func IsLeaf(nodeCount, treeIndex int) bool {
	return treeIndex >= 0 && treeIndex < nodeCount && 2*treeIndex+1 >= nodeCount
}

// ProofIndices returns the positions of the proof nodes of the leaf at
// treeIndex in a tree of nodeCount nodes, leaf side first: a caller holding
// the nodes as one blob (MarshalNodes) reads 32 bytes at 32·i for each. It
// panics if treeIndex is not a leaf.
func ProofIndices(nodeCount, treeIndex int) []int {
	if !IsLeaf(nodeCount, treeIndex) {
		panic("merkle: tree index is not a leaf")
	}
	out := make([]int, 0, depth(treeIndex))
	for i := treeIndex; i > 0; i = (i - 1) / 2 {
		out = append(out, sibling(i))
	}
	return out
}

// depth returns the number of edges from node i up to the root.
func depth(i int) int {
	return bits.Len(uint(i)+1) - 1
}

// sibling returns the other child of node i's parent: left children are odd
// and their siblings follow them.
func sibling(i int) int {
	if i%2 == 1 {
		return i + 1
	}
	return i - 1
}

// ProofFromNodes returns the proof of the leaf at treeIndex (OpenZeppelin's
// getProof): its sibling, then its parent's sibling, up to the root's
// children. A one-leaf tree has an empty proof. It panics if treeIndex is not
// a leaf of nodes.
func ProofFromNodes(nodes [][32]byte, treeIndex int) [][32]byte {
	if !IsLeaf(len(nodes), treeIndex) {
		panic("merkle: tree index is not a leaf")
	}
	proof := make([][32]byte, 0, depth(treeIndex))
	for i := treeIndex; i > 0; i = (i - 1) / 2 {
		proof = append(proof, nodes[sibling(i)])
	}
	return proof
}

// ProcessProof returns the root that leaf and proof lead to (OpenZeppelin's
// processProof and MerkleProof.processProof).
func ProcessProof(leaf [32]byte, proof [][32]byte) [32]byte {
	k := newKeccak()
	h := leaf
	for i := range proof {
		k.node(&h, &h, &proof[i])
	}
	return h
}

// Verify reports whether proof leads from leaf to root.
func Verify(root, leaf [32]byte, proof [][32]byte) bool {
	return ProcessProof(leaf, proof) == root
}

// MarshalNodes returns the nodes as one blob of 32 bytes each, in order.
func MarshalNodes(nodes [][32]byte) []byte {
	out := make([]byte, 0, 32*len(nodes))
	for i := range nodes {
		out = append(out, nodes[i][:]...)
	}
	return out
}

// UnmarshalNodes splits a blob written by MarshalNodes back into nodes.
func UnmarshalNodes(blob []byte) ([][32]byte, error) {
	if len(blob) == 0 || len(blob)%32 != 0 || (len(blob)/32)%2 == 0 {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "a node blob holds an odd number of 32-byte nodes, got %d bytes", len(blob))
	}
	nodes := make([][32]byte, len(blob)/32)
	for i := range nodes {
		copy(nodes[i][:], blob[32*i:])
	}
	return nodes, nil
}

// keccak computes Keccak-256 (Ethereum's padding, not FIPS-202 SHA3-256)
// without allocating. It is not safe for concurrent use: each goroutine owns
// one.
type keccak struct {
	h hash.Hash
	// r squeezes the digest straight out of the sponge: Sum would copy the
	// whole state and allocate on every call.
	r   io.Reader
	buf [64]byte
}

func newKeccak() *keccak {
	h := sha3.NewLegacyKeccak256()
	r, _ := h.(io.Reader)
	return &keccak{h: h, r: r}
}

// sum sets dst to keccak256(p). dst may alias p.
func (k *keccak) sum(dst *[32]byte, p []byte) {
	k.h.Reset()
	_, _ = k.h.Write(p)
	if k.r != nil {
		// The sponge's Read never fails.
		_, _ = k.r.Read(dst[:])
		return
	}
	k.h.Sum(dst[:0])
}

// node sets dst to the parent of a and b. dst may alias either.
func (k *keccak) node(dst, a, b *[32]byte) {
	if bytes.Compare(a[:], b[:]) > 0 {
		a, b = b, a
	}
	copy(k.buf[:32], a[:])
	copy(k.buf[32:], b[:])
	k.sum(dst, k.buf[:])
}
