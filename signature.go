package proofgrid

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Agent request signing.
//
// Every agent request carries the header
//
//	X-Proofgrid-Signature: key=<key id>, ts=<unix seconds>, nonce=<hex>, sig=<base64url>
//
// where sig is the Ed25519 signature of CanonicalRequest. The key id is the
// machine id once enrolled and the base64 public key while enrolling. The
// coordinator accepts a timestamp within SignatureWindow of its clock and
// each (key, nonce) pair once.
const (
	SignatureHeader  = "X-Proofgrid-Signature"
	SignatureVersion = "PG-ED25519-V1"
	SignatureWindow  = 5 * time.Minute

	maxSignatureHeaderLen = 512
	maxKeyIDLen           = 128
	minNonceLen           = 16
	maxNonceLen           = 64
)

// RequestSignature is the parsed X-Proofgrid-Signature header.
type RequestSignature struct {
	KeyID     string
	Timestamp int64
	Nonce     string
	Signature []byte
}

// String formats s as a header value that ParseRequestSignature accepts.
func (s RequestSignature) String() string {
	return "key=" + s.KeyID +
		", ts=" + strconv.FormatInt(s.Timestamp, 10) +
		", nonce=" + s.Nonce +
		", sig=" + base64.RawURLEncoding.EncodeToString(s.Signature)
}

// ParseRequestSignature parses an X-Proofgrid-Signature header value. It
// requires each of key, ts, nonce and sig exactly once and rejects anything
// else, so that a header has one meaning only.
func ParseRequestSignature(header string) (RequestSignature, error) {
	var s RequestSignature
	if header == "" {
		return s, Errorf(EUNAUTHORIZED, "missing %s header", SignatureHeader)
	}
	if len(header) > maxSignatureHeaderLen {
		return s, Errorf(EUNAUTHORIZED, "%s header is longer than %d bytes", SignatureHeader, maxSignatureHeaderLen)
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(header, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || value == "" {
			return s, Errorf(EUNAUTHORIZED, "malformed %s header: parameter %q has no value", SignatureHeader, name)
		}
		if seen[name] {
			return s, Errorf(EUNAUTHORIZED, "malformed %s header: %q given twice", SignatureHeader, name)
		}
		seen[name] = true
		switch name {
		case "key":
			if len(value) > maxKeyIDLen || !isTokenChars(value) {
				return s, Errorf(EUNAUTHORIZED, "malformed %s header: bad key id", SignatureHeader)
			}
			s.KeyID = value
		case "ts":
			ts, err := strconv.ParseInt(value, 10, 64)
			if err != nil || ts <= 0 || len(value) > 12 {
				return s, Errorf(EUNAUTHORIZED, "malformed %s header: ts must be unix seconds", SignatureHeader)
			}
			s.Timestamp = ts
		case "nonce":
			if len(value) < minNonceLen || len(value) > maxNonceLen {
				return s, Errorf(EUNAUTHORIZED, "malformed %s header: nonce must be %d..%d hex characters", SignatureHeader, minNonceLen, maxNonceLen)
			}
			if _, err := hex.DecodeString(value); err != nil {
				return s, Errorf(EUNAUTHORIZED, "malformed %s header: nonce must be hex", SignatureHeader)
			}
			s.Nonce = strings.ToLower(value)
		case "sig":
			sig, err := base64.RawURLEncoding.DecodeString(value)
			if err != nil || len(sig) != ed25519.SignatureSize {
				return s, Errorf(EUNAUTHORIZED, "malformed %s header: sig must be a base64url Ed25519 signature", SignatureHeader)
			}
			s.Signature = sig
		default:
			return s, Errorf(EUNAUTHORIZED, "malformed %s header: unknown parameter %q", SignatureHeader, name)
		}
	}
	if len(seen) != 4 {
		return s, Errorf(EUNAUTHORIZED, "malformed %s header: key, ts, nonce and sig are all required", SignatureHeader)
	}
	return s, nil
}

// isTokenChars reports whether v holds only characters safe in a key id
// (base64, base64url and UUID alphabets).
func isTokenChars(v string) bool {
	for _, c := range v {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '+' || c == '/' || c == '=' || c == ':' || c == '.':
		default:
			return false
		}
	}
	return true
}

// CanonicalRequest is the exact byte string an agent signs: the scheme
// version, key id, method, path with its raw query, the hex SHA-256 of the
// body, the timestamp and the nonce, one per line.
func CanonicalRequest(keyID, method, pathAndQuery string, body []byte, ts int64, nonce string) []byte {
	sum := sha256.Sum256(body)
	return []byte(strings.Join([]string{
		SignatureVersion,
		keyID,
		strings.ToUpper(method),
		pathAndQuery,
		hex.EncodeToString(sum[:]),
		strconv.FormatInt(ts, 10),
		nonce,
	}, "\n"))
}

// SignRequest returns the header value for a request signed with key.
func SignRequest(key ed25519.PrivateKey, keyID, method, pathAndQuery string, body []byte, now time.Time, nonce string) string {
	ts := now.Unix()
	sig := ed25519.Sign(key, CanonicalRequest(keyID, method, pathAndQuery, body, ts, nonce))
	return RequestSignature{KeyID: keyID, Timestamp: ts, Nonce: nonce, Signature: sig}.String()
}

// VerifyRequest checks s against the request and the public key, and that
// its timestamp is within SignatureWindow of now. Replay protection (each
// nonce once) is the caller's job, since it needs shared state.
func VerifyRequest(pub ed25519.PublicKey, s RequestSignature, method, pathAndQuery string, body []byte, now time.Time) error {
	if len(pub) != ed25519.PublicKeySize {
		return Errorf(EUNAUTHORIZED, "unknown agent key")
	}
	skew := now.Unix() - s.Timestamp
	if skew > int64(SignatureWindow/time.Second) || -skew > int64(SignatureWindow/time.Second) {
		return Errorf(EUNAUTHORIZED, "request timestamp is %d s away from the coordinator's clock (window ±%d s)", skew, int64(SignatureWindow/time.Second))
	}
	if !ed25519.Verify(pub, CanonicalRequest(s.KeyID, method, pathAndQuery, body, s.Timestamp, s.Nonce), s.Signature) {
		return Errorf(EUNAUTHORIZED, "bad request signature")
	}
	return nil
}
