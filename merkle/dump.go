package merkle

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"sync"

	"github.com/proofgrid/proofgrid"
)

// DumpFormat is the format tag of OpenZeppelin's StandardMerkleTree.dump().
const DumpFormat = "standard-v1"

// dump is StandardMerkleTree.dump() as JSON. Its keys are OpenZeppelin's
// camelCase, not this project's snake_case, because StandardMerkleTree.load
// reads them.
type dump struct {
	Format       string   `json:"format"`
	LeafEncoding []string `json:"leafEncoding"`
	Tree         []string `json:"tree"`
	Values       []struct {
		Value     []string `json:"value"`
		TreeIndex int      `json:"treeIndex"`
	} `json:"values"`
}

// WriteDump writes t as JSON.stringify(StandardMerkleTree.of(values,
// LeafEncoding()).dump()) writes it, byte for byte, for values[i] =
// claims[i].Values(). claims must be those t was built from, in the same
// order.
func (t *Tree) WriteDump(w io.Writer, claims []Claim) error {
	if len(claims) != len(t.Index) {
		return proofgrid.Errorf(proofgrid.EINVALID, "dump of a tree of %d leaves given %d claims", len(t.Index), len(claims))
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	// Every string written is a domain tag, a decimal or 0x-hex, none of
	// which JSON escapes, so the document is put together by hand: this is
	// several times faster than encoding/json on a million leaves.
	bw.WriteString(`{"format":"` + DumpFormat + `","leafEncoding":["string","uint64","bytes32","bytes32","uint256"],"tree":[`)
	var buf []byte
	for i := range t.Nodes {
		buf = buf[:0]
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendHex(buf, &t.Nodes[i])
		bw.Write(buf)
	}
	bw.WriteString(`],"values":[`)
	for i := range claims {
		c := &claims[i]
		buf = buf[:0]
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"value":["`+Domain+`","`...)
		buf = strconv.AppendUint(buf, c.Epoch, 10)
		buf = append(buf, `",`...)
		buf = appendHex(buf, &c.Account)
		buf = append(buf, ',')
		buf = appendHex(buf, &c.Recipient)
		buf = append(buf, `,"`...)
		buf = c.Amount.Append(buf, 10)
		buf = append(buf, `"],"treeIndex":`...)
		buf = strconv.AppendInt(buf, int64(t.Index[i]), 10)
		buf = append(buf, '}')
		bw.Write(buf)
	}
	bw.WriteString("]}")
	return bw.Flush()
}

// Dump returns the dump that WriteDump writes.
func (t *Tree) Dump(claims []Claim) ([]byte, error) {
	var b bytes.Buffer
	if err := t.WriteDump(&b, claims); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// appendHex appends h as a quoted JSON string of 0x and lowercase hex.
func appendHex(buf []byte, h *[32]byte) []byte {
	const digits = "0123456789abcdef"
	buf = append(buf, '"', '0', 'x')
	for _, b := range h {
		buf = append(buf, digits[b>>4], digits[b&15])
	}
	return append(buf, '"')
}

// Load reads a standard-v1 dump of a claim tree, such as WriteDump or
// StandardMerkleTree.dump() writes, and checks it as StandardMerkleTree.load
// does and more: the leaf encoding is LeafEncoding(), every value is a claim
// whose leaf is at its treeIndex, each leaf belongs to exactly one value, and
// every internal node is the hash of its children. It returns the tree and
// the claims in the dump's value order.
func Load(r io.Reader) (*Tree, []Claim, error) {
	var d dump
	if err := json.NewDecoder(r).Decode(&d); err != nil {
		return nil, nil, proofgrid.Errorf(proofgrid.EINVALID, "merkle dump is not valid JSON: %v", err)
	}
	if d.Format != DumpFormat {
		return nil, nil, proofgrid.Errorf(proofgrid.EINVALID, "merkle dump format is %q, want %q", d.Format, DumpFormat)
	}
	if !slices.Equal(d.LeafEncoding, LeafEncoding()) {
		return nil, nil, proofgrid.Errorf(proofgrid.EINVALID, "merkle dump leaf encoding is %q, want %q", d.LeafEncoding, LeafEncoding())
	}
	n := len(d.Values)
	if n == 0 || len(d.Tree) != 2*n-1 {
		return nil, nil, proofgrid.Errorf(proofgrid.EINVALID, "merkle dump of %d values has %d nodes, want %d", n, len(d.Tree), 2*n-1)
	}
	t := &Tree{Nodes: make([][32]byte, len(d.Tree)), Index: make([]int, n)}
	for i, s := range d.Tree {
		h, err := ParseHash(s)
		if err != nil {
			return nil, nil, proofgrid.Errorf(proofgrid.EINVALID, "merkle dump node %d: %s", i, proofgrid.ErrorMessage(err))
		}
		t.Nodes[i] = h
	}
	claims := make([]Claim, n)
	taken := make([]bool, n)
	for i, v := range d.Values {
		c, err := ParseClaim(v.Value)
		if err != nil {
			return nil, nil, proofgrid.Errorf(proofgrid.EINVALID, "merkle dump value %d: %s", i, proofgrid.ErrorMessage(err))
		}
		if !IsLeaf(len(t.Nodes), v.TreeIndex) || taken[v.TreeIndex-(n-1)] {
			return nil, nil, proofgrid.Errorf(proofgrid.EINVALID, "merkle dump value %d: tree index %d is not a free leaf", i, v.TreeIndex)
		}
		taken[v.TreeIndex-(n-1)] = true
		claims[i], t.Index[i] = c, v.TreeIndex
	}
	// Rehashing is nearly all of the work, so it is spread over the CPUs.
	var (
		mu  sync.Mutex
		bad = -1
	)
	parallel(n, func(lo, hi int) {
		l := newLeafHasher()
		var h [32]byte
		for i := lo; i < hi; i++ {
			if l.hash(&h, &claims[i]); h != t.Nodes[t.Index[i]] {
				mu.Lock()
				if bad < 0 || i < bad {
					bad = i
				}
				mu.Unlock()
				return
			}
		}
	})
	if bad >= 0 {
		return nil, nil, proofgrid.Errorf(proofgrid.EINVALID, "merkle dump value %d does not hash to its leaf", bad)
	}
	check := slices.Clone(t.Nodes)
	hashInternal(check, n-1)
	for i := range n - 1 {
		if check[i] != t.Nodes[i] {
			return nil, nil, proofgrid.Errorf(proofgrid.EINVALID, "merkle dump node %d is not the hash of its children", i)
		}
	}
	return t, claims, nil
}
