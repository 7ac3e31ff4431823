package proofs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/blob"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
)

// fileNamePattern is what Ethproofs accepts as an uploaded file's name:
// letters, digits, underscores and hyphens.
var fileNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// ValidFileName reports whether name may name an uploaded file.
func ValidFileName(name string) bool { return fileNamePattern.MatchString(name) }

func benchmarkBlobKey(name string) string { return "csp-benchmarks/" + name }

// vkBlobKey is where team's verification key name is kept. Keys are a
// team's files: each team has its own namespace, so two teams uploading
// the same file name keep their own key.
func vkBlobKey(team int64, name string) string {
	return "vk/" + strconv.FormatInt(team, 10) + "/" + name
}

// legacyVKBlobKey is where keys were kept before they were kept per team,
// in one namespace for every team. Such keys are still read, after the
// team's own, and nothing is written there any more.
func legacyVKBlobKey(name string) string { return "verification-keys/" + name }

// readVerificationKey returns team's key called name: the one it uploaded,
// or else one uploaded under that name before keys were kept per team. An
// upload stores <filename>.bin, so a name without ".bin" also finds the
// key uploaded as that filename: a vk_path set to the name the upload was
// given must not silently name nothing. A name that names no key is
// ENOTFOUND.
func (s *Service) readVerificationKey(ctx context.Context, team int64, name string) ([]byte, error) {
	keys := []string{vkBlobKey(team, name), legacyVKBlobKey(name)}
	if !strings.HasSuffix(name, ".bin") {
		keys = append(keys, vkBlobKey(team, name+".bin"), legacyVKBlobKey(name+".bin"))
	}
	for _, key := range keys {
		if !blob.ValidKey(key) {
			continue
		}
		b, err := blob.ReadAll(ctx, s.blobs, key, s.cfg.MaxVKBytes)
		if proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			return b, err
		}
	}
	return nil, proofgrid.Errorf(proofgrid.ENOTFOUND, "verification key %s not found", name)
}

// PutBenchmark stores a CSP benchmarks file as <filename>.json, replacing
// one of the same name, and returns its record. filename is letters,
// digits, "_" and "-" (EINVALID otherwise); the file must be JSON
// (EINVALID) and within the size cap (ETOOLARGE).
func (s *Service) PutBenchmark(ctx context.Context, teamID int64, filename string, data []byte) (storage.CSPBenchmark, error) {
	if !ValidFileName(filename) {
		return storage.CSPBenchmark{}, proofgrid.Errorf(proofgrid.EINVALID, "Invalid filename format. Only alphanumeric characters, underscores, and hyphens are allowed (1..100 characters).")
	}
	if int64(len(data)) > s.cfg.MaxBenchmarkBytes {
		return storage.CSPBenchmark{}, proofgrid.Errorf(proofgrid.ETOOLARGE, "file is %d bytes; the limit is %d", len(data), s.cfg.MaxBenchmarkBytes)
	}
	if len(data) == 0 || !json.Valid(data) {
		return storage.CSPBenchmark{}, proofgrid.Errorf(proofgrid.EINVALID, "file is not JSON")
	}
	name := filename + ".json"
	key := benchmarkBlobKey(name)
	if _, err := s.blobs.Put(ctx, key, bytes.NewReader(data)); err != nil {
		return storage.CSPBenchmark{}, err
	}
	sum := sha256.Sum256(data)
	var team *int64
	if teamID != 0 {
		team = &teamID
	}
	return s.db.PutCSPBenchmark(ctx, storage.CSPBenchmark{
		Name: name, BlobKey: key, SizeBytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), TeamID: team,
	}, s.now())
}

// Benchmarks lists the CSP benchmark files.
func (s *Service) Benchmarks(ctx context.Context) ([]storage.CSPBenchmark, error) {
	return s.db.CSPBenchmarks(ctx)
}

// OpenBenchmark opens the benchmark file <id>.json; an unknown one is
// ENOTFOUND.
func (s *Service) OpenBenchmark(ctx context.Context, id string) (storage.CSPBenchmark, io.ReadCloser, error) {
	if !ValidFileName(id) {
		return storage.CSPBenchmark{}, nil, proofgrid.Errorf(proofgrid.ENOTFOUND, "Benchmarks file not found")
	}
	b, err := s.db.CSPBenchmarkByName(ctx, id+".json")
	if err != nil {
		return storage.CSPBenchmark{}, nil, err
	}
	rc, err := s.blobs.Open(ctx, b.BlobKey)
	if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
		return storage.CSPBenchmark{}, nil, proofgrid.Errorf(proofgrid.ENOTFOUND, "Benchmarks file not found")
	}
	return b, rc, err
}

