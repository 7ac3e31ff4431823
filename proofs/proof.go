package proofs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/rewards"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/zkvm"
)

// Reporter is who reports on a proof: a team through one of its API keys,
// or one of its prover agents through a signed request.
type Reporter struct {
	TeamID int64
	// Machine is the agent that signed the report; nil for reports made
	// with an API key.
	Machine *proofgrid.Machine
}

// WorkerKey is the worker key that the reporter's worker events carry: the
// agent's public key, or "team:<team uuid>" for API-key reports, whose
// machine is unknown.
func (r Reporter) WorkerKey() string {
	if r.Machine != nil {
		return r.Machine.PublicKey
	}
	return "team:" + TeamUUID(r.TeamID)
}

// source tells the reward pipeline who vouches for the reporter's jobs:
// an enrolled agent's signed report, or a team's API key.
func (r Reporter) source() rewards.Source {
	if r.Machine != nil {
		return rewards.SourceAgent
	}
	return rewards.SourceTeam
}

func (r Reporter) machineID() string {
	if r.Machine != nil {
		return r.Machine.ID
	}
	return ""
}

// Report is one queued, proving or proved report. ClusterIndex is the
// team's cluster index, as Ethproofs submission bodies give it.
type Report struct {
	Status       string
	BlockNumber  int64
	ClusterIndex int64
	// ProvingTimeMS, ProvingCycles, Proof and VerifierID count for proved
	// reports only; ProvingTimeMS and Proof are required there.
	ProvingTimeMS int64
	ProvingCycles *int64
	Proof         []byte
	VerifierID    *string
}

// reportTarget is the cluster and version a report attaches to.
type reportTarget struct {
	cluster storage.Cluster
	version storage.ClusterVersion
	zkvm    storage.ZKVM
	zv      storage.ZKVMVersion
}

func (s *Service) target(ctx context.Context, who Reporter, index int64) (reportTarget, error) {
	if who.TeamID == 0 {
		return reportTarget{}, proofgrid.Errorf(proofgrid.EFORBIDDEN, "proofs are reported for a team's cluster: use a team API key")
	}
	c, err := s.db.ClusterByIndex(ctx, who.TeamID, index)
	if err != nil {
		return reportTarget{}, err
	}
	if who.Machine != nil && who.Machine.ClusterID != c.ID {
		return reportTarget{}, proofgrid.Errorf(proofgrid.EFORBIDDEN, "this agent is enrolled for cluster %q, not cluster %d (%s)", who.Machine.ClusterID, index, c.ID)
	}
	v, err := s.db.ActiveClusterVersion(ctx, c.ID)
	if err != nil {
		return reportTarget{}, err
	}
	zv, z, err := s.db.ZKVMVersionByID(ctx, v.ZKVMVersionID)
	if err != nil {
		return reportTarget{}, err
	}
	return reportTarget{cluster: c, version: v, zkvm: z, zv: zv}, nil
}

// onePerCluster keeps a cluster at one proof per block across its
// versions: a block the cluster proved under any version is ECONFLICT, and
// an unfinished proof started under an earlier version moves to the
// active one, which the report then updates.
func (s *Service) onePerCluster(ctx context.Context, t reportTarget, block int64) error {
	cur, found, err := s.db.ProofOfCluster(ctx, block, t.cluster.ID)
	if err != nil || !found || cur.ClusterVersionID == t.version.ID {
		return err
	}
	if cur.Status != StateProved {
		moved, err := s.db.MoveProof(ctx, cur.ID, t.version.ID, s.now())
		if err != nil || moved {
			return err
		}
	}
	return proofgrid.Errorf(proofgrid.ECONFLICT, "Proof already proved")
}

