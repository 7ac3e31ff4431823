package registry_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/registry"
)

// personalSign signs msg as Ethereum's personal_sign does and returns the
// 65-byte r‖s‖v signature with v = 27 or 28.
func personalSign(key *secp256k1.PrivateKey, msg []byte) []byte {
	compact := ecdsa.SignCompact(key, registry.PersonalSignHash(msg), false) // [27+recid] ‖ r ‖ s, low s
	return append(append([]byte{}, compact[1:]...), compact[0])
}

// highS returns the high-s twin of a low-s signature: s' = n − s and the
// recovery id flipped. It verifies mathematically, and must be refused.
func highS(sig []byte) []byte {
	var s secp256k1.ModNScalar
	s.SetByteSlice(sig[32:64])
	s.Negate()
	b := s.Bytes()
	out := append([]byte{}, sig...)
	copy(out[32:64], b[:])
	out[64] ^= 1 // 27 <-> 28
	return out
}

func hx(b []byte) string { return "0x" + hex.EncodeToString(b) }

func TestVerifySignatures(t *testing.T) {
	msg := registry.RegistrationMessage("0xabc", "@miner", "rig 1")
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i)
	}
	edKey := ed25519.NewKeyFromSeed(seed)
	edPub := hx(edKey.Public().(ed25519.PublicKey))
	otherEd := ed25519.NewKeyFromSeed(make([]byte, 32))
	edSig := hx(ed25519.Sign(edKey, msg))

	secKey := secp256k1.PrivKeyFromBytes(seed)
	otherSec := secp256k1.PrivKeyFromBytes(append(make([]byte, 31), 7))
	sig := personalSign(secKey, msg)
	sig01 := append([]byte{}, sig...)
	sig01[64] -= 27
	compressed := hx(secKey.PubKey().SerializeCompressed())
	uncompressed := hx(secKey.PubKey().SerializeUncompressed())
	addrKey, err := registry.ParseKey(compressed)
	if err != nil {
		t.Fatal(err)
	}

	badV := append([]byte{}, sig...)
	badV[64] = 29
	zeroS := append([]byte{}, sig...)
	copy(zeroS[32:64], make([]byte, 32))
	flipped := append([]byte{}, sig...)
	flipped[10] ^= 0xff

	tests := []struct {
		name, key, sig string
		ok             bool
	}{
		{"ed25519 valid", edPub, edSig, true},
		{"ed25519 upper-case hex, no 0x", strings.ToUpper(edPub[2:]), strings.ToUpper(edSig[2:]), true},
		{"ed25519 wrong key", hx(otherEd.Public().(ed25519.PublicKey)), edSig, false},
		{"ed25519 other message", edPub, hx(ed25519.Sign(edKey, []byte("other"))), false},
		{"ed25519 short signature", edPub, edSig[:100], false},
		{"ed25519 not hex", edPub, "0xzz" + edSig[4:], false},
		{"secp256k1 compressed key, v=27/28", compressed, hx(sig), true},
		{"secp256k1 uncompressed key", uncompressed, hx(sig), true},
		{"secp256k1 v=0/1", compressed, hx(sig01), true},
		{"secp256k1 address", addrKey.Address, hx(sig), true},
		{"secp256k1 wrong key", hx(otherSec.PubKey().SerializeCompressed()), hx(sig), false},
		{"secp256k1 wrong address", "0x" + strings.Repeat("11", 20), hx(sig), false},
		{"secp256k1 high s", compressed, hx(highS(sig)), false},
		{"secp256k1 bad v", compressed, hx(badV), false},
		{"secp256k1 zero s", compressed, hx(zeroS), false},
		{"secp256k1 tampered r", compressed, hx(flipped), false},
		{"secp256k1 64-byte signature", compressed, hx(sig[:64]), false},
		{"secp256k1 empty signature", compressed, "0x", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := registry.ParseKey(tc.key)
			if err != nil {
				t.Fatalf("parse key: %v", err)
			}
			err = k.Verify(msg, tc.sig)
			if tc.ok && err != nil {
				t.Fatalf("want valid, got %v", err)
			}
			if !tc.ok {
				if err == nil {
					t.Fatal("want refused, got valid")
				}
				if code := proofgrid.ErrorCode(err); code != proofgrid.EUNAUTHORIZED {
					t.Fatalf("want code %s, got %s (%v)", proofgrid.EUNAUTHORIZED, code, err)
				}
			}
		})
	}

	// The high-s twin is a valid ECDSA signature: refusing it is the rule,
	// not an accident of a broken signature.
	twin := highS(sig)
	var r, s secp256k1.ModNScalar
	r.SetByteSlice(twin[:32])
	s.SetByteSlice(twin[32:64])
	if !ecdsa.NewSignature(&r, &s).Verify(registry.PersonalSignHash(msg), secKey.PubKey()) {
		t.Fatal("high-s twin does not verify as plain ECDSA")
	}
}

func TestParseKey(t *testing.T) {
	for _, bad := range []string{"", "0x", "0x1234", "nothex", "0x" + strings.Repeat("00", 33), "0x04" + strings.Repeat("00", 64)} {
		if _, err := registry.ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
	k, err := registry.ParseKey("0X" + strings.Repeat("AB", 32))
	if err != nil || k.Canonical != "0x"+strings.Repeat("ab", 32) || k.Type != registry.KeyEd25519 {
		t.Errorf("canonical form: %+v %v", k, err)
	}
}

func TestRegistrationMessage(t *testing.T) {
	got := string(registry.RegistrationMessage("0xab", "@h", "my rig"))
	want := "psy-register:v1\npublic_key:0xab\ntwitter_handle:@h\nlabel:my rig"
	if got != want {
		t.Fatalf("message:\n%q\nwant\n%q", got, want)
	}
}

func TestPersonalSignHashVector(t *testing.T) {
	// keccak256("\x19Ethereum Signed Message:\n11hello world"), as
	// web3.eth.accounts.hashMessage("hello world") gives it.
	got := hex.EncodeToString(registry.PersonalSignHash([]byte("hello world")))
	if got != "d9eba16ed0ecae432b71fe008c98cc872bb4cc214d3220a36f365326cf807d68" {
		t.Fatalf("hash %s", got)
	}
}
