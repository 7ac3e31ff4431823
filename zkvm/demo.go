package zkvm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proofgrid/proofgrid"
)

// The demo backend proves that its holder spent a known amount of
// sequential work on a block: it walks a Keccak-256 hash chain seeded by the
// block, and records checkpoints along the way. Proving is sequential by
// construction (each hash needs the previous one); verifying is not, because
// the checkpoints cut the chain into segments that can be recomputed
// independently. It stands in for a zkVM where none is installed, so that a
// development fleet proves and verifies something real end to end.
//
// # Chain
//
// Keccak-256 below is the original Keccak with padding byte 0x01, as used by
// Ethereum (keccak256("") = c5d24601...5d85a470), not FIPS-202 SHA3-256.
//
//	h_0     = Keccak-256(DemoDomain || n || B)   n: block number, 8 bytes big-endian
//	                                             B: block hash, 32 bytes
//	h_{i+1} = Keccak-256(h_i)                    32-byte input
//
// DemoDomain is the 17 ASCII bytes "proofgrid/demo/v1" with no terminator.
//
// # Encoding (version 1)
//
// All integers are unsigned big-endian; there is nothing between or after
// the fields.
//
//	offset    size  field
//	0         7     magic, ASCII "PGDEMO1"
//	7         1     version, 0x01
//	8         8     n, block number
//	16        32    B, block hash
//	48        8     S, steps: 1 <= S <= MaxDemoSteps
//	56        8     E, checkpoint interval: E >= 1
//	64        4     K, checkpoint count: K = floor((S-1)/E), K <= MaxDemoCheckpoints
//	68        32*K  checkpoints c_1..c_K, where c_k = h_{k*E}
//	68+32*K   32    final hash, h_S
//
// A proof is therefore exactly 100 + 32*K bytes long.
//
// # Verification
//
// A verifier checks that the magic, version, n and B are the expected ones,
// that S, E and K obey the bounds above, and that the length is exact. It
// then checks the K+1 segments, in any order or in parallel: segment j
// (0 <= j <= K) starts at h_0 when j = 0 and at c_j otherwise, applies
// Keccak-256 min(E, S - j*E) times, and must land on c_{j+1} when j < K and
// on the final hash when j = K. The proof is valid when every segment holds.
// The bounds cap the work (S hashes) and the memory (K checkpoints) that any
// proof, hostile ones included, can demand from a verifier.
const (
	// DemoMagic opens every demo proof.
	DemoMagic = "PGDEMO1"
	// DemoVersion is the encoding version this package writes and reads.
	DemoVersion = 1
	// DemoDomain separates the demo chain's seed from any other use of
	// Keccak-256 over a block number and hash.
	DemoDomain = "proofgrid/demo/v1"

	// MaxDemoSteps bounds S, the hashes a proof may ask a verifier to redo.
	MaxDemoSteps = 100_000_000
	// MaxDemoCheckpoints bounds K, and with it a proof's size (about 3.2 MB).
	MaxDemoCheckpoints = 100_000

	// DefaultDemoSteps is the chain length when DemoInput.Steps is zero:
	// under half a second of hashing on a current x86 core.
	DefaultDemoSteps = 1 << 20
	// DefaultDemoSegments is how many segments the chain is cut into when
	// DemoInput.CheckpointEvery is zero. It bounds how many verifier
	// workers can help, so it is set well above common core counts.
	DefaultDemoSegments = 1024

	demoHeaderLen = 68
	demoMinLen    = demoHeaderLen + 32

	// ctxCheckEvery is how many hashes run between looks at the context
	// (and, when verifying, at the other workers): about a millisecond.
	ctxCheckEvery = 1 << 12
	// progressEvery is how many hashes run between progress reports.
	progressEvery = 1 << 16
)

// ProgressFunc receives progress reports: done of total units of work.
type ProgressFunc func(done, total uint64)

