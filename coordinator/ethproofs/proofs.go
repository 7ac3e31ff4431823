package ethproofs

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/proofs"
	"github.com/proofgrid/proofgrid/proving"
	"github.com/proofgrid/proofgrid/storage"
)

// Listing bounds, as the Ethproofs document gives them.
const (
	defaultProofLimit = 100
	maxProofLimit     = 1000
	maxClusterFilter  = 100
	// Downloads of a cluster's latest proofs.
	defaultZipLimit = 25
	maxZipLimit     = 100
)

// proofResponse is one proof of GET /proofs. Members the document types
// as non-null are left out while unknown (a proof not yet proved has no
// size). proofgrid_verification is proofgrid's addition.
type proofResponse struct {
	BlockNumber      int64                  `json:"block_number"`
	ClusterID        int64                  `json:"cluster_id"`
	ProofID          int64                  `json:"proof_id"`
	ProofStatus      string                 `json:"proof_status"`
	ProvingCycles    *int64                 `json:"proving_cycles,omitempty"`
	TeamID           string                 `json:"team_id"`
	CreatedAt        string                 `json:"created_at"`
	ProvedTimestamp  *string                `json:"proved_timestamp,omitempty"`
	ProvingTimestamp *string                `json:"proving_timestamp,omitempty"`
	QueuedTimestamp  *string                `json:"queued_timestamp,omitempty"`
	ProvingTime      *int64                 `json:"proving_time,omitempty"`
	ProgramID        *int64                 `json:"program_id,omitempty"`
	SizeBytes        *int64                 `json:"size_bytes,omitempty"`
	VerifierID       *string                `json:"verifier_id,omitempty"`
	Team             teamResponse           `json:"team"`
	Block            blockResponse          `json:"block"`
	ClusterVersion   clusterVersionResponse `json:"cluster_version"`
	Verification     verificationResponse   `json:"proofgrid_verification"`
}

type teamResponse struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Slug      string `json:"slug"`
	CreatedAt string `json:"created_at"`
}

type clusterVersionResponse struct {
	ID            int64               `json:"id"`
	ClusterID     string              `json:"cluster_id"`
	Index         int64               `json:"index"`
	ZKVMVersionID int64               `json:"zkvm_version_id"`
	VKPath        *string             `json:"vk_path"`
	IsActive      bool                `json:"is_active"`
	CreatedAt     string              `json:"created_at"`
	Cluster       clusterResponse     `json:"cluster"`
	ZKVMVersion   zkvmVersionResponse `json:"zkvm_version"`
}

type clusterResponse struct {
	ID                  string  `json:"id"`
	Index               int64   `json:"index"`
	Name                string  `json:"name"`
	TeamID              string  `json:"team_id"`
	HardwareDescription *string `json:"hardware_description"`
	IsOpenSource        bool    `json:"is_open_source"`
	NumGPUs             int64   `json:"num_gpus"`
	IsActive            bool    `json:"is_active"`
	SoftwareLink        *string `json:"software_link"`
	DeploymentType      string  `json:"deployment_type"`
	CreatedAt           string  `json:"created_at"`
}

type zkvmVersionResponse struct {
	ID        int64        `json:"id"`
	Version   string       `json:"version"`
	ZKVMID    int64        `json:"zkvm_id"`
	CreatedAt string       `json:"created_at"`
	ZKVM      zkvmResponse `json:"zkvm"`
}

type zkvmResponse struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Slug      string `json:"slug"`
	ISA       string `json:"isa"`
	TeamID    string `json:"team_id"`
	CreatedAt string `json:"created_at"`
}

// verificationResponse tells what the verifier said about a proof.
// Status is pending until a verifier ran on a proved proof, then valid,
// invalid or cannot_verify; proofs not proved yet read not_proved.
// Flagged marks proofs a verifier rejected; they are kept, not deleted.
type verificationResponse struct {
	Status     string   `json:"status"`
	Flagged    bool     `json:"flagged"`
	Reason     string   `json:"reason,omitempty"`
	DurationMS *float64 `json:"duration_ms,omitempty"`
	VerifiedAt *string  `json:"verified_at,omitempty"`
}

