package zkvm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// forgedDemo is a demo proof that declares steps hashes in one segment,
// with a made-up final hash: 100 bytes that cost a verifier every step.
func forgedDemo(t *testing.T, block uint64, hash [32]byte, steps uint64) []byte {
	t.Helper()
	b, err := (&DemoProof{BlockNumber: block, BlockHash: hash, Steps: steps, CheckpointEvery: steps, Final: testHash(99)}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != demoMinLen {
		t.Fatalf("forged proof is %d bytes, want %d", len(b), demoMinLen)
	}
	return b
}

func TestDemoSteps(t *testing.T) {
	b := forgedDemo(t, 1, testHash(1), MaxDemoSteps)
	if s, err := DemoSteps(b); err != nil || s != MaxDemoSteps {
		t.Fatalf("DemoSteps = %d %v, want %d", s, err, MaxDemoSteps)
	}
	for name, bad := range map[string][]byte{
		"short":   b[:demoMinLen-1],
		"magic":   append([]byte("XXDEMO1"), b[7:]...),
		"version": append(append([]byte(DemoMagic), 9), b[8:]...),
	} {
		if _, err := DemoSteps(bad); err == nil {
			t.Errorf("%s: DemoSteps accepted it", name)
		}
	}
}

// TestDemoVerifierMaxSteps: a 100-byte proof that claims the encoding's
// largest chain (about 35 s of one core) is answered at once.
func TestDemoVerifierMaxSteps(t *testing.T) {
	hash := testHash(3)
	v := DemoVerifier{MaxSteps: 1 << 16, Timeout: time.Minute}
	start := time.Now()
	got, err := v.Verify(context.Background(), forgedDemo(t, 7, hash, MaxDemoSteps), 7, hash)
	if err != nil || got.Outcome != OutcomeCannotVerify || got.Reason != "proof declares 100000000 steps, above this verifier's limit of 65536" {
		t.Fatalf("Verify = %+v %v", got, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("refusing took %v: the chain was walked", d)
	}
	// The default limit applies when MaxSteps is zero.
	got, _ = DemoVerifier{}.Verify(context.Background(), forgedDemo(t, 7, hash, DefaultVerifyMaxSteps+1), 7, hash)
	if got.Outcome != OutcomeCannotVerify || !strings.Contains(got.Reason, "above this verifier's limit") {
		t.Fatalf("default limit: %+v", got)
	}
	// A proof for another block is invalid, whatever it declares.
	got, _ = v.Verify(context.Background(), forgedDemo(t, 8, hash, MaxDemoSteps), 7, hash)
	if got.Outcome != OutcomeInvalid {
		t.Fatalf("wrong block over the limit: %+v", got)
	}
	// Within the limit, proofs are checked as before.
	in := DemoInput{BlockNumber: 7, BlockHash: hash, Steps: 1 << 16}
	proof, _, err := ProveDemo(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.Verify(context.Background(), proof, 7, hash); err != nil || got.Outcome != OutcomeValid {
		t.Fatalf("honest proof at the limit: %+v %v", got, err)
	}
	if got, _ := v.Verify(context.Background(), forgedDemo(t, 7, hash, 1<<10), 7, hash); got.Outcome != OutcomeInvalid {
		t.Fatalf("forged proof within the limit: %+v", got)
	}
}

// TestDemoVerifierTimeout: a check that runs past the timeout ends with a
// final cannot_verify, while a context that ends is an error to retry.
func TestDemoVerifierTimeout(t *testing.T) {
	hash := testHash(4)
	// Over a second of hashing on one core, far beyond the timeout.
	proof := forgedDemo(t, 9, hash, 4_000_000)
	v := DemoVerifier{MaxSteps: MaxDemoSteps, Timeout: 50 * time.Millisecond}
	start := time.Now()
	got, err := v.Verify(context.Background(), proof, 9, hash)
	if err != nil || got.Outcome != OutcomeCannotVerify || got.Reason != "verification exceeded 0.05 s" {
		t.Fatalf("Verify = %+v %v", got, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the timeout of 50ms ended the check after %v", d)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	v.Timeout = time.Minute
	if got, err := v.Verify(ctx, proof, 9, hash); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("caller's deadline: verdict %+v, err %v, want context.DeadlineExceeded", got, err)
	}
}