// Stats describes the work behind one proof.
type Stats struct {
	// Cycles is the zkVM's cycle count as the prover reports it; for the
	// demo backend it is the number of chain hashes (steps).
	Cycles uint64 `json:"cycles"`
	// Duration is the proving time: the prover's own figure where it
	// reports one, the measured time otherwise.
	Duration time.Duration `json:"duration_ns"`
}

// DemoInput is what the demo backend proves.
type DemoInput struct {
	BlockNumber uint64
	BlockHash   [32]byte
	// Steps is the chain length S; zero means DefaultDemoSteps.
	Steps uint64
	// CheckpointEvery is the checkpoint interval E; zero means the chain
	// is cut into DefaultDemoSegments segments (or fewer, for short ones).
	CheckpointEvery uint64
	// Progress, when set, is called from the proving goroutine every
	// 65,536 steps and once at the end with done == total. It must be
	// quick: proving waits for it.
	Progress ProgressFunc
}

// DemoProof is the decoded form of a demo proof.
type DemoProof struct {
	BlockNumber     uint64
	BlockHash       [32]byte
	Steps           uint64
	CheckpointEvery uint64
	// Checkpoints holds c_1..c_K.
	Checkpoints [][32]byte
	Final       [32]byte
}

// demoCheckpointCount returns K for S steps at interval E (both >= 1).
func demoCheckpointCount(steps, every uint64) uint64 { return (steps - 1) / every }

// checkDemoParams applies the bounds of the encoding to S and E.
func checkDemoParams(steps, every uint64) error {
	switch {
	case steps == 0:
		return errors.New("steps must be at least 1")
	case steps > MaxDemoSteps:
		return fmt.Errorf("steps %d above the limit of %d", steps, MaxDemoSteps)
	case every == 0:
		return errors.New("checkpoint interval must be at least 1")
	}
	if k := demoCheckpointCount(steps, every); k > MaxDemoCheckpoints {
		return fmt.Errorf("%d steps every %d make %d checkpoints, above the limit of %d", steps, every, k, MaxDemoCheckpoints)
	}
	return nil
}

// MarshalBinary encodes p as a version 1 demo proof. It fails when p breaks
// the bounds of the encoding or its checkpoint count does not match S and E.
func (p *DemoProof) MarshalBinary() ([]byte, error) {
	if err := checkDemoParams(p.Steps, p.CheckpointEvery); err != nil {
		return nil, fmt.Errorf("zkvm: demo proof: %w", err)
	}
	k := demoCheckpointCount(p.Steps, p.CheckpointEvery)
	if uint64(len(p.Checkpoints)) != k {
		return nil, fmt.Errorf("zkvm: demo proof: %d checkpoints, want %d", len(p.Checkpoints), k)
	}
	b := make([]byte, demoMinLen+32*int(k))
	putDemoHeader(b, p.BlockNumber, p.BlockHash, p.Steps, p.CheckpointEvery)
	for i := range p.Checkpoints {
		copy(b[demoHeaderLen+32*i:], p.Checkpoints[i][:])
	}
	copy(b[len(b)-32:], p.Final[:])
	return b, nil
}

func putDemoHeader(b []byte, blockNumber uint64, blockHash [32]byte, steps, every uint64) {
	copy(b, DemoMagic)
	b[7] = DemoVersion
	binary.BigEndian.PutUint64(b[8:], blockNumber)
	copy(b[16:48], blockHash[:])
	binary.BigEndian.PutUint64(b[48:], steps)
	binary.BigEndian.PutUint64(b[56:], every)
	binary.BigEndian.PutUint32(b[64:], uint32(demoCheckpointCount(steps, every)))
}