// Report applies a proof report to the proof of the block by the
// cluster's active version, creating the block row on first mention.
//
// Before the proof is proved any state may follow any other; after, every
// report is ECONFLICT (NextState). A proved report stores the
// proof bytes in the blob store and, in the same transaction as the row,
// writes the proof:verify task and records the job's completion with the
// reward pipeline. A
// cluster of another team is ENOTFOUND, like an unknown one; an inactive
// cluster is EINVALID; a proof above the size cap is ETOOLARGE; a demo
// proof that declares more steps than Config.DemoVerifyMaxSteps is
// EUNPROCESSABLE.
func (s *Service) Report(ctx context.Context, who Reporter, r Report) (storage.Proof, error) {
	if r.BlockNumber < 0 {
		return storage.Proof{}, proofgrid.Errorf(proofgrid.EINVALID, "block_number must not be negative")
	}
	if err := NextState(uint64(r.BlockNumber), "", r.Status); err != nil {
		return storage.Proof{}, err
	}
	proved := r.Status == StateProved
	if proved {
		switch {
		case r.ProvingTimeMS <= 0:
			return storage.Proof{}, proofgrid.Errorf(proofgrid.EINVALID, "proving_time must be greater than 0")
		case r.ProvingCycles != nil && *r.ProvingCycles <= 0:
			return storage.Proof{}, proofgrid.Errorf(proofgrid.EINVALID, "proving_cycles must be greater than 0")
		case len(r.Proof) == 0:
			return storage.Proof{}, proofgrid.Errorf(proofgrid.EINVALID, "proof must not be empty")
		case int64(len(r.Proof)) > s.cfg.MaxProofBytes:
			return storage.Proof{}, proofgrid.Errorf(proofgrid.ETOOLARGE, "proof is %d bytes; the limit is %d", len(r.Proof), s.cfg.MaxProofBytes)
		}
	}
	t, err := s.target(ctx, who, r.ClusterIndex)
	if err != nil {
		return storage.Proof{}, err
	}
	if !t.cluster.IsActive {
		return storage.Proof{}, proofgrid.Errorf(proofgrid.EINVALID, "cluster %d is not active and cannot receive proofs", r.ClusterIndex)
	}
	if err := s.onePerCluster(ctx, t, r.BlockNumber); err != nil {
		return storage.Proof{}, err
	}
	if proved {
		if err := s.checkWork(t, r.Proof); err != nil {
			return storage.Proof{}, err
		}
	}
	rep := storage.ProofReport{
		BlockNumber:      r.BlockNumber,
		ClusterVersionID: t.version.ID,
		ClusterID:        t.cluster.ID,
		TeamID:           who.TeamID,
		Status:           r.Status,
		SubmittedBy:      who.machineID(),
		WorkerKey:        who.WorkerKey(),
	}
	var blobKey string
	if proved {
		// A proved proof is final: looking first spares writing bytes
		// that the upsert would refuse. The upsert still decides.
		if cur, err := s.db.ProofAt(ctx, r.BlockNumber, t.version.ID); err == nil {
			if err := NextState(uint64(r.BlockNumber), cur.Status, r.Status); err != nil {
				return storage.Proof{}, err
			}
		} else if proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			return storage.Proof{}, err
		}
		sum := sha256.Sum256(r.Proof)
		digest := hex.EncodeToString(sum[:])
		// The digest in the key keeps two racing reports of different
		// bytes from overwriting each other's file.
		blobKey = fmt.Sprintf("proofs/%s/%d_%d_%s.bin", t.cluster.ID, r.BlockNumber, t.version.ID, digest[:16])
		if _, err := s.blobs.Put(ctx, blobKey, bytes.NewReader(r.Proof)); err != nil {
			return storage.Proof{}, fmt.Errorf("store proof: %w", err)
		}
		size, ms := int64(len(r.Proof)), r.ProvingTimeMS
		rep.ProvingTimeMS, rep.ProvingCycles, rep.SizeBytes = &ms, r.ProvingCycles, &size
		rep.VerifierID, rep.BlobKey, rep.SHA256 = r.VerifierID, &blobKey, &digest
	}
	now := s.now()
	var p storage.Proof
	err = s.db.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		if p, err = tx.UpsertProof(ctx, rep, now); err != nil || !proved {
			return err
		}
		if err := tx.Enqueue(ctx, queue.ProofVerify(queue.ProofVerifyPayload{ProofID: p.ID, TeamID: who.TeamID})); err != nil {
			return err
		}
		jobID := queue.ProveBlockID(uint64(r.BlockNumber), t.version.ID)
		team := who.TeamID
		_, err = s.cfg.Jobs.RecordJob(ctx, tx, rewards.Job{
			Key:         jobID + ":completed",
			Source:      who.source(),
			Worker:      who.WorkerKey(),
			MachineID:   who.machineID(),
			TeamID:      &team,
			Topic:       queue.TypeProveBlock,
			CircuitType: circuitType(t.zkvm, t.zv),
			JobID:       jobID,
			Status:      storage.WorkerEventCompleted,
			Result:      StateProved,
			Start:       now.Add(-time.Duration(r.ProvingTimeMS) * time.Millisecond),
			End:         now,
			DurationMS:  r.ProvingTimeMS,
		})
		return err
	})
	if err != nil {
		if proved {
			s.dropOrphan(ctx, blobKey, r.BlockNumber, t.version.ID)
		}
		return storage.Proof{}, err
	}
	if proved {
		s.notify()
	}
	return p, nil
}

