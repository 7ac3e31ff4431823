package registry

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"golang.org/x/crypto/sha3"

	"github.com/proofgrid/proofgrid"
)

// Key types a Psy user can register.
const (
	KeyEd25519   = "ed25519"
	KeySecp256k1 = "secp256k1"
)

// Key is a parsed Psy public key.
//
// Accepted forms, hex with or without 0x, any case:
//   - 32 bytes: an Ed25519 public key;
//   - 33 bytes (02/03 prefix) or 65 bytes (04 prefix): a secp256k1 public
//     key, compressed or not;
//   - 20 bytes: an Ethereum address, standing for the secp256k1 key that
//     signs for it.
type Key struct {
	// Canonical is the key as stored and compared: 0x and lower-case hex.
	Canonical string
	Type      string
	// Address is the Ethereum address of a secp256k1 key (0x, lower-case).
	Address string

	ed  ed25519.PublicKey
	sec *secp256k1.PublicKey // nil when only the address is known
}

// ParseKey parses a public key in one of the forms Key lists.
func ParseKey(s string) (Key, error) {
	raw, err := decodeHex(s)
	if err != nil {
		return Key{}, proofgrid.Errorf(proofgrid.EINVALID, "public_key must be hex: %v", err)
	}
	k := Key{Canonical: "0x" + hex.EncodeToString(raw)}
	switch len(raw) {
	case ed25519.PublicKeySize:
		k.Type, k.ed = KeyEd25519, ed25519.PublicKey(raw)
	case 20:
		k.Type, k.Address = KeySecp256k1, k.Canonical
	case 33, 65:
		pub, err := secp256k1.ParsePubKey(raw)
		if err != nil {
			return Key{}, proofgrid.Errorf(proofgrid.EINVALID, "public_key is not a secp256k1 point: %v", err)
		}
		k.Type, k.sec, k.Address = KeySecp256k1, pub, ethAddress(pub)
	default:
		return Key{}, proofgrid.Errorf(proofgrid.EINVALID,
			"public_key must be 32 bytes (Ed25519), 33 or 65 bytes (secp256k1) or 20 bytes (Ethereum address), got %d", len(raw))
	}
	return k, nil
}

// Verify checks sig over msg. Ed25519 keys sign msg itself; secp256k1
// keys sign it as Ethereum's personal_sign does (EIP-191 version 0x45:
// keccak256("\x19Ethereum Signed Message:\n" + len(msg) + msg)) with a
// 65-byte r‖s‖v signature, v in {0, 1, 27, 28}, s in the lower half of
// the group order. sig is hex, with or without 0x.
func (k Key) Verify(msg []byte, sig string) error {
	raw, err := decodeHex(sig)
	if err != nil {
		return proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "signature must be hex: %v", err)
	}
	switch k.Type {
	case KeyEd25519:
		if len(raw) != ed25519.SignatureSize {
			return proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "an Ed25519 signature is 64 bytes, got %d", len(raw))
		}
		if !ed25519.Verify(k.ed, msg, raw) {
			return proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "signature does not verify with public_key")
		}
		return nil
	case KeySecp256k1:
		pub, err := RecoverPersonalSign(msg, raw)
		if err != nil {
			return err
		}
		if k.sec != nil && !pub.IsEqual(k.sec) || ethAddress(pub) != k.Address {
			return proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "signature does not verify with public_key")
		}
		return nil
	}
	return proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "unknown key type %q", k.Type)
}

// RecoverPersonalSign returns the secp256k1 key that made sig (r‖s‖v)
// over msg with EIP-191 personal_sign. High-s signatures are refused:
// each has a low-s twin, so accepting both would make one signature two.
func RecoverPersonalSign(msg, sig []byte) (*secp256k1.PublicKey, error) {
	if len(sig) != 65 {
		return nil, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "a secp256k1 signature is 65 bytes (r, s, v), got %d", len(sig))
	}
	v := sig[64]
	if v >= 27 {
		v -= 27
	}
	if v > 1 {
		return nil, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "signature recovery id v must be 0, 1, 27 or 28")
	}
	var s secp256k1.ModNScalar
	if overflow := s.SetByteSlice(sig[32:64]); overflow || s.IsZero() {
		return nil, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "signature s is out of range")
	}
	if s.IsOverHalfOrder() {
		return nil, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "signature s is in the upper half of the order (high-s); send its low-s form")
	}
	compact := make([]byte, 65)
	compact[0] = 27 + v
	copy(compact[1:], sig[:64])
	pub, _, err := ecdsa.RecoverCompact(compact, PersonalSignHash(msg))
	if err != nil {
		return nil, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "signature does not verify: %v", err)
	}
	return pub, nil
}