// UnmarshalBinary decodes a version 1 demo proof, checking its structure
// and bounds but not its hashes (VerifyDemo does that). The length is
// checked before anything is allocated, so hostile input costs at most
// MaxDemoCheckpoints checkpoints of memory.
func (p *DemoProof) UnmarshalBinary(b []byte) error {
	if len(b) < demoMinLen {
		return fmt.Errorf("proof is %d bytes, shorter than the minimum of %d", len(b), demoMinLen)
	}
	if !bytes.Equal(b[:7], []byte(DemoMagic)) {
		return errors.New("bad magic: not a demo proof")
	}
	if b[7] != DemoVersion {
		return fmt.Errorf("unsupported version %d", b[7])
	}
	steps := binary.BigEndian.Uint64(b[48:])
	every := binary.BigEndian.Uint64(b[56:])
	if err := checkDemoParams(steps, every); err != nil {
		return err
	}
	k := binary.BigEndian.Uint32(b[64:])
	if want := demoCheckpointCount(steps, every); uint64(k) != want {
		return fmt.Errorf("checkpoint count %d, want %d for %d steps every %d", k, want, steps, every)
	}
	if want := demoMinLen + 32*int(k); len(b) != want {
		return fmt.Errorf("proof is %d bytes, want %d for %d checkpoints", len(b), want, k)
	}
	*p = DemoProof{
		BlockNumber:     binary.BigEndian.Uint64(b[8:]),
		Steps:           steps,
		CheckpointEvery: every,
		Checkpoints:     make([][32]byte, k),
	}
	copy(p.BlockHash[:], b[16:48])
	for i := range p.Checkpoints {
		copy(p.Checkpoints[i][:], b[demoHeaderLen+32*i:])
	}
	copy(p.Final[:], b[len(b)-32:])
	return nil
}

// demoParams resolves the defaults of S and E.
func demoParams(in DemoInput) (steps, every uint64) {
	steps, every = in.Steps, in.CheckpointEvery
	if steps == 0 {
		steps = DefaultDemoSteps
	}
	if every == 0 {
		every = max(1, (steps+DefaultDemoSegments-1)/DefaultDemoSegments)
	}
	return steps, every
}

// ProveDemo walks the demo hash chain for in and returns the encoded proof.
// Stats.Cycles is the number of steps. It returns ctx's error, wrapped, when
// ctx ends first, and a *proofgrid.Error with code EINVALID when in breaks
// the bounds of the encoding.
func ProveDemo(ctx context.Context, in DemoInput) ([]byte, Stats, error) {
	start := time.Now()
	steps, every := demoParams(in)
	if err := checkDemoParams(steps, every); err != nil {
		return nil, Stats{}, proofgrid.Errorf(proofgrid.EINVALID, "demo proof: %v", err)
	}
	k := demoCheckpointCount(steps, every)
	out := make([]byte, demoMinLen+32*int(k))
	putDemoHeader(out, in.BlockNumber, in.BlockHash, steps, every)

	kc := newKeccak()
	var h [32]byte
	kc.seed(&h, in.BlockNumber, in.BlockHash)
	var done uint64
	for j := uint64(0); j <= k; j++ {
		n := min(every, steps-j*every)
		for n > 0 {
			// Chunks end on multiples of ctxCheckEvery, so the context
			// is checked at a steady pace whatever the interval E.
			chunk := min(n, ctxCheckEvery-done%ctxCheckEvery)
			for range chunk {
				kc.next(&h)
			}
			n -= chunk
			done += chunk
			if done%ctxCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					return nil, Stats{}, fmt.Errorf("zkvm: demo proof of block %d stopped at step %d: %w", in.BlockNumber, done, err)
				}
				if in.Progress != nil && done%progressEvery == 0 && done != steps {
					in.Progress(done, steps)
				}
			}
		}
		if j < k {
			copy(out[demoHeaderLen+32*int(j):], h[:])
		}
	}
	copy(out[len(out)-32:], h[:])
	if in.Progress != nil {
		in.Progress(steps, steps)
	}
	return out, Stats{Cycles: steps, Duration: time.Since(start)}, nil
}

