package proofs

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/blob"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/rewards"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/zkvm"
)

// Verify runs the verifier of proof id's zkVM and records its outcome
// (valid, invalid or cannot_verify) and how long it took on the proof,
// and records the verification as a job of the coordinator in the same
// transaction. The coordinator's verification is the operator's
// bookkeeping: it is shown but earns nothing (rewards.SourceCoordinator). A proof
// that fails verification is only flagged by its outcome; nothing is
// deleted.
//
// It is the body of the proof:verify task and is idempotent: a proof
// verified already keeps its outcome, which Verify returns without
// running anything. The error is non-nil only for failures worth a retry
// (storage, the blob store, ctx ending mid-verification); an unknown or
// unproved proof is ENOTFOUND.
//
// Proof bytes the blob store does not have are such a failure
// (EUNAVAILABLE, wrapping ErrProofBytesMissing), not a verdict: the proof
// row names them, so they were stored, and a replica whose store does not
// show them (a store not shared between replicas, an S3 replica lagging)
// may see them on a later attempt. VerifyFinal is the attempt after which
// there is none.
//
// The work one proof may cost is bounded: a demo proof that declares more
// steps than Config.DemoVerifyMaxSteps, and any verification that runs
// past Config.VerifyTimeout (or its exec verifier's Timeout), get the
// final outcome cannot_verify with the reason. Final, because a retry
// would spend the same time again on a proof that may be built to waste
// it; cannot_verify rather than invalid, because nobody checked it.
func (s *Service) Verify(ctx context.Context, id int64) (zkvm.Verdict, error) {
	return s.verify(ctx, id, false)
}

// VerifyFinal is Verify for the last attempt of a proof:verify task: proof
// bytes still missing from the blob store are judged cannot_verify, with
// the reason, instead of failing the attempt, so that the proof leaves
// "pending". Like every cannot_verify it is shown, earns nothing and can
// be reverified by an operator once the bytes are back.
func (s *Service) VerifyFinal(ctx context.Context, id int64) (zkvm.Verdict, error) {
	return s.verify(ctx, id, true)
}

// ErrProofBytesMissing is wrapped by Verify's error when the blob store has
// no bytes under the proof's key.
var ErrProofBytesMissing = errors.New("the proof's bytes are missing from the blob store")

func (s *Service) verify(ctx context.Context, id int64, final bool) (zkvm.Verdict, error) {
	v, err := s.db.ProofView(ctx, id)
	if err != nil {
		return zkvm.Verdict{}, err
	}
	if v.Proof.Status != StateProved {
		return zkvm.Verdict{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "proof %d is not proved", id)
	}
	if v.Proof.Verification != nil {
		return storedVerdict(v.Proof), nil
	}
	start := s.now()
	verdict, err := s.runVerifier(ctx, v)
	if final && errors.Is(err, ErrProofBytesMissing) {
		verdict, err = cannotVerify("%v (the last attempt found none either)", ErrProofBytesMissing), nil
	}
	if err != nil {
		return zkvm.Verdict{}, err
	}
	end := s.now()
	ms := float64(verdict.Duration) / float64(time.Millisecond)
	jobID := queue.ProofVerifyID(id)
	team := v.Proof.TeamID
	err = s.db.InTx(ctx, func(tx *storage.Tx) error {
		if err := tx.SetProofVerification(ctx, id, string(verdict.Outcome), verdict.Reason, ms, end); err != nil {
			return err
		}
		_, err := s.cfg.Jobs.RecordJob(ctx, tx, rewards.Job{
			Key:         jobID,
			Source:      rewards.SourceCoordinator,
			Worker:      rewards.CoordinatorWorker,
			TeamID:      &team,
			Topic:       queue.TypeProofVerify,
			CircuitType: circuitType(v.ZKVM, v.ZKVMVersion),
			JobID:       jobID,
			Status:      storage.WorkerEventCompleted,
			Result:      string(verdict.Outcome),
			Error:       verdict.Reason,
			Start:       start,
			End:         end,
			DurationMS:  verdict.Duration.Milliseconds(),
		})
		return err
	})
	if err != nil {
		return zkvm.Verdict{}, fmt.Errorf("record verification of proof %d: %w", id, err)
	}
	if verdict.Outcome == zkvm.OutcomeInvalid {
		s.cfg.Logger.Warn("proof failed verification", "proof_id", id, "block_number", v.Proof.BlockNumber,
			"cluster_id", v.Cluster.ID, "reason", verdict.Reason)
	}
	return verdict, nil
}

func storedVerdict(p storage.Proof) zkvm.Verdict {
	var d time.Duration
	if p.VerificationMS != nil {
		d = time.Duration(*p.VerificationMS * float64(time.Millisecond))
	}
	return zkvm.Verdict{Outcome: zkvm.Outcome(*p.Verification), Reason: p.VerificationReason, Duration: d}
}

// unknownHashReason is the reason of a cannot_verify for a block whose hash
// was not known yet. It is not final: RecordBlock reopens the proofs of the
// block with this reason when the hash arrives.
func unknownHashReason(block int64) string {
	return fmt.Sprintf("the hash of block %d is not known yet", block)
}

