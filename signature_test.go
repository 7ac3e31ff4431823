package proofgrid_test

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
)

func TestSignAndVerify(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"a":1}`)
	h := proofgrid.SignRequest(priv, "m-1", "POST", "/x?y=1", body, now, "00112233445566778899aabbccddeeff")
	sig, err := proofgrid.ParseRequestSignature(h)
	if err != nil {
		t.Fatalf("parse own header: %v", err)
	}
	if sig.KeyID != "m-1" || sig.Timestamp != now.Unix() {
		t.Fatalf("parsed %+v", sig)
	}
	if err := proofgrid.VerifyRequest(pub, sig, "POST", "/x?y=1", body, now.Add(time.Minute)); err != nil {
		t.Fatalf("verify: %v", err)
	}
	cases := map[string]func() error{
		"other body":   func() error { return proofgrid.VerifyRequest(pub, sig, "POST", "/x?y=1", []byte(`{"a":2}`), now) },
		"other path":   func() error { return proofgrid.VerifyRequest(pub, sig, "POST", "/x?y=2", body, now) },
		"other method": func() error { return proofgrid.VerifyRequest(pub, sig, "PUT", "/x?y=1", body, now) },
		"stale":        func() error { return proofgrid.VerifyRequest(pub, sig, "POST", "/x?y=1", body, now.Add(6*time.Minute)) },
		"future": func() error {
			return proofgrid.VerifyRequest(pub, sig, "POST", "/x?y=1", body, now.Add(-6*time.Minute))
		},
	}
	for name, f := range cases {
		if err := f(); proofgrid.ErrorCode(err) != proofgrid.EUNAUTHORIZED {
			t.Errorf("%s: got %v, want unauthorized", name, err)
		}
	}
}

func TestParseRequestSignatureRejects(t *testing.T) {
	good := "key=m, ts=1, nonce=00112233445566778899aabbccddeeff, sig=" + strings.Repeat("A", 86)
	if _, err := proofgrid.ParseRequestSignature(good); err != nil {
		t.Fatalf("good header refused: %v", err)
	}
	for _, h := range []string{
		"",
		"key=m, ts=1, nonce=00112233445566778899aabbccddeeff",
		good + ", key=m",
		good + ", extra=1",
		strings.Replace(good, "ts=1", "ts=-1", 1),
		strings.Replace(good, "ts=1", "ts=abc", 1),
		strings.Replace(good, "nonce=00112233445566778899aabbccddeeff", "nonce=zz112233445566778899aabbccddeeff", 1),
		strings.Replace(good, "nonce=00112233445566778899aabbccddeeff", "nonce=0011", 1),
		strings.Replace(good, "key=m", "key=a b", 1),
		strings.Replace(good, "sig=A", "sig=", 1),
		good + strings.Repeat(" ", 600),
	} {
		if _, err := proofgrid.ParseRequestSignature(h); err == nil {
			t.Errorf("accepted %q", h)
		}
	}
}

// FuzzParseRequestSignature checks that the parser never panics and that
// whatever it accepts formats back to a header with the same meaning.
func FuzzParseRequestSignature(f *testing.F) {
	f.Add("key=m, ts=1, nonce=00112233445566778899aabbccddeeff, sig=" + strings.Repeat("A", 86))
	f.Add("key=, ts=, nonce=, sig=")
	f.Add("key=a,key=b")
	f.Fuzz(func(t *testing.T, h string) {
		s, err := proofgrid.ParseRequestSignature(h)
		if err != nil {
			return
		}
		again, err := proofgrid.ParseRequestSignature(s.String())
		if err != nil {
			t.Fatalf("formatted header %q not accepted: %v", s.String(), err)
		}
		if again.KeyID != s.KeyID || again.Timestamp != s.Timestamp || again.Nonce != s.Nonce || string(again.Signature) != string(s.Signature) {
			t.Fatalf("round trip changed %+v to %+v", s, again)
		}
	})
}