// DemoSteps returns S, the number of steps a demo proof declares, reading
// only its header: it costs nothing whatever S says, so a coordinator can
// refuse a proof that asks for too much work before storing or verifying
// it. It fails when b does not start like a version 1 demo proof; the other
// checks of the encoding are UnmarshalBinary's.
func DemoSteps(b []byte) (uint64, error) {
	switch {
	case len(b) < demoMinLen:
		return 0, fmt.Errorf("proof is %d bytes, shorter than the minimum of %d", len(b), demoMinLen)
	case !bytes.Equal(b[:7], []byte(DemoMagic)):
		return 0, errors.New("bad magic: not a demo proof")
	case b[7] != DemoVersion:
		return 0, fmt.Errorf("unsupported version %d", b[7])
	}
	return binary.BigEndian.Uint64(b[48:]), nil
}

// DemoVerifier verifies demo proofs within the limits a coordinator sets
// on the work one proof may cost it. The encoding's own bounds
// (MaxDemoSteps) are far above what a shared verifier should spend on a
// proof of a few hundred bytes: a proof whose checkpoints are few must be
// checked mostly on one core, about 35 s at the bound.
type DemoVerifier struct {
	// Workers is the parallelism of one verification; zero or less means
	// GOMAXPROCS.
	Workers int
	// MaxSteps caps S: a proof that declares more steps gets
	// OutcomeCannotVerify without a single hash being computed. Zero
	// means DefaultVerifyMaxSteps.
	MaxSteps uint64
	// Timeout bounds one verification; past it the proof gets
	// OutcomeCannotVerify (see TimeoutReason). Zero means
	// DefaultVerifyTimeout.
	Timeout time.Duration
}

// Verify checks a demo proof like VerifyDemo, within v's limits. A proof
// that is malformed or for another block is OutcomeInvalid whatever it
// declares; one above MaxSteps, or whose check runs past Timeout, is
// OutcomeCannotVerify with the reason. The error is non-nil only when ctx
// (not the timeout) ends before the answer is known.
func (v DemoVerifier) Verify(ctx context.Context, proof []byte, blockNumber uint64, blockHash [32]byte) (Verdict, error) {
	start := time.Now()
	var p DemoProof
	if verdict, ok := checkDemo(&p, proof, blockNumber, blockHash, start); !ok {
		return verdict, nil
	}
	if limit := orDefault(v.MaxSteps, DefaultVerifyMaxSteps); p.Steps > limit {
		return Verdict{Outcome: OutcomeCannotVerify, Reason: fmt.Sprintf("proof declares %d steps, above this verifier's limit of %d", p.Steps, limit),
			Duration: time.Since(start)}, nil
	}
	timeout := orDefault(v.Timeout, DefaultVerifyTimeout)
	vctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	verdict, err := verifyDemo(vctx, &p, v.Workers, start)
	if err != nil && ctx.Err() == nil && errors.Is(vctx.Err(), context.DeadlineExceeded) {
		return Verdict{Outcome: OutcomeCannotVerify, Reason: TimeoutReason(timeout), Duration: time.Since(start)}, nil
	}
	return verdict, err
}

// VerifyDemo checks a demo proof against the block it should prove,
// recomputing its segments on workers goroutines (zero or less means
// GOMAXPROCS), so that S steps take about S/workers hash times when the
// proof has at least that many segments.
//
// Every defect of the proof, malformed bytes included, gives OutcomeInvalid
// with the reason; a failing segment is named by its index j, the lowest
// failing one. The error is non-nil only when ctx ends before the answer is
// known.
func VerifyDemo(ctx context.Context, proof []byte, blockNumber uint64, blockHash [32]byte, workers int) (Verdict, error) {
	start := time.Now()
	var p DemoProof
	if verdict, ok := checkDemo(&p, proof, blockNumber, blockHash, start); !ok {
		return verdict, nil
	}
	return verifyDemo(ctx, &p, workers, start)
}