func newProofResponse(v storage.ProofView) proofResponse {
	p := v.Proof
	r := proofResponse{
		BlockNumber:      p.BlockNumber,
		ClusterID:        v.Cluster.Index,
		ProofID:          p.ID,
		ProofStatus:      p.Status,
		ProvingCycles:    p.ProvingCycles,
		TeamID:           proofs.TeamUUID(p.TeamID),
		CreatedAt:        timestamp(p.CreatedAt),
		ProvedTimestamp:  timestampPtr(p.ProvedAt),
		ProvingTimestamp: timestampPtr(p.ProvingAt),
		QueuedTimestamp:  timestampPtr(p.QueuedAt),
		ProvingTime:      p.ProvingTimeMS,
		ProgramID:        p.ProgramID,
		SizeBytes:        p.SizeBytes,
		VerifierID:       p.VerifierID,
		Team: teamResponse{
			ID:        proofs.TeamUUID(v.Team.ID),
			Name:      v.Team.Name,
			Slug:      proofs.TeamSlug(v.Team.ID, v.Team.Name),
			CreatedAt: timestamp(v.Team.CreatedAt),
		},
		Block: newBlockResponse(v.Block),
		ClusterVersion: clusterVersionResponse{
			ID:            v.ClusterVersion.ID,
			ClusterID:     v.Cluster.ID,
			Index:         v.ClusterVersion.Index,
			ZKVMVersionID: v.ClusterVersion.ZKVMVersionID,
			VKPath:        v.ClusterVersion.VKPath,
			IsActive:      v.ClusterVersion.IsActive,
			CreatedAt:     timestamp(v.ClusterVersion.CreatedAt),
			Cluster: clusterResponse{
				ID:                  v.Cluster.ID,
				Index:               v.Cluster.Index,
				Name:                v.Cluster.Name,
				TeamID:              proofs.TeamUUID(v.Cluster.TeamID),
				HardwareDescription: v.Cluster.HardwareDescription,
				IsOpenSource:        v.Cluster.IsOpenSource,
				NumGPUs:             v.Cluster.NumGPUs,
				IsActive:            v.Cluster.IsActive,
				SoftwareLink:        v.Cluster.SoftwareLink,
				DeploymentType:      v.Cluster.DeploymentType,
				CreatedAt:           timestamp(v.Cluster.CreatedAt),
			},
			ZKVMVersion: zkvmVersionResponse{
				ID:        v.ZKVMVersion.ID,
				Version:   v.ZKVMVersion.Version,
				ZKVMID:    v.ZKVMVersion.ZKVMID,
				CreatedAt: timestamp(v.ZKVMVersion.CreatedAt),
				ZKVM: zkvmResponse{
					ID: v.ZKVM.ID, Name: v.ZKVM.Name, Slug: v.ZKVM.Slug, ISA: v.ZKVM.ISA,
					TeamID: v.ZKVM.TeamUUID, CreatedAt: timestamp(v.ZKVM.CreatedAt),
				},
			},
		},
	}
	switch {
	case p.Status != proving.StateProved:
		r.Verification.Status = "not_proved"
	case p.Verification == nil:
		r.Verification.Status = "pending"
	default:
		r.Verification = verificationResponse{
			Status:     *p.Verification,
			Flagged:    *p.Verification == string(proving.OutcomeInvalid),
			Reason:     p.VerificationReason,
			DurationMS: p.VerificationMS,
			VerifiedAt: timestampPtr(p.VerifiedAt),
		}
	}
	return r
}

