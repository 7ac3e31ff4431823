package zkvm

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/proofgrid/proofgrid"
)

func TestKeccakIsLegacyKeccak256(t *testing.T) {
	// Known answers of Ethereum's Keccak-256, which differ from SHA3-256.
	tests := []struct{ in, want string }{
		{"", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"},
		{"abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"},
	}
	k := newKeccak()
	for _, tt := range tests {
		k.h.Reset()
		k.h.Write([]byte(tt.in))
		var got [32]byte
		k.digest(&got)
		if hex.EncodeToString(got[:]) != tt.want {
			t.Errorf("keccak256(%q) = %x, want %s", tt.in, got, tt.want)
		}
	}
	// next must agree with hashing the 32 bytes from scratch.
	var h [32]byte
	copy(h[:], "0123456789abcdef0123456789abcdef")
	k.h.Reset()
	k.h.Write(h[:])
	want := k.h.Sum(nil)
	k.next(&h)
	if !bytes.Equal(h[:], want) {
		t.Errorf("next = %x, want %x", h, want)
	}
}

func testHash(seed byte) [32]byte {
	var h [32]byte
	for i := range h {
		h[i] = seed + byte(i)
	}
	return h
}

// goldenDemo is a small proof whose bytes are fixed by the published
// encoding: block 1234, hash 0x00..1f, 10 steps, a checkpoint every 3. Any
// change to it breaks the verifiers written against that encoding.
const goldenDemo = "" +
	"504744454d4f31" + // magic PGDEMO1
	"01" + // version
	"00000000000004d2" + // block number 1234
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" + // block hash
	"000000000000000a" + // steps 10
	"0000000000000003" + // checkpoint interval 3
	"00000003" + // checkpoint count 3
	"1bfd288a8270ea5edcc45c31a43452502db7b29bb0269829f7716aaabf6717bc" + // c_1 = h_3
	"7d1b36c22abc2a8eed78d8a614c32756d95d549ff960661f651ab1e09d37f1fe" + // c_2 = h_6
	"f3a64daf55e43787de83131daa289a4ee75f6703d24007646f81c308b34bab9f" + // c_3 = h_9
	"defd75a3fcf2a3461646bddad0f3806982a0bcdc6f354045746346d930f30cc5" // final hash h_10

func TestDemoGolden(t *testing.T) {
	proof, stats, err := ProveDemo(context.Background(), DemoInput{BlockNumber: 1234, BlockHash: testHash(0), Steps: 10, CheckpointEvery: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(proof); got != goldenDemo {
		t.Fatalf("proof = %s\nwant    %s", got, goldenDemo)
	}
	if len(proof) != 100+32*3 {
		t.Errorf("len = %d, want %d", len(proof), 100+32*3)
	}
	if stats.Cycles != 10 {
		t.Errorf("cycles = %d, want 10", stats.Cycles)
	}
}

func TestDemoProveVerifyRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	for i := range 12 {
		var hash [32]byte
		for j := range hash {
			hash[j] = byte(rng.UintN(256))
		}
		in := DemoInput{
			BlockNumber:     rng.Uint64(),
			BlockHash:       hash,
			Steps:           1 + rng.Uint64N(2000),
			CheckpointEvery: 1 + rng.Uint64N(300),
		}
		proof, stats, err := ProveDemo(ctx, in)
		if err != nil {
			t.Fatalf("%+v: %v", in, err)
		}
		if stats.Cycles != in.Steps {
			t.Errorf("cycles = %d, want %d", stats.Cycles, in.Steps)
		}
		for _, workers := range []int{0, 1, 3, 64} {
			v, err := VerifyDemo(ctx, proof, in.BlockNumber, in.BlockHash, workers)
			if err != nil || v.Outcome != OutcomeValid {
				t.Fatalf("case %d, %d workers: verdict %+v, %v", i, workers, v, err)
			}
		}
		wrongHash := hash
		wrongHash[rng.IntN(32)] ^= 1
		if v, _ := VerifyDemo(ctx, proof, in.BlockNumber, wrongHash, 2); v.Outcome != OutcomeInvalid || !strings.Contains(v.Reason, "block hash") {
			t.Errorf("wrong hash: %+v", v)
		}
		if v, _ := VerifyDemo(ctx, proof, in.BlockNumber+1, hash, 2); v.Outcome != OutcomeInvalid || !strings.Contains(v.Reason, "block") {
			t.Errorf("wrong block: %+v", v)
		}
	}
}

func TestDemoTamperedHashes(t *testing.T) {
	ctx := context.Background()
	const steps, every = 40, 7 // checkpoints c_1..c_5, six segments
	proof, _, err := ProveDemo(ctx, DemoInput{BlockNumber: 7, BlockHash: testHash(9), Steps: steps, CheckpointEvery: every})
	if err != nil {
		t.Fatal(err)
	}
	k := int((steps - 1) / every)
	for off := demoHeaderLen; off < len(proof); off++ {
		bad := bytes.Clone(proof)
		bad[off] ^= 0x80
		v, err := VerifyDemo(ctx, bad, 7, testHash(9), 4)
		if err != nil {
			t.Fatal(err)
		}
		// Byte off lies in checkpoint c_{i+1} (or the final hash when
		// i == k), the end of segment i: segment i is the lowest to fail.
		i := (off - demoHeaderLen) / 32
		want := "segment " + strconv.Itoa(i) + " "
		if v.Outcome != OutcomeInvalid || !strings.HasPrefix(v.Reason, want) {
			t.Fatalf("flipped byte %d (segment %d of %d): %+v", off, i, k, v)
		}
	}
}

func TestDemoMalformed(t *testing.T) {
	ctx := context.Background()
	proof, _, err := ProveDemo(ctx, DemoInput{BlockNumber: 5, BlockHash: testHash(1), Steps: 100, CheckpointEvery: 10})
	if err != nil {
		t.Fatal(err)
	}
	header := func(steps, every uint64, k uint32) []byte {
		b := bytes.Clone(proof[:demoHeaderLen])
		binary.BigEndian.PutUint64(b[48:], steps)
		binary.BigEndian.PutUint64(b[56:], every)
		binary.BigEndian.PutUint32(b[64:], k)
		return b
	}
	withTail := func(b []byte, n int) []byte { return append(b, make([]byte, n)...) }
	tests := map[string][]byte{
		"nil":             nil,
		"short":           proof[:demoMinLen-1],
		"truncated":       proof[:len(proof)-1],
		"trailing byte":   append(bytes.Clone(proof), 0),
		"bad magic":       append([]byte("PGDEMO2"), proof[7:]...),
		"bad version":     append(append(bytes.Clone(proof[:7]), 2), proof[8:]...),
		"zero steps":      withTail(header(0, 10, 0), 32),
		"zero interval":   withTail(header(100, 0, 0), 32),
		"too many steps":  withTail(header(MaxDemoSteps+1, MaxDemoSteps+1, 0), 32),
		"count mismatch":  withTail(header(100, 10, 8), 32*9),
		"too many checks": withTail(header(MaxDemoCheckpoints+2, 1, MaxDemoCheckpoints+1), 32*(MaxDemoCheckpoints+2)),
		// A hostile header claiming 2^32-1 checkpoints must be refused
		// from its length, before anything is allocated for them.
		"huge count": withTail(header(100, 10, 1<<32-1), 32),
	}
	for name, b := range tests {
		v, err := VerifyDemo(ctx, b, 5, testHash(1), 2)
		if err != nil {
			t.Errorf("%s: error %v, want invalid verdict", name, err)
		}
		if v.Outcome != OutcomeInvalid || !strings.HasPrefix(v.Reason, "malformed proof") {
			t.Errorf("%s: %+v", name, v)
		}
	}
	// The limits themselves are allowed.
	edge := withTail(header(MaxDemoSteps, MaxDemoSteps, 0), 32)
	var p DemoProof
	if err := p.UnmarshalBinary(edge); err != nil {
		t.Errorf("MaxDemoSteps in one segment: %v", err)
	}
	edge = withTail(header(MaxDemoCheckpoints+1, 1, MaxDemoCheckpoints), 32*(MaxDemoCheckpoints+1))
	if err := p.UnmarshalBinary(edge); err != nil {
		t.Errorf("MaxDemoCheckpoints: %v", err)
	}
}

func TestDemoProofBinaryRoundTrip(t *testing.T) {
	proof, _, err := ProveDemo(context.Background(), DemoInput{BlockNumber: 99, BlockHash: testHash(3), Steps: 1000, CheckpointEvery: 64})
	if err != nil {
		t.Fatal(err)
	}
	var p DemoProof
	if err := p.UnmarshalBinary(proof); err != nil {
		t.Fatal(err)
	}
	if p.BlockNumber != 99 || p.BlockHash != testHash(3) || p.Steps != 1000 || p.CheckpointEvery != 64 || len(p.Checkpoints) != 15 {
		t.Fatalf("decoded %+v", p)
	}
	again, err := p.MarshalBinary()
	if err != nil || !bytes.Equal(again, proof) {
		t.Fatalf("re-encoded differs (%v)", err)
	}
	p.Checkpoints = p.Checkpoints[1:]
	if _, err := p.MarshalBinary(); err == nil {
		t.Error("MarshalBinary accepted a wrong checkpoint count")
	}
}

func TestProveDemoDefaultsAndLimits(t *testing.T) {
	tests := []struct {
		in           DemoInput
		steps, every uint64
	}{
		{DemoInput{}, DefaultDemoSteps, DefaultDemoSteps / DefaultDemoSegments},
		{DemoInput{Steps: 10}, 10, 1},
		{DemoInput{Steps: 5000}, 5000, 5},
		{DemoInput{Steps: 5000, CheckpointEvery: 7}, 5000, 7},
		{DemoInput{CheckpointEvery: 3}, DefaultDemoSteps, 3},
	}
	for _, tt := range tests {
		steps, every := demoParams(tt.in)
		if steps != tt.steps || every != tt.every {
			t.Errorf("demoParams(%+v) = %d, %d; want %d, %d", tt.in, steps, every, tt.steps, tt.every)
		}
	}
	// Defaults cut a chain into DefaultDemoSegments segments at most.
	for _, s := range []uint64{1, 1023, 1024, 1025, DefaultDemoSteps, MaxDemoSteps} {
		steps, every := demoParams(DemoInput{Steps: s})
		if segs := demoCheckpointCount(steps, every) + 1; segs > DefaultDemoSegments {
			t.Errorf("%d steps: %d segments", s, segs)
		}
	}

	ctx := context.Background()
	for name, in := range map[string]DemoInput{
		"too many steps":       {Steps: MaxDemoSteps + 1},
		"too many checkpoints": {Steps: MaxDemoCheckpoints + 2, CheckpointEvery: 1},
	} {
		_, _, err := ProveDemo(ctx, in)
		if proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
}

func TestProveDemoProgressAndCancel(t *testing.T) {
	var calls, last atomic.Uint64
	_, _, err := ProveDemo(context.Background(), DemoInput{
		BlockHash: testHash(4), Steps: progressEvery + 5,
		Progress: func(done, total uint64) {
			calls.Add(1)
			if total != progressEvery+5 || done < last.Load() {
				t.Errorf("progress %d/%d after %d", done, total, last.Load())
			}
			last.Store(done)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || last.Load() != progressEvery+5 {
		t.Errorf("%d progress calls ending at %d, want 2 ending at total", calls.Load(), last.Load())
	}

	ctx, cancel := context.WithCancel(context.Background())
	_, _, err = ProveDemo(ctx, DemoInput{BlockHash: testHash(4), Steps: MaxDemoSteps, CheckpointEvery: MaxDemoSteps,
		Progress: func(done, _ uint64) {
			if done >= progressEvery {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestVerifyDemoCancel(t *testing.T) {
	proof, _, err := ProveDemo(context.Background(), DemoInput{BlockHash: testHash(5), Steps: 1 << 10, CheckpointEvery: 1 << 6})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v, err := VerifyDemo(ctx, proof, 0, testHash(5), 4)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("verdict %+v, err %v, want context.Canceled", v, err)
	}
}
