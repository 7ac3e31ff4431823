package merkle

import (
	"encoding/binary"
	"encoding/hex"
	"math/big"
	"strconv"
	"strings"

	"github.com/proofgrid/proofgrid"
)

// Domain is the first field of every leaf. It keeps a proofgrid claim from
// being accepted as a leaf of any other tree with the same shape.
const Domain = "proofgrid.claim.v1"

// LeafEncoding is the Solidity types of a leaf, as StandardMerkleTree takes
// them: (Domain, epoch, account, recipient, cumulative amount).
func LeafEncoding() []string {
	return []string{"string", "uint64", "bytes32", "bytes32", "uint256"}
}

// Claim is one leaf: by Epoch, Account may have received Amount base units
// in total, paid to Recipient.
type Claim struct {
	Epoch     uint64
	Account   [32]byte
	Recipient [32]byte
	// Amount is cumulative over all epochs; a claim pays Amount minus what
	// the account has already claimed. It is in [0, 2^256).
	Amount *big.Int
}

// AccountFromAddress returns a 20-byte Ethereum address as a bytes32
// account: left-padded with zeros, as abi.encode pads an address.
func AccountFromAddress(addr [20]byte) [32]byte {
	var a [32]byte
	copy(a[12:], addr[:])
	return a
}

// AccountFromBytes returns b as a bytes32 account: a 32-byte key as it is, a
// 20-byte address left-padded with zeros.
func AccountFromBytes(b []byte) ([32]byte, error) {
	var a [32]byte
	switch len(b) {
	case 32:
		copy(a[:], b)
	case 20:
		copy(a[12:], b)
	default:
		return a, proofgrid.Errorf(proofgrid.EINVALID, "an account is 20 or 32 bytes, got %d", len(b))
	}
	return a, nil
}

// ParseAccount parses a 0x-prefixed hex account of 20 or 32 bytes (see
// AccountFromBytes).
func ParseAccount(s string) ([32]byte, error) {
	b, err := parseHex(s)
	if err != nil {
		return [32]byte{}, err
	}
	return AccountFromBytes(b)
}

// Hex returns b as OpenZeppelin writes bytes32: 0x and 64 lowercase hex
// digits.
func Hex(b [32]byte) string {
	return "0x" + hex.EncodeToString(b[:])
}

// ParseHash parses a 0x-prefixed bytes32 of exactly 64 hex digits.
func ParseHash(s string) ([32]byte, error) {
	var h [32]byte
	b, err := parseHex(s)
	if err != nil {
		return h, err
	}
	if len(b) != 32 {
		return h, proofgrid.Errorf(proofgrid.EINVALID, "a bytes32 is 32 bytes, got %d", len(b))
	}
	copy(h[:], b)
	return h, nil
}

func parseHex(s string) ([]byte, error) {
	digits, ok := strings.CutPrefix(s, "0x")
	if !ok {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "hex value %q must start with 0x", s)
	}
	b, err := hex.DecodeString(digits)
	if err != nil {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "hex value %q: %v", s, err)
	}
	return b, nil
}

// checkAmount reports whether a fits a uint256.
func checkAmount(a *big.Int) error {
	if a == nil {
		return proofgrid.Errorf(proofgrid.EINVALID, "claim amount is missing")
	}
	if a.Sign() < 0 || a.BitLen() > 256 {
		return proofgrid.Errorf(proofgrid.EINVALID, "claim amount %s is not a uint256", a)
	}
	return nil
}

// Values returns c as StandardMerkleTree takes and dumps a value: the domain
// tag, integers as decimal strings and bytes32 as 0x-hex.
func (c Claim) Values() []string {
	return []string{Domain, strconv.FormatUint(c.Epoch, 10), Hex(c.Account), Hex(c.Recipient), c.Amount.String()}
}