func (a *API) listProofs(c *fiber.Ctx) error {
	var f storage.ProofFilter
	if s := c.Query("block"); s != "" {
		ref, err := proofs.ParseBlockRef(s)
		if err != nil {
			return err
		}
		if ref.Hash != "" {
			f.BlockHash = ref.Hash
		} else {
			f.BlockNumber = &ref.Number
		}
	}
	if s := c.Query("clusters"); s != "" {
		for _, id := range strings.Split(s, ",") {
			id = strings.TrimSpace(id)
			u, err := uuid.Parse(id)
			if err != nil || id == "" {
				return proofgrid.Errorf(proofgrid.EINVALID, "Invalid clusters: %q is not a cluster UUID; give comma-separated UUIDs", id)
			}
			f.ClusterIDs = append(f.ClusterIDs, u.String())
		}
		if len(f.ClusterIDs) > maxClusterFilter {
			return proofgrid.Errorf(proofgrid.EINVALID, "Invalid clusters: at most %d cluster UUIDs, got %d", maxClusterFilter, len(f.ClusterIDs))
		}
	}
	var err error
	if f.Limit, err = web.IntQuery(c, "limit", defaultProofLimit, 1, maxProofLimit); err != nil {
		return err
	}
	if f.Offset, err = web.IntQuery(c, "offset", 0, 0, math.MaxInt32); err != nil {
		return err
	}
	views, total, err := a.Proofs.ListProofs(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]proofResponse, 0, len(views))
	for _, v := range views {
		out = append(out, newProofResponse(v))
	}
	return c.JSON(fiber.Map{"proofs": out, "total_count": total, "limit": f.Limit, "offset": f.Offset})
}

// report handles POST /proofs/queued, /proving and /proved.
func (a *API) report(tmpl proofs.Report) fiber.Handler {
	proved := tmpl.Status == proving.StateProved
	maxBody := maxJSONBody
	if proved {
		// Base64 is 4/3 of the bytes; the rest of the body is small.
		maxBody += int(a.Proofs.MaxProofBytes()/3*4) + 4
	}
	return func(c *fiber.Ctx) error {
		f, err := decodeObject(c, maxBody)
		if err != nil {
			return err
		}
		r := tmpl
		if r.BlockNumber, _, err = f.integer("block_number", true, 0, storage.MaxBlockNumber); err != nil {
			return err
		}
		if r.ClusterIndex, _, err = f.integer("cluster_id", true, math.MinInt64, math.MaxInt64); err != nil {
			return err
		}
		if proved {
			if r, err = a.provedFields(f, r); err != nil {
				return err
			}
		}
		p, err := a.Proofs.Report(c.UserContext(), callerOf(c).reporter(), r)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"proof_id": p.ID})
	}
}

func (a *API) provedFields(f fields, r proofs.Report) (proofs.Report, error) {
	ms, _, _, err := f.number("proving_time", true)
	if err != nil {
		return r, err
	}
	if ms <= 0 || ms > math.MaxInt64/2 {
		return r, invalid("proving_time", "must be a number of milliseconds greater than 0, got %v", ms)
	}
	// Stored in whole milliseconds; a positive time never rounds to zero.
	r.ProvingTimeMS = max(1, int64(math.Round(ms)))
	if cycles, ok, err := f.integer("proving_cycles", false, 1, math.MaxInt64); err != nil {
		return r, err
	} else if ok {
		r.ProvingCycles = &cycles
	}
	enc, _, err := f.str("proof", true, 0)
	if err != nil {
		return r, err
	}
	if int64(base64.StdEncoding.DecodedLen(len(enc))) > a.Proofs.MaxProofBytes()+2 {
		return r, proofgrid.Errorf(proofgrid.ETOOLARGE, "proof is larger than the limit of %d bytes", a.Proofs.MaxProofBytes())
	}
	if r.Proof, err = decodeBase64(enc); err != nil {
		return r, invalid("proof", "must be base64 (standard alphabet): %v", err)
	}
	if len(r.Proof) == 0 {
		return r, invalid("proof", "must not be empty")
	}
	if id, ok, err := f.str("verifier_id", false, 256); err != nil {
		return r, err
	} else if ok {
		r.VerifierID = &id
	}
	return r, nil
}