// checkDemo decodes proof into p and checks that it is for the expected
// block. When it is not, ok is false and verdict says why.
func checkDemo(p *DemoProof, proof []byte, blockNumber uint64, blockHash [32]byte, start time.Time) (verdict Verdict, ok bool) {
	invalid := func(format string, args ...any) (Verdict, bool) {
		return Verdict{Outcome: OutcomeInvalid, Reason: fmt.Sprintf(format, args...), Duration: time.Since(start)}, false
	}
	if err := p.UnmarshalBinary(proof); err != nil {
		return invalid("malformed proof: %v", err)
	}
	if p.BlockNumber != blockNumber {
		return invalid("proof is for block %d, want block %d", p.BlockNumber, blockNumber)
	}
	if p.BlockHash != blockHash {
		return invalid("proof is for block hash 0x%x, want 0x%x", p.BlockHash, blockHash)
	}
	return Verdict{}, true
}

// verifyDemo recomputes the segments of a decoded proof whose block was
// checked already.
func verifyDemo(ctx context.Context, p *DemoProof, workers int, start time.Time) (Verdict, error) {
	segments := uint64(len(p.Checkpoints)) + 1
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = int(min(uint64(workers), segments))

	var h0 [32]byte
	newKeccak().seed(&h0, p.BlockNumber, p.BlockHash)

	// Segments are handed out in increasing order and failed holds the
	// lowest failing index seen so far (segments when none). A worker drops
	// a segment above it, but segments below it always finish, so the
	// index reported is the lowest failing one whatever the scheduling.
	var next atomic.Uint64
	var failed atomic.Uint64
	failed.Store(segments)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			kc := newKeccak()
			for {
				j := next.Add(1) - 1
				if j >= segments || j > failed.Load() || ctx.Err() != nil {
					return
				}
				if !verifySegment(ctx, kc, p, &h0, j, &failed) {
					lowerTo(&failed, j)
				}
			}
		})
	}
	wg.Wait()

	// Workers stop early once ctx ends, so a failure found by then may not
	// be the lowest one: the verdict is incomplete and not given.
	if err := ctx.Err(); err != nil {
		return Verdict{}, fmt.Errorf("zkvm: verifying demo proof of block %d: %w", p.BlockNumber, err)
	}
	if j := failed.Load(); j < segments {
		from := j * p.CheckpointEvery
		to := from + min(p.CheckpointEvery, p.Steps-from)
		return Verdict{Outcome: OutcomeInvalid, Reason: fmt.Sprintf("segment %d (steps %d to %d) does not reach its recorded hash", j, from, to),
			Duration: time.Since(start)}, nil
	}
	return Verdict{Outcome: OutcomeValid, Duration: time.Since(start)}, nil
}

// verifySegment recomputes segment j of p and reports whether it lands on
// its recorded hash. It gives up early, reporting true, when ctx ends or a
// lower segment has failed: its answer no longer matters then.
func verifySegment(ctx context.Context, kc *keccak, p *DemoProof, h0 *[32]byte, j uint64, failed *atomic.Uint64) bool {
	h := *h0
	if j > 0 {
		h = p.Checkpoints[j-1]
	}
	n := min(p.CheckpointEvery, p.Steps-j*p.CheckpointEvery)
	for n > 0 {
		chunk := min(n, ctxCheckEvery)
		for range chunk {
			kc.next(&h)
		}
		n -= chunk
		if n > 0 && (ctx.Err() != nil || failed.Load() < j) {
			return true
		}
	}
	want := p.Final
	if j < uint64(len(p.Checkpoints)) {
		want = p.Checkpoints[j]
	}
	return h == want
}

// lowerTo sets v to x when x is lower.
func lowerTo(v *atomic.Uint64, x uint64) {
	for {
		cur := v.Load()
		if x >= cur || v.CompareAndSwap(cur, x) {
			return
		}
	}
}
