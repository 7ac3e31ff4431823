package minerauth

import (
	"bytes"

	"github.com/mr-tron/base58"
	"golang.org/x/crypto/blake2b"

	"github.com/proofgrid/proofgrid"
)

// GenericPrefix is the SS58 network prefix of generic Substrate addresses
// (the "5..." addresses), which Bittensor uses.
const GenericPrefix uint16 = 42

// MaxPrefix is the largest SS58 network prefix: the two-byte form carries
// 14 bits.
const MaxPrefix uint16 = 16383

// ss58Pre is hashed before the payload so an SS58 checksum differs from a
// plain blake2b of the key.
var ss58Pre = []byte("SS58PRE")

// An SS58 address of a 32-byte key is at most 36 bytes, 50 base58 digits;
// longer input is refused before the quadratic base58 decoding.
const maxAddressLen = 64

// DecodeSS58 returns the 32-byte public key and the network prefix of an
// SS58 address. Any network prefix is accepted, in its one-byte (0..63) or
// two-byte (64..16383) form. The checksum (the first two bytes of
// blake2b-512 over "SS58PRE" || prefix || key) must match. Errors are
// *proofgrid.Error with code EINVALID.
func DecodeSS58(address string) (pub [32]byte, prefix uint16, err error) {
	if address == "" {
		return pub, 0, proofgrid.Errorf(proofgrid.EINVALID, "empty address")
	}
	if len(address) > maxAddressLen {
		return pub, 0, proofgrid.Errorf(proofgrid.EINVALID, "address is too long (%d characters)", len(address))
	}
	raw, derr := base58.Decode(address)
	if derr != nil {
		return pub, 0, proofgrid.Errorf(proofgrid.EINVALID, "address is not base58")
	}
	var n int // prefix length in bytes
	switch {
	case len(raw) == 0:
		return pub, 0, proofgrid.Errorf(proofgrid.EINVALID, "empty address")
	case raw[0] < 64:
		n, prefix = 1, uint16(raw[0])
	case raw[0] < 128:
		if len(raw) < 2 {
			return pub, 0, proofgrid.Errorf(proofgrid.EINVALID, "address is too short")
		}
		// Two-byte form: the low 6 bits of the first byte are bits 2..7,
		// the second byte's top 2 bits are bits 0..1 and its low 6 bits
		// are bits 8..13.
		n = 2
		prefix = uint16(raw[0]&0x3f)<<2 | uint16(raw[1]>>6) | uint16(raw[1]&0x3f)<<8
		if prefix < 64 {
			return pub, 0, proofgrid.Errorf(proofgrid.EINVALID, "address has prefix %d in the two-byte form", prefix)
		}
	default:
		return pub, 0, proofgrid.Errorf(proofgrid.EINVALID, "address starts with reserved prefix byte %d", raw[0])
	}
	if len(raw) != n+32+2 {
		// Shorter payloads are account indices, longer ones other key
		// types: neither is an sr25519 public key.
		return pub, 0, proofgrid.Errorf(proofgrid.EINVALID, "address does not hold a 32-byte public key (%d payload bytes)", len(raw)-n-2)
	}
	if sum := ss58Checksum(raw[:n+32]); !bytes.Equal(sum, raw[n+32:]) {
		return pub, 0, proofgrid.Errorf(proofgrid.EINVALID, "address has a bad checksum")
	}
	copy(pub[:], raw[n:n+32])
	return pub, prefix, nil
}

// EncodeSS58 returns the SS58 address of a 32-byte public key on the
// network with the given prefix. It fails with EINVALID for a prefix above
// MaxPrefix.
func EncodeSS58(pub [32]byte, prefix uint16) (string, error) {
	var raw []byte
	switch {
	case prefix < 64:
		raw = append(raw, byte(prefix))
	case prefix <= MaxPrefix:
		raw = append(raw, byte(prefix&0xfc)>>2|0x40, byte(prefix>>8)|byte(prefix&0x03)<<6)
	default:
		return "", proofgrid.Errorf(proofgrid.EINVALID, "SS58 prefix %d is above %d", prefix, MaxPrefix)
	}
	raw = append(raw, pub[:]...)
	raw = append(raw, ss58Checksum(raw)...)
	return base58.Encode(raw), nil
}

// Address returns the generic Substrate (prefix 42) SS58 address of a
// public key, the form Bittensor shows hotkeys in.
func Address(pub [32]byte) string {
	s, _ := EncodeSS58(pub, GenericPrefix) // cannot fail: 42 is a valid prefix
	return s
}

func ss58Checksum(payload []byte) []byte {
	h, _ := blake2b.New512(nil) // cannot fail without a key
	h.Write(ss58Pre)
	h.Write(payload)
	return h.Sum(nil)[:2]
}
