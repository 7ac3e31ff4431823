package minerauth

import (
	"context"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/ChainSafe/go-schnorrkel"

	"github.com/proofgrid/proofgrid"
)

// Request headers of a signed Pool request.
const (
	HeaderKey       = "X-Key"       // SS58 address of the miner's hotkey
	HeaderTimestamp = "X-Timestamp" // unix seconds, decimal
	HeaderSignature = "X-Signature" // hex of the 64-byte sr25519 signature, "0x" optional
)

// DefaultWindow is how far a request's timestamp may be from the server's
// clock, either way.
const DefaultWindow = 300 * time.Second

// SigningContext is the sr25519 signing context of Substrate, and so of
// polkadot-js, subkey and Bittensor wallets.
const SigningContext = "substrate"

// Miner is the identity a verified request acts for.
type Miner struct {
	// Hotkey is the key's generic Substrate (prefix 42) SS58 address,
	// whatever prefix the request used, so one key has one identity.
	Hotkey    string
	PublicKey [32]byte
}

// ReplayCache remembers signatures already used. Use records the nonce for
// keyID and fails with a *proofgrid.Error (EUNAUTHORIZED) when it was
// recorded before; any other failure is passed on to the caller. It must
// remember a nonce for at least twice the Verifier's window.
//
// *auth.ReplayCache (Redis SET NX EX, kept 11 minutes) implements it: pass
// auth.NewReplayCache(rdb, "proofgrid:miner:nonce:").
type ReplayCache interface {
	Use(ctx context.Context, keyID, nonce string) error
}

// Verifier authenticates signed Pool requests. Its zero Window and Now mean
// DefaultWindow and time.Now; Replay is required, and a Verifier without one
// refuses every request with an internal error rather than accept replays.
// A Window above 5 minutes needs a cache that keeps nonces longer than
// auth.ReplayCache does.
type Verifier struct {
	Window time.Duration
	Now    func() time.Time
	Replay ReplayCache
}

// AuthMessage is the message a miner signs for an ordinary Pool request:
// "auth:{timestamp}", with the timestamp exactly as sent in X-Timestamp.
func AuthMessage(timestamp string) string {
	return "auth:" + timestamp
}

// RecipientUpdateMessage is the message a miner signs to change the coldkey
// its rewards go to: "recipient_coldkey:update:{timestamp}:{recipient}". It
// binds the recipient, so a captured signature cannot redirect rewards.
func RecipientUpdateMessage(timestamp, recipient string) string {
	return "recipient_coldkey:update:" + timestamp + ":" + recipient
}

// Authenticate checks the X-Key, X-Timestamp and X-Signature headers of an
// ordinary Pool request (message AuthMessage) and returns the miner. Errors
// are *proofgrid.Error with code EUNAUTHORIZED, or whatever the replay
// cache returns when it fails (EUNAVAILABLE for Redis).
func (v *Verifier) Authenticate(ctx context.Context, key, timestamp, signature string) (Miner, error) {
	return v.authenticate(ctx, key, timestamp, signature, AuthMessage(timestamp))
}

// AuthenticateRecipientUpdate checks a signed recipient coldkey update
// (message RecipientUpdateMessage) and returns the miner. A recipient that
// is not an SS58 address is refused with EINVALID before any signature
// check; other errors are those of Authenticate.
func (v *Verifier) AuthenticateRecipientUpdate(ctx context.Context, key, timestamp, signature, recipient string) (Miner, error) {
	if recipient == "" {
		return Miner{}, proofgrid.Errorf(proofgrid.EINVALID, "recipient_coldkey is required")
	}
	if _, _, err := DecodeSS58(recipient); err != nil {
		return Miner{}, proofgrid.Errorf(proofgrid.EINVALID, "recipient_coldkey is not a valid SS58 address: %s", proofgrid.ErrorMessage(err))
	}
	return v.authenticate(ctx, key, timestamp, signature, RecipientUpdateMessage(timestamp, recipient))
}