// ParseClaim parses a value written by Values (as found in a dump): the
// domain tag must be Domain and integers decimal.
func ParseClaim(v []string) (Claim, error) {
	var c Claim
	if len(v) != 5 {
		return c, proofgrid.Errorf(proofgrid.EINVALID, "a claim value has 5 fields, got %d", len(v))
	}
	if v[0] != Domain {
		return c, proofgrid.Errorf(proofgrid.EINVALID, "claim domain is %q, want %q", v[0], Domain)
	}
	if !isDecimal(v[1]) || !isDecimal(v[4]) {
		return c, proofgrid.Errorf(proofgrid.EINVALID, "claim epoch %q and amount %q must be decimal", v[1], v[4])
	}
	var err error
	if c.Epoch, err = strconv.ParseUint(v[1], 10, 64); err != nil {
		return c, proofgrid.Errorf(proofgrid.EINVALID, "claim epoch %q is not a uint64", v[1])
	}
	if c.Account, err = ParseHash(v[2]); err != nil {
		return c, err
	}
	if c.Recipient, err = ParseHash(v[3]); err != nil {
		return c, err
	}
	c.Amount, _ = new(big.Int).SetString(v[4], 10)
	return c, checkAmount(c.Amount)
}

func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// leafLen is the length of abi.encode(Domain, epoch, account, recipient,
// amount): five head words, then the string's length word and its bytes
// padded to whole words.
const leafLen = 6*32 + (len(Domain)+31)/32*32

// leafTemplate is an encoded leaf with its constant words filled in: the
// string's offset (just past the five head words), its length and bytes.
var leafTemplate = func() [leafLen]byte {
	var b [leafLen]byte
	b[31] = 5 * 32
	b[5*32+31] = byte(len(Domain))
	copy(b[6*32:], Domain)
	return b
}()

// leafHasher hashes claims into leaves, reusing one buffer and one sponge.
type leafHasher struct {
	k   *keccak
	buf [leafLen]byte
}

func newLeafHasher() *leafHasher {
	return &leafHasher{k: newKeccak(), buf: leafTemplate}
}

// encode writes the variable words of c, whose amount has been checked,
// into the buffer and returns it.
func (l *leafHasher) encode(c *Claim) []byte {
	b := &l.buf
	binary.BigEndian.PutUint64(b[1*32+24:2*32], c.Epoch)
	copy(b[2*32:3*32], c.Account[:])
	copy(b[3*32:4*32], c.Recipient[:])
	c.Amount.FillBytes(b[4*32 : 5*32])
	return b[:]
}

// hash sets dst to the leaf of c, whose amount has been checked.
func (l *leafHasher) hash(dst *[32]byte, c *Claim) {
	l.k.sum(dst, l.encode(c))
	l.k.sum(dst, dst[:])
}

// Encode returns abi.encode(Domain, c.Epoch, c.Account, c.Recipient,
// c.Amount), the preimage of the inner hash of the leaf.
func (c Claim) Encode() ([]byte, error) {
	if err := checkAmount(c.Amount); err != nil {
		return nil, err
	}
	l := leafHasher{buf: leafTemplate}
	return l.encode(&c), nil
}

// Leaf returns the leaf hash of c: keccak256(keccak256(c.Encode())).
func (c Claim) Leaf() ([32]byte, error) {
	var h [32]byte
	if err := checkAmount(c.Amount); err != nil {
		return h, err
	}
	newLeafHasher().hash(&h, &c)
	return h, nil
}

// Build builds the tree of claims as StandardMerkleTree.of(values,
// LeafEncoding()) does for values[i] = claims[i].Values(). Tree.Index[i] is
// the leaf of claims[i]. The caller ensures one claim per account; the tree
// itself accepts anything, as OpenZeppelin's does.
func Build(claims []Claim) (*Tree, error) {
	if len(claims) == 0 {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "a merkle tree needs at least one claim")
	}
	for i := range claims {
		if err := checkAmount(claims[i].Amount); err != nil {
			return nil, proofgrid.Errorf(proofgrid.EINVALID, "claim %d: %s", i, proofgrid.ErrorMessage(err))
		}
	}
	if uint64(len(claims)) > maxLeaves {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "a merkle tree holds at most %d claims", uint64(maxLeaves))
	}
	entries := make([]entry, len(claims))
	parallel(len(claims), func(lo, hi int) {
		l := newLeafHasher()
		for i := lo; i < hi; i++ {
			l.hash(&entries[i].hash, &claims[i])
			entries[i].index = uint32(i)
		}
	})
	return buildSorted(entries), nil
}
