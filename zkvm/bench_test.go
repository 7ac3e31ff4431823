package zkvm

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkKeccakRaw is the baseline: one Keccak-256 of 32 bytes, the unit
// of work of the demo chain.
func BenchmarkKeccakRaw(b *testing.B) {
	k := newKeccak()
	var h [32]byte
	b.ReportAllocs()
	for b.Loop() {
		k.next(&h)
	}
}

var rawHash struct {
	once sync.Once
	ns   float64
}

// rawHashNs measures the baseline once per run, so the demo benchmarks can
// report their cost as a ratio to it, measured on the same machine in the
// same run. The best of a few rounds filters out scheduling noise.
func rawHashNs() float64 {
	rawHash.once.Do(func() {
		const n = 1 << 18
		k := newKeccak()
		var h [32]byte
		best := time.Duration(1<<63 - 1)
		for range 5 {
			start := time.Now()
			for range n {
				k.next(&h)
			}
			best = min(best, time.Since(start))
		}
		rawHash.ns = float64(best.Nanoseconds()) / n
	})
	return rawHash.ns
}

// reportPerStep reports the wall time per chain step and its ratio to one
// raw hash: about 1 for proving, about 1/workers for verifying.
func reportPerStep(b *testing.B, steps uint64) {
	raw := rawHashNs()
	perStep := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(steps)
	b.ReportMetric(perStep, "ns/step")
	b.ReportMetric(perStep/raw, "x_raw")
}

func BenchmarkDemoProve(b *testing.B) {
	const steps, every = 1 << 16, 1 << 8
	in := DemoInput{BlockNumber: 21000000, BlockHash: testHash(7), Steps: steps, CheckpointEvery: every}
	rawHashNs()
	ctx := context.Background()
	for b.Loop() {
		if _, _, err := ProveDemo(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	reportPerStep(b, steps)
}

func BenchmarkDemoVerify(b *testing.B) {
	const steps, every = 1 << 18, 1 << 8 // 1024 segments
	proof, _, err := ProveDemo(context.Background(), DemoInput{BlockNumber: 21000000, BlockHash: testHash(7), Steps: steps, CheckpointEvery: every})
	if err != nil {
		b.Fatal(err)
	}
	rawHashNs()
	counts := []int{1, 2, 4}
	if n := runtime.GOMAXPROCS(0); n > 4 {
		counts = append(counts, n)
	}
	for _, workers := range counts {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				v, err := VerifyDemo(ctx, proof, 21000000, testHash(7), workers)
				if err != nil || v.Outcome != OutcomeValid {
					b.Fatalf("%+v, %v", v, err)
				}
			}
			reportPerStep(b, steps)
		})
	}
}