// PutVerificationKey stores a verification key of team teamID as
// <filename>.bin (the extension is added unless given), replacing the
// team's key of that name, and returns the name, which a vk_path of the
// team's cluster versions can then name. Keys belong to a team: teamID 0
// (an admin JWT) is EFORBIDDEN.
func (s *Service) PutVerificationKey(ctx context.Context, teamID int64, filename string, data []byte) (string, error) {
	if teamID == 0 {
		return "", proofgrid.Errorf(proofgrid.EFORBIDDEN, "verification keys belong to teams: upload with a team's admin key")
	}
	base := strings.TrimSuffix(filename, ".bin")
	if !ValidFileName(base) {
		return "", proofgrid.Errorf(proofgrid.EINVALID, "Invalid filename format. Only alphanumeric characters, underscores, and hyphens are allowed (1..100 characters).")
	}
	if len(data) == 0 {
		return "", proofgrid.Errorf(proofgrid.EINVALID, "No file provided")
	}
	if int64(len(data)) > s.cfg.MaxVKBytes {
		return "", proofgrid.Errorf(proofgrid.ETOOLARGE, "file is %d bytes; the limit is %d", len(data), s.cfg.MaxVKBytes)
	}
	name := base + ".bin"
	if _, err := s.blobs.Put(ctx, vkBlobKey(teamID, name), bytes.NewReader(data)); err != nil {
		return "", err
	}
	// Proofs that could not be verified for want of this key are
	// verified again now that it is here; the key's digest names the
	// tasks, so uploading other bytes later verifies them once more.
	sum := sha256.Sum256(data)
	var n int
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		reopened, err := tx.ReopenTeamVerifications(ctx, teamID, []string{missingKeyReason(name), missingKeyReason(base)})
		if err != nil {
			return err
		}
		n = len(reopened)
		for _, p := range reopened {
			m := queue.ProofVerify(queue.ProofVerifyPayload{ProofID: p.ID, TeamID: p.TeamID})
			m.TaskID += ":vk-" + hex.EncodeToString(sum[:8])
			if err := tx.Enqueue(ctx, m); err != nil {
				return fmt.Errorf("verify proof %d again: %w", p.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if n > 0 {
		s.notify()
	}
	return name, nil
}

// ActiveKey is the verification key of an active cluster version.
type ActiveKey struct {
	Ref  storage.VerificationKeyRef
	Data []byte
}

// ActiveVerificationKeys returns the keys of active cluster versions that
// name one their team uploaded to proofgrid. A vk_path that names no
// uploaded key is left out, like a missing file in Ethproofs; paths on the
// coordinator's own disk are never served.
func (s *Service) ActiveVerificationKeys(ctx context.Context) ([]ActiveKey, error) {
	refs, err := s.db.ActiveVerificationKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := []ActiveKey{}
	for _, r := range refs {
		b, err := s.readVerificationKey(ctx, r.TeamID, r.VKPath)
		if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
			s.cfg.Logger.Warn("verification key not found", "cluster_id", r.ClusterID, "vk_path", r.VKPath)
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, ActiveKey{Ref: r, Data: b})
	}
	return out, nil
}

// VerificationKeyOfProof returns the name and bytes of the verification
// key that proved proof id checks against: its cluster version's vk_path,
// or else <team slug>_<cluster uuid>.bin, the name Ethproofs files keys
// under, both among the keys of the proof's team. An unknown or unproved proof is ENOTFOUND ("No proof found"), a
// missing key ENOTFOUND ("No vk binary found").
func (s *Service) VerificationKeyOfProof(ctx context.Context, id int64) (string, []byte, error) {
	v, err := s.ProvedProof(ctx, id)
	if err != nil {
		return "", nil, err
	}
	names := []string{TeamSlug(v.Team.ID, v.Team.Name) + "_" + v.Cluster.ID + ".bin"}
	if p := v.ClusterVersion.VKPath; p != nil && *p != "" {
		names = append([]string{*p}, names...)
	}
	for _, name := range names {
		b, err := s.readVerificationKey(ctx, v.Team.ID, name)
		if err == nil {
			return name, b, nil
		} else if proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			return "", nil, err
		}
	}
	return "", nil, proofgrid.Errorf(proofgrid.ENOTFOUND, "No vk binary found")
}
