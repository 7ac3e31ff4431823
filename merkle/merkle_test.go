package merkle_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/merkle"
)

// vectors is testdata/oz-vectors.json, written by testdata/gen-vectors.js
// with @openzeppelin/merkle-tree.
type vectors struct {
	Library      string   `json:"library"`
	LeafEncoding []string `json:"leaf_encoding"`
	Cases        []struct {
		Name        string     `json:"name"`
		Values      [][]string `json:"values"`
		Root        string     `json:"root"`
		TreeIndices []int      `json:"tree_indices"`
		LeafHashes  []string   `json:"leaf_hashes"`
		Proofs      [][]string `json:"proofs"`
		DumpJSON    string     `json:"dump_json"`
	} `json:"cases"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/oz-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) == 0 {
		t.Fatal("no vectors")
	}
	return v
}

func hexes(hs [][32]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = merkle.Hex(h)
	}
	return out
}

func mustHash(t *testing.T, s string) [32]byte {
	t.Helper()
	h, err := merkle.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestLeafEncodingMatchesVectors(t *testing.T) {
	v := loadVectors(t)
	if !slices.Equal(v.LeafEncoding, merkle.LeafEncoding()) {
		t.Fatalf("vectors encode %q, package %q", v.LeafEncoding, merkle.LeafEncoding())
	}
}

func TestBuildMatchesOpenZeppelin(t *testing.T) {
	for _, c := range loadVectors(t).Cases {
		t.Run(c.Name, func(t *testing.T) {
			claims := make([]merkle.Claim, len(c.Values))
			for i, v := range c.Values {
				cl, err := merkle.ParseClaim(v)
				if err != nil {
					t.Fatal(err)
				}
				if got := cl.Values(); !slices.Equal(got, v) {
					t.Fatalf("value %d prints as %q, want %q", i, got, v)
				}
				claims[i] = cl
			}
			tree, err := merkle.Build(claims)
			if err != nil {
				t.Fatal(err)
			}
			root := tree.Root()
			if got := merkle.Hex(root); got != c.Root {
				t.Fatalf("root %s, want %s", got, c.Root)
			}
			if !slices.Equal(tree.Index, c.TreeIndices) {
				t.Fatalf("tree indices %v, want %v", tree.Index, c.TreeIndices)
			}
			for i := range claims {
				leaf, err := claims[i].Leaf()
				if err != nil {
					t.Fatal(err)
				}
				if got := merkle.Hex(leaf); got != c.LeafHashes[i] || tree.Leaf(i) != leaf {
					t.Fatalf("leaf %d: %s (in tree %s), want %s", i, got, merkle.Hex(tree.Leaf(i)), c.LeafHashes[i])
				}
				proof := tree.Proof(i)
				if got := hexes(proof); !slices.Equal(got, c.Proofs[i]) {
					t.Fatalf("proof %d: %q, want %q", i, got, c.Proofs[i])
				}
				if got := merkle.ProofFromNodes(tree.Nodes, tree.Index[i]); !slices.Equal(got, proof) {
					t.Fatalf("ProofFromNodes %d differs from Proof", i)
				}
				if !merkle.Verify(root, leaf, proof) {
					t.Fatalf("proof %d does not verify", i)
				}
			}
			dump, err := tree.Dump(claims)
			if err != nil {
				t.Fatal(err)
			}
			if string(dump) != c.DumpJSON {
				t.Fatalf("dump differs from OpenZeppelin's:\n got %s\nwant %s", dump, c.DumpJSON)
			}
		})
	}
}

func TestLoadOpenZeppelinDump(t *testing.T) {
	for _, c := range loadVectors(t).Cases {
		t.Run(c.Name, func(t *testing.T) {
			tree, claims, err := merkle.Load(strings.NewReader(c.DumpJSON))
			if err != nil {
				t.Fatal(err)
			}
			if got := merkle.Hex(tree.Root()); got != c.Root {
				t.Fatalf("root %s, want %s", got, c.Root)
			}
			if !slices.Equal(tree.Index, c.TreeIndices) {
				t.Fatalf("tree indices %v, want %v", tree.Index, c.TreeIndices)
			}
			for i := range claims {
				if got := claims[i].Values(); !slices.Equal(got, c.Values[i]) {
					t.Fatalf("claim %d %q, want %q", i, got, c.Values[i])
				}
			}
			rebuilt, err := merkle.Build(claims)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rebuilt.Nodes, tree.Nodes) {
				t.Fatal("rebuilding the loaded claims gives other nodes")
			}
		})
	}
}

func TestVerifyRejectsForgeries(t *testing.T) {
	v := loadVectors(t)
	c := v.Cases[0]
	root := mustHash(t, c.Root)
	claims := make([]merkle.Claim, len(c.Values))
	for i, val := range c.Values {
		var err error
		if claims[i], err = merkle.ParseClaim(val); err != nil {
			t.Fatal(err)
		}
	}
	proofOf := func(i int) [][32]byte {
		p := make([][32]byte, len(c.Proofs[i]))
		for k, s := range c.Proofs[i] {
			p[k] = mustHash(t, s)
		}
		return p
	}
	leafOf := func(cl merkle.Claim) [32]byte {
		l, err := cl.Leaf()
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if !merkle.Verify(root, leafOf(claims[2]), proofOf(2)) {
		t.Fatal("the honest proof does not verify")
	}

	more := claims[2]
	more.Amount = new(big.Int).Add(claims[2].Amount, big.NewInt(1))
	if merkle.Verify(root, leafOf(more), proofOf(2)) {
		t.Fatal("a larger amount verifies")
	}
	other := claims[2]
	other.Recipient[31] ^= 1
	if merkle.Verify(root, leafOf(other), proofOf(2)) {
		t.Fatal("another recipient verifies")
	}
	later := claims[2]
	later.Epoch++
	if merkle.Verify(root, leafOf(later), proofOf(2)) {
		t.Fatal("another epoch verifies")
	}
	forged := proofOf(2)
	forged[1][0] ^= 0x80
	if merkle.Verify(root, leafOf(claims[2]), forged) {
		t.Fatal("a forged proof verifies")
	}
	if merkle.Verify(root, leafOf(claims[2]), proofOf(2)[1:]) {
		t.Fatal("a shortened proof verifies")
	}
	if merkle.Verify(root, leafOf(claims[2]), proofOf(3)) {
		t.Fatal("another leaf's proof verifies")
	}
	// An internal node is not a leaf: OpenZeppelin's double-hashed leaves
	// keep a node with a shortened proof from passing as a claim.
	nodes := proofOf(2)
	if merkle.Verify(root, nodes[0], nodes[1:]) {
		t.Fatal("an internal node verifies as a leaf with a shortened proof")
	}
}

func TestEncodeLayout(t *testing.T) {
	c := merkle.Claim{
		Epoch:     0x0102030405060708,
		Account:   merkle.AccountFromAddress([20]byte{19: 0xaa}),
		Recipient: [32]byte{0: 0xbb, 31: 0xcc},
		Amount:    new(big.Int).Lsh(big.NewInt(1), 64),
	}
	b, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	word := func(i int) string { return merkle.Hex([32]byte(b[32*i : 32*(i+1)])) }
	want := []string{
		"0x00000000000000000000000000000000000000000000000000000000000000a0", // offset of the string
		"0x0000000000000000000000000000000000000000000000000102030405060708",
		"0x00000000000000000000000000000000000000000000000000000000000000aa",
		"0xbb000000000000000000000000000000000000000000000000000000000000cc",
		"0x0000000000000000000000000000000000000000000000010000000000000000",
		"0x0000000000000000000000000000000000000000000000000000000000000012", // len("proofgrid.claim.v1")
		"0x70726f6f66677269642e636c61696d2e76310000000000000000000000000000",
	}
	if len(b) != 32*len(want) {
		t.Fatalf("encoding is %d bytes, want %d", len(b), 32*len(want))
	}
	for i := range want {
		if got := word(i); got != want[i] {
			t.Fatalf("word %d %s, want %s", i, got, want[i])
		}
	}
}

func TestAccounts(t *testing.T) {
	addr := [20]byte{0: 0x5b, 19: 0xc4}
	a := merkle.AccountFromAddress(addr)
	if got := merkle.Hex(a); got != "0x0000000000000000000000005b000000000000000000000000000000000000c4" {
		t.Fatalf("address account %s", got)
	}
	if b, err := merkle.AccountFromBytes(addr[:]); err != nil || b != a {
		t.Fatalf("AccountFromBytes(20 bytes) = %x, %v", b, err)
	}
	key := [32]byte{0: 1, 31: 2}
	if b, err := merkle.AccountFromBytes(key[:]); err != nil || b != key {
		t.Fatalf("AccountFromBytes(32 bytes) = %x, %v", b, err)
	}
	if p, err := merkle.ParseAccount("0x5b000000000000000000000000000000000000c4"); err != nil || p != a {
		t.Fatalf("ParseAccount(address) = %x, %v", p, err)
	}
	if p, err := merkle.ParseAccount(merkle.Hex(key)); err != nil || p != key {
		t.Fatalf("ParseAccount(key) = %x, %v", p, err)
	}
	for _, bad := range []string{"", "0x", "5b000000000000000000000000000000000000c4", "0x5b00", "0xzz000000000000000000000000000000000000c4"} {
		if _, err := merkle.ParseAccount(bad); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Fatalf("ParseAccount(%q) = %v, want an invalid error", bad, err)
		}
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	if _, err := merkle.Build(nil); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
		t.Fatalf("empty: %v", err)
	}
	tooBig := new(big.Int).Lsh(big.NewInt(1), 256)
	for name, amount := range map[string]*big.Int{"nil": nil, "negative": big.NewInt(-1), "2^256": tooBig} {
		_, err := merkle.Build([]merkle.Claim{{Amount: big.NewInt(1)}, {Amount: amount}})
		if proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Fatalf("%s amount: %v", name, err)
		}
	}
	maxAmount := new(big.Int).Sub(tooBig, big.NewInt(1))
	if _, err := merkle.Build([]merkle.Claim{{Amount: maxAmount}}); err != nil {
		t.Fatalf("2^256-1: %v", err)
	}
}

func TestParseClaimRejects(t *testing.T) {
	good := []string{merkle.Domain, "7", merkle.Hex([32]byte{1}), merkle.Hex([32]byte{2}), "5"}
	if _, err := merkle.ParseClaim(good); err != nil {
		t.Fatal(err)
	}
	with := func(i int, s string) []string { v := slices.Clone(good); v[i] = s; return v }
	for name, v := range map[string][]string{
		"short":          good[:4],
		"other domain":   with(0, "proofgrid.claim.v2"),
		"hex epoch":      with(1, "0x7"),
		"epoch overflow": with(1, "18446744073709551616"),
		"signed amount":  with(4, "-5"),
		"plus amount":    with(4, "+5"),
		"amount 2^256":   with(4, new(big.Int).Lsh(big.NewInt(1), 256).String()),
		"20-byte key":    with(2, "0x5b000000000000000000000000000000000000c4"),
	} {
		if _, err := merkle.ParseClaim(v); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func TestProofFromStoredNodes(t *testing.T) {
	claims := randomClaims(rand.New(rand.NewPCG(1, 2)), 300)
	tree, err := merkle.Build(claims)
	if err != nil {
		t.Fatal(err)
	}
	blob := merkle.MarshalNodes(tree.Nodes)
	nodes, err := merkle.UnmarshalNodes(blob)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(nodes, tree.Nodes) {
		t.Fatal("nodes changed through the blob")
	}
	for i := range claims {
		idx := tree.Index[i]
		proof := merkle.ProofFromNodes(nodes, idx)
		// 300 leaves: depth 8 or 9.
		if len(proof) < 8 || len(proof) > 9 {
			t.Fatalf("proof %d has %d nodes", i, len(proof))
		}
		for k, j := range merkle.ProofIndices(len(nodes), idx) {
			if !bytes.Equal(blob[32*j:32*j+32], proof[k][:]) {
				t.Fatalf("proof %d node %d is not blob node %d", i, k, j)
			}
		}
		leaf, _ := claims[i].Leaf()
		if !merkle.Verify(tree.Root(), leaf, proof) {
			t.Fatalf("proof %d from stored nodes does not verify", i)
		}
	}
	if merkle.IsLeaf(len(nodes), 0) || !merkle.IsLeaf(len(nodes), 299) || merkle.IsLeaf(len(nodes), 298) || merkle.IsLeaf(len(nodes), len(nodes)) {
		t.Fatal("IsLeaf is wrong at the boundaries")
	}
	for _, n := range []int{0, 31, 64} {
		if _, err := merkle.UnmarshalNodes(make([]byte, n)); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Fatalf("UnmarshalNodes(%d bytes): %v", n, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("ProofFromNodes of an internal node does not panic")
		}
	}()
	merkle.ProofFromNodes(nodes, 0)
}

func TestLoadRejectsTampering(t *testing.T) {
	base := loadVectors(t).Cases[0].DumpJSON
	if _, _, err := merkle.Load(strings.NewReader(base)); err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(base), &d); err != nil {
		t.Fatal(err)
	}
	tamper := func(f func(d map[string]any)) string {
		var c map[string]any
		_ = json.Unmarshal([]byte(base), &c)
		f(c)
		b, _ := json.Marshal(c)
		return string(b)
	}
	tree := func(d map[string]any) []any { return d["tree"].([]any) }
	value := func(d map[string]any, i int) map[string]any { return d["values"].([]any)[i].(map[string]any) }
	for name, doc := range map[string]string{
		"not json":      "{",
		"format":        tamper(func(d map[string]any) { d["format"] = "simple-v1" }),
		"encoding":      tamper(func(d map[string]any) { d["leafEncoding"].([]any)[4] = "uint128" }),
		"root":          tamper(func(d map[string]any) { tree(d)[0] = merkle.Hex([32]byte{1}) }),
		"internal node": tamper(func(d map[string]any) { tree(d)[2] = merkle.Hex([32]byte{1}) }),
		"amount":        tamper(func(d map[string]any) { value(d, 0)["value"].([]any)[4] = "1000001" }),
		"tree index":    tamper(func(d map[string]any) { value(d, 0)["treeIndex"] = 0 }),
		"shared leaf":   tamper(func(d map[string]any) { value(d, 0)["treeIndex"] = value(d, 1)["treeIndex"] }),
		"swapped leaves": tamper(func(d map[string]any) {
			a, b := value(d, 0), value(d, 1)
			a["treeIndex"], b["treeIndex"] = b["treeIndex"], a["treeIndex"]
		}),
		"missing node": tamper(func(d map[string]any) { d["tree"] = tree(d)[1:] }),
		"no values":    tamper(func(d map[string]any) { d["values"] = []any{}; d["tree"] = []any{} }),
	} {
		if _, _, err := merkle.Load(strings.NewReader(doc)); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Fatalf("%s: Load = %v, want an invalid error", name, err)
		}
	}
}

// dumpOut names a file to write the random tree's dump to, for
// testdata/verify-dump.js to load with OpenZeppelin's library:
//
//	go test ./merkle/ -run TestRandomDumpRoundTrip -dump /tmp/go-dump.json
var dumpOut = flag.String("dump", "", "write the random 1000-leaf dump to this file")

func TestRandomDumpRoundTrip(t *testing.T) {
	claims := randomClaims(rand.New(rand.NewPCG(7, 1000)), 1000)
	tree, err := merkle.Build(claims)
	if err != nil {
		t.Fatal(err)
	}
	dump, err := tree.Dump(claims)
	if err != nil {
		t.Fatal(err)
	}
	if *dumpOut != "" {
		if err := os.WriteFile(*dumpOut, dump, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("root %s", merkle.Hex(tree.Root()))
	}
	// encoding/json must read it as the same document (no hand-written
	// JSON mistakes) and Load must give back the tree and the claims.
	var generic map[string]any
	if err := json.Unmarshal(dump, &generic); err != nil {
		t.Fatalf("dump is not JSON: %v", err)
	}
	loaded, back, err := merkle.Load(bytes.NewReader(dump))
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Root() != tree.Root() || !slices.Equal(loaded.Nodes, tree.Nodes) || !slices.Equal(loaded.Index, tree.Index) {
		t.Fatal("loaded tree differs")
	}
	for i := range claims {
		if !slices.Equal(back[i].Values(), claims[i].Values()) {
			t.Fatalf("claim %d: %q, want %q", i, back[i].Values(), claims[i].Values())
		}
	}
}

func TestBuildLeavesMatchesBuild(t *testing.T) {
	claims := randomClaims(rand.New(rand.NewPCG(3, 4)), 50)
	// Two equal claims: their leaves tie and, as in JavaScript's stable
	// sort, keep value order.
	claims = append(claims, claims[10])
	leaves := make([][32]byte, len(claims))
	for i := range claims {
		leaves[i], _ = claims[i].Leaf()
	}
	a, err := merkle.Build(claims)
	if err != nil {
		t.Fatal(err)
	}
	b, err := merkle.BuildLeaves(leaves)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Nodes, b.Nodes) || !slices.Equal(a.Index, b.Index) {
		t.Fatal("BuildLeaves differs from Build")
	}
	if a.Index[10] != a.Index[50]+1 {
		t.Fatalf("equal leaves at %d and %d, want value 10 right after value 50 in the array", a.Index[10], a.Index[50])
	}
	if merkle.NodeHash(a.Nodes[1], a.Nodes[2]) != a.Root() || merkle.NodeHash(a.Nodes[2], a.Nodes[1]) != a.Root() {
		t.Fatal("NodeHash is not the sorted-pair hash of the root's children")
	}
}

func randomClaims(r *rand.Rand, n int) []merkle.Claim {
	claims := make([]merkle.Claim, n)
	for i := range claims {
		c := &claims[i]
		c.Epoch = 12
		for k := range c.Account {
			c.Account[k] = byte(r.Uint32())
		}
		if i%5 == 0 {
			// Every fifth account is an address.
			var addr [20]byte
			copy(addr[:], c.Account[:20])
			c.Account = merkle.AccountFromAddress(addr)
		}
		c.Recipient = c.Account
		if i%3 == 0 {
			c.Recipient[0] ^= 0xff
		}
		c.Amount = new(big.Int).SetUint64(r.Uint64())
		if i%7 == 0 {
			c.Amount.Lsh(c.Amount, uint(r.IntN(192)))
		}
	}
	return claims
}

// referenceTree is OpenZeppelin's MerkleTree.prepare and makeMerkleTree
// written out plainly, to check the fast build against at sizes the
// JavaScript vectors do not reach.
func referenceTree(leaves [][32]byte) (nodes [][32]byte, index []int) {
	order := make([]int, len(leaves))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return bytes.Compare(leaves[a][:], leaves[b][:]) })
	nodes = make([][32]byte, 2*len(leaves)-1)
	index = make([]int, len(leaves))
	for k, i := range order {
		nodes[len(nodes)-1-k] = leaves[i]
		index[i] = len(nodes) - 1 - k
	}
	for i := len(nodes) - 1 - len(leaves); i >= 0; i-- {
		nodes[i] = merkle.NodeHash(nodes[2*i+1], nodes[2*i+2])
	}
	return nodes, index
}

func TestBuildMatchesReferenceAtSize(t *testing.T) {
	// Past the sizes where the sort buckets leaves and where levels are
	// hashed in parallel.
	claims := randomClaims(rand.New(rand.NewPCG(5, 6)), 40_000)
	// Equal claims tie, and leaves sharing their first bytes meet in one
	// bucket and are ordered by the rest.
	claims = append(claims, claims[7], claims[39_999], claims[7])
	leaves := make([][32]byte, len(claims))
	for i := range claims {
		leaves[i], _ = claims[i].Leaf()
	}
	leaves = append(leaves, leaves[0], leaves[0])
	leaves[len(leaves)-1][31] ^= 1
	leaves[len(leaves)-2][8] ^= 1
	wantNodes, wantIndex := referenceTree(leaves)

	got, err := merkle.BuildLeaves(leaves)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Nodes, wantNodes) || !slices.Equal(got.Index, wantIndex) {
		t.Fatal("BuildLeaves differs from the reference")
	}
	built, err := merkle.Build(claims)
	if err != nil {
		t.Fatal(err)
	}
	refNodes, refIndex := referenceTree(leaves[:len(claims)])
	if !slices.Equal(built.Nodes, refNodes) || !slices.Equal(built.Index, refIndex) {
		t.Fatal("Build differs from the reference")
	}
}