// checkWork refuses a proof that declares more verification work than
// this coordinator spends on one proof, before its bytes are stored: a
// demo proof of a few hundred bytes can declare a chain that takes a
// verifier minutes. Only the demo zkVM's proofs declare their work; an
// exec verifier is bounded by its timeout alone. A demo proof whose header
// is malformed is left to the verifier, which flags it invalid.
func (s *Service) checkWork(t reportTarget, proof []byte) error {
	if t.zkvm.Slug != DemoZKVM {
		return nil
	}
	steps, err := zkvm.DemoSteps(proof)
	if err == nil && steps > s.cfg.DemoVerifyMaxSteps {
		return proofgrid.Errorf(proofgrid.EUNPROCESSABLE, "proof declares %d demo steps; this coordinator verifies at most %d (--verify-max-steps)",
			steps, s.cfg.DemoVerifyMaxSteps)
	}
	return nil
}

// dropOrphan removes the blob a refused proved report wrote, unless the
// proof that won holds the very same bytes under the same key.
func (s *Service) dropOrphan(ctx context.Context, key string, block, version int64) {
	ctx, cancel := withTimeout(ctx, 30*time.Second)
	defer cancel()
	if cur, err := s.db.ProofAt(ctx, block, version); err == nil && cur.BlobKey != nil && *cur.BlobKey == key {
		return
	}
	if err := s.blobs.Delete(ctx, key); err != nil {
		s.cfg.Logger.Warn("could not remove the proof of a refused report", "blob_key", key, "error", err)
	}
}

// ListProofs returns one page of proofs and the total f selects.
func (s *Service) ListProofs(ctx context.Context, f storage.ProofFilter) ([]storage.ProofView, int64, error) {
	return s.db.ListProofs(ctx, f)
}

// ProofView returns proof id with its block, cluster and zkVM, or
// ENOTFOUND.
func (s *Service) ProofView(ctx context.Context, id int64) (storage.ProofView, error) {
	return s.db.ProofView(ctx, id)
}

// ProvedProof returns proof id when it is proved, and ENOTFOUND ("No proof
// found", as Ethproofs says) otherwise.
func (s *Service) ProvedProof(ctx context.Context, id int64) (storage.ProofView, error) {
	v, err := s.db.ProofView(ctx, id)
	if err != nil {
		return storage.ProofView{}, err
	}
	if v.Proof.Status != StateProved || v.Proof.BlobKey == nil {
		return storage.ProofView{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "No proof found")
	}
	return v, nil
}

// OpenProof opens the bytes of a proved proof.
func (s *Service) OpenProof(ctx context.Context, v storage.ProofView) (io.ReadCloser, error) {
	if v.Proof.BlobKey == nil {
		return nil, proofgrid.Errorf(proofgrid.ENOTFOUND, "No proof binary found")
	}
	rc, err := s.blobs.Open(ctx, *v.Proof.BlobKey)
	if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
		return nil, proofgrid.Errorf(proofgrid.ENOTFOUND, "No proof binary found")
	}
	return rc, err
}

// ProofFileName is the file name a downloaded proof gets:
// <block>_<team slug>_<proof id>.bin.
func ProofFileName(v storage.ProofView) string {
	return strconv.FormatInt(v.Proof.BlockNumber, 10) + "_" + TeamSlug(v.Team.ID, v.Team.Name) + "_" +
		strconv.FormatInt(v.Proof.ID, 10) + ".bin"
}

// BlockProofs returns the block with the given hash and its proved
// proofs. An unknown hash is ENOTFOUND ("Block not found"), a block
// without proved proofs ENOTFOUND ("No proofs found").
func (s *Service) BlockProofs(ctx context.Context, hash string) (storage.Block, []storage.ProofView, error) {
	b, err := s.db.BlockByHash(ctx, hash)
	if err != nil {
		return storage.Block{}, nil, err
	}
	vs, err := s.db.ProvedProofsOfBlock(ctx, b.Number)
	if err != nil {
		return storage.Block{}, nil, err
	}
	if len(vs) == 0 {
		return storage.Block{}, nil, proofgrid.Errorf(proofgrid.ENOTFOUND, "No proofs found")
	}
	return b, vs, nil
}

// ClusterProofs returns up to limit of the cluster's most recently proved
// proofs; none is ENOTFOUND ("No proofs found").
func (s *Service) ClusterProofs(ctx context.Context, clusterID string, limit int) ([]storage.ProofView, error) {
	vs, err := s.db.LatestProvedProofsOfCluster(ctx, clusterID, limit)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, proofgrid.Errorf(proofgrid.ENOTFOUND, "No proofs found")
	}
	return vs, nil
}
