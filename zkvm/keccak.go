package zkvm

import (
	"encoding/binary"
	"hash"
	"io"

	"golang.org/x/crypto/sha3"
)

// keccak computes Keccak-256 (Ethereum's original padding, not FIPS-202
// SHA3-256) of short inputs without allocating. It is not safe for
// concurrent use: each goroutine owns one.
type keccak struct {
	h hash.Hash
	// r squeezes the digest straight out of the sponge. Sum would copy the
	// whole state first, which costs an allocation per hash on the chain's
	// hot path.
	r io.Reader
}

func newKeccak() *keccak {
	h := sha3.NewLegacyKeccak256()
	r, _ := h.(io.Reader)
	return &keccak{h: h, r: r}
}

// digest finishes the hash written so far into dst.
func (k *keccak) digest(dst *[32]byte) {
	if k.r != nil {
		// The sponge state's Read never fails.
		_, _ = k.r.Read(dst[:])
		return
	}
	k.h.Sum(dst[:0])
}

// next replaces h with Keccak-256(h): one step of the chain.
func (k *keccak) next(h *[32]byte) {
	k.h.Reset()
	_, _ = k.h.Write(h[:])
	k.digest(h)
}

// seed sets h to h_0 = Keccak-256(DemoDomain || blockNumber (8 bytes,
// big-endian) || blockHash).
func (k *keccak) seed(h *[32]byte, blockNumber uint64, blockHash [32]byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], blockNumber)
	k.h.Reset()
	_, _ = io.WriteString(k.h, DemoDomain)
	_, _ = k.h.Write(n[:])
	_, _ = k.h.Write(blockHash[:])
	k.digest(h)
}