// missingKeyReason is the reason of a cannot_verify for a vk_path that
// names no uploaded key yet. It is not final: PutVerificationKey reopens
// the team's proofs with this reason when the key arrives.
func missingKeyReason(vkPath string) string {
	return fmt.Sprintf("verification key %s not found: upload it with POST /api/v0/verification-keys/upload", vkPath)
}

func cannotVerify(format string, args ...any) zkvm.Verdict {
	return zkvm.Verdict{Outcome: zkvm.OutcomeCannotVerify, Reason: fmt.Sprintf(format, args...)}
}

// runVerifier picks the verifier of the proof's zkVM: the built-in one for
// the demo zkVM, the configured command for others, none otherwise.
func (s *Service) runVerifier(ctx context.Context, v storage.ProofView) (zkvm.Verdict, error) {
	exec, hasExec := s.cfg.Verifiers[v.ZKVM.Slug]
	if v.ZKVM.Slug != DemoZKVM && !hasExec {
		return cannotVerify("no verifier is configured for zkVM %s", v.ZKVM.Slug), nil
	}
	proof, err := blob.ReadAll(ctx, s.blobs, *v.Proof.BlobKey, s.cfg.MaxProofBytes)
	if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
		return zkvm.Verdict{}, fmt.Errorf("%w: %w",
			proofgrid.Errorf(proofgrid.EUNAVAILABLE, "proof %d: no bytes under key %s", v.Proof.ID, *v.Proof.BlobKey), ErrProofBytesMissing)
	} else if err != nil {
		return zkvm.Verdict{}, err
	}
	var hash [32]byte
	known := v.Block.Hash != nil
	if known {
		b, err := hex.DecodeString(strings.TrimPrefix(*v.Block.Hash, "0x"))
		if err != nil || len(b) != 32 {
			return cannotVerify("stored block hash %q is malformed", *v.Block.Hash), nil
		}
		copy(hash[:], b)
	}
	if v.ZKVM.Slug == DemoZKVM {
		if !known {
			return cannotVerify("%s", unknownHashReason(v.Proof.BlockNumber)), nil
		}
		demo := zkvm.DemoVerifier{Workers: s.cfg.DemoVerifyWorkers, MaxSteps: s.cfg.DemoVerifyMaxSteps, Timeout: s.cfg.VerifyTimeout}
		return demo.Verify(ctx, proof, uint64(v.Proof.BlockNumber), hash)
	}
	vkPath, cleanup, verdict, err := s.verificationKeyFile(ctx, v.Cluster.TeamID, v.ClusterVersion.VKPath)
	defer cleanup()
	if err != nil {
		return zkvm.Verdict{}, err
	}
	if verdict != nil {
		return *verdict, nil
	}
	return exec.Verify(ctx, zkvm.VerifyRequest{
		BlockNumber: uint64(v.Proof.BlockNumber),
		BlockHash:   hash,
		VKPath:      vkPath,
		Proof:       proof,
	})
}

// verificationKeyFile turns a cluster version's vk_path into a file an
// exec verifier can read: the key the cluster's team uploaded under that
// name is copied out of the blob store into a temporary file. Paths on the coordinator's own
// disk are not followed: a team sets vk_path, and a verifier quoting a
// file it was pointed at would show the file in the proof's reason. No
// path means no key (the verifier decides whether it needs one). A blob
// store that fails to answer is an error, retried like any other; only a
// key that is missing or over its cap is a verdict.
func (s *Service) verificationKeyFile(ctx context.Context, team int64, vkPath *string) (string, func(), *zkvm.Verdict, error) {
	noop := func() {}
	if vkPath == nil || *vkPath == "" {
		return "", noop, nil, nil
	}
	if !blob.ValidKey(vkBlobKey(team, *vkPath)) {
		v := cannotVerify("vk_path %q names no uploaded verification key", *vkPath)
		return "", noop, &v, nil
	}
	b, err := s.readVerificationKey(ctx, team, *vkPath)
	if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
		v := cannotVerify("%s", missingKeyReason(*vkPath))
		return "", noop, &v, nil
	} else if code := proofgrid.ErrorCode(err); code == proofgrid.EINTERNAL || code == proofgrid.EUNAVAILABLE {
		return "", noop, nil, fmt.Errorf("read verification key %s: %w", *vkPath, err)
	} else if err != nil {
		v := cannotVerify("cannot read the verification key: %v", err)
		return "", noop, &v, nil
	}
	dir, err := os.MkdirTemp("", "proofgrid-vk-")
	if err != nil {
		v := cannotVerify("cannot write the verification key: %v", err)
		return "", noop, &v, nil
	}
	cleanup := func() { os.RemoveAll(dir) }
	p := filepath.Join(dir, filepath.Base(*vkPath))
	if err := os.WriteFile(p, b, 0o600); err != nil {
		cleanup()
		v := cannotVerify("cannot write the verification key: %v", err)
		return "", noop, &v, nil
	}
	return p, cleanup, nil, nil
}
