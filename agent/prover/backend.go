package prover

import (
	"context"
	"errors"
	"time"

	"github.com/proofgrid/proofgrid/zkvm"
)

// Job is one block to prove.
type Job struct {
	BlockNumber uint64
	// BlockHash is the block's hash; the zero hash means unknown.
	BlockHash [32]byte
	// VKPath is the cluster version's verification key path, "" if none.
	VKPath string
	// RPCURL is the node the prover fetches the block and witness from.
	RPCURL string
}

// Result is one proof and the figures reported with it.
type Result struct {
	Proof []byte
	// ProvingTime is the time to generate the proof, as Ethproofs defines
	// it (witness generation included, data fetching excluded) when the
	// backend can tell, the measured time otherwise.
	ProvingTime time.Duration
	// Cycles is the zkVM's cycle count, 0 when unknown.
	Cycles uint64
}

// Backend proves blocks. It must honour ctx: an agent that stops cancels
// the job and puts it back in the queue.
type Backend interface {
	Prove(ctx context.Context, job Job) (Result, error)
}

// ErrUnknownHash is returned by backends that need the block hash when the
// coordinator does not know it yet; the job is retried later.
var ErrUnknownHash = errors.New("prover: the block's hash is not known yet")

// Demo is the built-in backend: the Keccak-256 hash chain of package zkvm,
// which the coordinator verifies itself. Steps sets the work per
// block (zkvm.DefaultDemoSteps when zero; 1 is the minimum).
type Demo struct {
	Steps           uint64
	CheckpointEvery uint64
}

// Prove walks the chain for the block.
func (d Demo) Prove(ctx context.Context, job Job) (Result, error) {
	if job.BlockHash == ([32]byte{}) {
		return Result{}, ErrUnknownHash
	}
	proof, st, err := zkvm.ProveDemo(ctx, zkvm.DemoInput{
		BlockNumber: job.BlockNumber, BlockHash: job.BlockHash, Steps: d.Steps, CheckpointEvery: d.CheckpointEvery,
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Proof: proof, ProvingTime: st.Duration, Cycles: st.Cycles}, nil
}

// Exec runs a real zkVM prover command per block (see zkvm.ExecProver
// for the placeholders, the environment and the result line).
type Exec struct {
	Prover zkvm.ExecProver
}

// Prove runs the command and reads back its proof.
func (e Exec) Prove(ctx context.Context, job Job) (Result, error) {
	res, err := e.Prover.Prove(ctx, zkvm.ProveRequest{
		BlockNumber: job.BlockNumber, BlockHash: job.BlockHash, RPCURL: job.RPCURL, VKPath: job.VKPath,
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Proof: res.Proof, ProvingTime: res.Stats.Duration, Cycles: res.Stats.Cycles}, nil
}