func (v *Verifier) authenticate(ctx context.Context, key, timestamp, signature, message string) (Miner, error) {
	if v.Replay == nil {
		return Miner{}, errors.New("minerauth: Verifier has no replay cache")
	}
	switch {
	case key == "":
		return Miner{}, unauthorized("missing %s header", HeaderKey)
	case timestamp == "":
		return Miner{}, unauthorized("missing %s header", HeaderTimestamp)
	case signature == "":
		return Miner{}, unauthorized("missing %s header", HeaderSignature)
	}

	pub, _, err := DecodeSS58(key)
	if err != nil {
		return Miner{}, unauthorized("malformed %s: %s", HeaderKey, proofgrid.ErrorMessage(err))
	}
	var pk schnorrkel.PublicKey
	if err := pk.Decode(pub); err != nil {
		return Miner{}, unauthorized("malformed %s: not an sr25519 public key", HeaderKey)
	}

	ts, err := parseTimestamp(timestamp)
	if err != nil {
		return Miner{}, err
	}
	window := v.Window
	if window <= 0 {
		window = DefaultWindow
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	limit := int64(window / time.Second)
	switch skew := now().Unix() - ts; {
	case skew > limit:
		return Miner{}, unauthorized("stale %s: %d s in the past (window ±%d s)", HeaderTimestamp, skew, limit)
	case skew < -limit:
		return Miner{}, unauthorized("%s is %d s in the future (window ±%d s)", HeaderTimestamp, -skew, limit)
	}

	sig, err := parseSignature(signature)
	if err != nil {
		return Miner{}, err
	}
	if !verify(&pk, []byte(message), sig) {
		return Miner{}, unauthorized("bad signature: %s does not sign %q with this %s", HeaderSignature, message, HeaderKey)
	}

	miner := Miner{Hotkey: Address(pub), PublicKey: pub}
	// After the signature check, so only genuine signatures reach Redis.
	// The canonical hex form is the nonce: a signature re-sent with or
	// without 0x, or in other letter case, is the same signature.
	if err := v.Replay.Use(ctx, miner.Hotkey, hex.EncodeToString(sig[:])); err != nil {
		if proofgrid.ErrorCode(err) == proofgrid.EUNAUTHORIZED {
			return Miner{}, unauthorized("replayed signature: already used within the %d s window", limit)
		}
		return Miner{}, err
	}
	return miner, nil
}

// Verify reports whether sig is an sr25519 signature by pub, in the
// Substrate signing context, of message either as is or wrapped in
// <Bytes>…</Bytes> (polkadot-js signRaw, browser extensions and most
// wallets wrap what they sign).
func Verify(pub [32]byte, message []byte, sig [64]byte) bool {
	var pk schnorrkel.PublicKey
	if err := pk.Decode(pub); err != nil {
		return false
	}
	return verify(&pk, message, sig)
}

var (
	wrapPrefix  = []byte("<Bytes>")
	wrapPostfix = []byte("</Bytes>")
)

func verify(pk *schnorrkel.PublicKey, message []byte, sig [64]byte) bool {
	var s schnorrkel.Signature
	// Decode refuses signatures without schnorrkel's marker bit and
	// non-canonical encodings, so one signature has one byte form.
	if err := s.Decode(sig); err != nil {
		return false
	}
	wrapped := make([]byte, 0, len(wrapPrefix)+len(message)+len(wrapPostfix))
	wrapped = append(append(append(wrapped, wrapPrefix...), message...), wrapPostfix...)
	for _, m := range [][]byte{message, wrapped} {
		// A transcript is consumed by Verify: each try needs its own.
		if ok, err := pk.Verify(&s, schnorrkel.NewSigningContext([]byte(SigningContext), m)); err == nil && ok {
			return true
		}
	}
	return false
}

// parseTimestamp accepts decimal unix seconds only: the header is signed as
// sent, so a sign, spaces or a fraction would make one instant several
// messages.
func parseTimestamp(s string) (int64, error) {
	if len(s) > 18 {
		return 0, unauthorized("malformed %s: want unix seconds", HeaderTimestamp)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, unauthorized("malformed %s: want unix seconds", HeaderTimestamp)
		}
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, unauthorized("malformed %s: want unix seconds", HeaderTimestamp)
	}
	return ts, nil
}

// parseSignature decodes the hex of a 64-byte signature, with or without a
// 0x prefix.
func parseSignature(s string) ([64]byte, error) {
	var sig [64]byte
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		s = s[2:]
	}
	b, err := hex.DecodeString(s)
	switch {
	case errors.Is(err, hex.ErrLength):
		return sig, unauthorized("malformed %s: odd number of hex digits", HeaderSignature)
	case err != nil:
		return sig, unauthorized("malformed %s: not hex", HeaderSignature)
	case len(b) != len(sig):
		return sig, unauthorized("malformed %s: want 64 bytes, got %d", HeaderSignature, len(b))
	}
	copy(sig[:], b)
	return sig, nil
}

func unauthorized(format string, args ...any) *proofgrid.Error {
	return proofgrid.Errorf(proofgrid.EUNAUTHORIZED, format, args...)
}