// PersonalSignHash is the digest personal_sign signs: EIP-191 version
// 0x45 over msg, hashed with legacy Keccak-256 (Ethereum's, not SHA3-256).
func PersonalSignHash(msg []byte) []byte {
	h := sha3.NewLegacyKeccak256()
	h.Write([]byte("\x19Ethereum Signed Message:\n" + strconv.Itoa(len(msg))))
	h.Write(msg)
	return h.Sum(nil)
}

// ethAddress is the Ethereum address of pub: the last 20 bytes of the
// Keccak-256 of its uncompressed coordinates.
func ethAddress(pub *secp256k1.PublicKey) string {
	h := sha3.NewLegacyKeccak256()
	h.Write(pub.SerializeUncompressed()[1:])
	return "0x" + hex.EncodeToString(h.Sum(nil)[12:])
}

func decodeHex(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		s = s[2:]
	}
	if s == "" {
		return nil, errEmpty
	}
	return hex.DecodeString(s)
}

var errEmpty = proofgrid.Errorf(proofgrid.EINVALID, "empty")

// RegistrationMessage is the exact byte string a user signs to register:
//
//	psy-register:v1
//	public_key:<public key as 0x lower-case hex>
//	twitter_handle:<twitter handle as sent>
//	label:<label as sent>
//
// lines joined by "\n", no trailing newline. Fields may not contain line
// breaks, so the message has one reading only.
func RegistrationMessage(canonicalKey, twitterHandle, label string) []byte {
	return []byte("psy-register:v1\npublic_key:" + canonicalKey + "\ntwitter_handle:" + twitterHandle + "\nlabel:" + label)
}

// Ingest request signing. A worker posting its own events signs each
// request with its registered key and sends
//
//	X-Psy-Public-Key: <registered public key>
//	X-Psy-Timestamp:  <unix seconds>
//	X-Psy-Nonce:      <16..64 hex characters, new for every request>
//	X-Psy-Signature:  <hex signature of IngestMessage>
const (
	HeaderPublicKey = "X-Psy-Public-Key"
	HeaderTimestamp = "X-Psy-Timestamp"
	HeaderNonce     = "X-Psy-Nonce"
	HeaderSignature = "X-Psy-Signature"
)

// IngestMessage is the exact byte string a worker signs for an ingest
// request: "psy-ingest:v1", the method, the path with its raw query, the
// timestamp, the nonce and the hex SHA-256 of the body, joined by "\n".
func IngestMessage(method, pathAndQuery string, ts int64, nonce string, body []byte) []byte {
	sum := sha256.Sum256(body)
	return []byte(strings.Join([]string{"psy-ingest:v1", strings.ToUpper(method), pathAndQuery,
		strconv.FormatInt(ts, 10), nonce, hex.EncodeToString(sum[:])}, "\n"))
}

// CheckIngestHeaders validates the timestamp (within window of now) and
// nonce headers of an ingest request and returns them parsed.
func CheckIngestHeaders(tsHeader, nonce string, now time.Time, window time.Duration) (int64, string, error) {
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil || ts <= 0 {
		return 0, "", proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "%s must be unix seconds", HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > window || -d > window {
		return 0, "", proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "%s is %v away from the server's clock (window ±%v)", HeaderTimestamp, d.Round(time.Second), window)
	}
	if len(nonce) < 16 || len(nonce) > 64 {
		return 0, "", proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "%s must be 16..64 hex characters", HeaderNonce)
	}
	if _, err := hex.DecodeString(nonce); err != nil {
		return 0, "", proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "%s must be hex", HeaderNonce)
	}
	return ts, strings.ToLower(nonce), nil
}