// decodeBase64 accepts standard base64 with or without padding.
func decodeBase64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") || len(s)%4 == 0 {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// reportFailure is proofgrid's endpoint for prover agents to report a
// prove:block job that failed or was cancelled, which becomes a worker
// event.
func (a *API) reportFailure(c *fiber.Ctx) error {
	f, err := decodeObject(c, maxJSONBody)
	if err != nil {
		return err
	}
	var fl proofs.Failure
	if fl.BlockNumber, _, err = f.integer("block_number", true, 0, storage.MaxBlockNumber); err != nil {
		return err
	}
	if fl.ClusterIndex, _, err = f.integer("cluster_id", true, math.MinInt64, math.MaxInt64); err != nil {
		return err
	}
	if fl.Status, _, err = f.str("status", true, 16); err != nil {
		return err
	}
	attempt, _, err := f.integer("attempt", false, 0, math.MaxInt32)
	if err != nil {
		return err
	}
	fl.Attempt = int(attempt)
	if fl.StartedAt, _, err = f.timestamp("started_at", false); err != nil {
		return err
	}
	if fl.EndedAt, _, err = f.timestamp("ended_at", false); err != nil {
		return err
	}
	if fl.Error, _, err = f.str("error", false, 64<<10); err != nil {
		return err
	}
	recorded, err := a.Proofs.ReportFailure(c.UserContext(), callerOf(c).reporter(), fl)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"recorded": recorded})
}

func (a *API) downloadProof(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return proofgrid.Errorf(proofgrid.ENOTFOUND, "No proof found")
	}
	v, err := a.Proofs.ProvedProof(c.UserContext(), id)
	if err != nil {
		return err
	}
	rc, err := a.Proofs.OpenProof(c.UserContext(), v)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/octet-stream")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+proofs.ProofFileName(v)+`"`)
	size := -1
	if v.Proof.SizeBytes != nil {
		size = int(*v.Proof.SizeBytes)
	}
	return c.SendStream(rc, size)
}

func (a *API) downloadBlock(c *fiber.Ctx) error {
	hash := c.Params("block")
	if !proofs.ValidBlockHash(hash) {
		return proofgrid.Errorf(proofgrid.EINVALID, "Invalid block hash: want 0x followed by 64 hex digits, got %q", hash)
	}
	b, views, err := a.Proofs.BlockProofs(c.UserContext(), hash)
	if err != nil {
		return err
	}
	return a.sendZip(c, *b.Hash+".zip", views)
}

func (a *API) downloadCluster(c *fiber.Ctx) error {
	id, err := uuid.Parse(c.Params("cluster"))
	if err != nil {
		return proofgrid.Errorf(proofgrid.EINVALID, "Invalid cluster: %q is not a cluster UUID", c.Params("cluster"))
	}
	// Like Ethproofs: a missing, malformed or non-positive limit means the
	// default, and limits above the maximum are clamped.
	limit := defaultZipLimit
	if n, err := strconv.Atoi(c.Query("limit")); err == nil && n >= 1 {
		limit = min(n, maxZipLimit)
	}
	views, err := a.Proofs.ClusterProofs(c.UserContext(), id.String(), limit)
	if err != nil {
		return err
	}
	return a.sendZip(c, id.String()+"_recent_proofs.zip", views)
}

// zipTimeout bounds the streaming of one zip download, which runs after
// the handler has returned.
const zipTimeout = 10 * time.Minute

// sendZip streams the proofs' bytes as a zip file, one entry per proof,
// without holding them all in memory. A proof whose bytes cannot be read
// is left out and logged: the headers are sent by then.
func (a *API) sendZip(c *fiber.Ctx, name string, views []storage.ProofView) error {
	c.Set(fiber.HeaderContentType, "application/zip")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithTimeout(context.Background(), zipTimeout)
		defer cancel()
		zw := zip.NewWriter(w)
		for _, v := range views {
			if err := a.addToZip(ctx, zw, v); err != nil {
				a.Logger.Warn("proof left out of a zip download", "proof_id", v.Proof.ID, "error", err)
			}
		}
		if err := zw.Close(); err != nil {
			a.Logger.Warn("zip download cut short", "name", name, "error", err)
		}
		_ = w.Flush()
	})
	return nil
}

func (a *API) addToZip(ctx context.Context, zw *zip.Writer, v storage.ProofView) error {
	rc, err := a.Proofs.OpenProof(ctx, v)
	if err != nil {
		return err
	}
	defer rc.Close()
	w, err := zw.CreateHeader(&zip.FileHeader{Name: proofs.ProofFileName(v), Method: zip.Deflate, Modified: derefTime(v.Proof.ProvedAt)})
	if err != nil {
		return err
	}
	_, err = io.Copy(w, rc)
	return err
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
