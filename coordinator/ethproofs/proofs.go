package ethproofs

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/proofs"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/zkvm"
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

func newProofResponse(v storage.ProofView) client.Proof {
	p := v.Proof
	r := client.Proof{
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
		Team: client.Team{
			ID:        proofs.TeamUUID(v.Team.ID),
			Name:      v.Team.Name,
			Slug:      proofs.TeamSlug(v.Team.ID, v.Team.Name),
			CreatedAt: timestamp(v.Team.CreatedAt),
		},
		Block: newBlockResponse(v.Block),
		ClusterVersion: client.ProofClusterVersion{
			ID:            v.ClusterVersion.ID,
			ClusterID:     v.Cluster.ID,
			Index:         v.ClusterVersion.Index,
			ZKVMVersionID: v.ClusterVersion.ZKVMVersionID,
			VKPath:        v.ClusterVersion.VKPath,
			IsActive:      v.ClusterVersion.IsActive,
			CreatedAt:     timestamp(v.ClusterVersion.CreatedAt),
			Cluster: client.ProofCluster{
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
			ZKVMVersion: client.ZKVMVersion{
				ID:        v.ZKVMVersion.ID,
				Version:   v.ZKVMVersion.Version,
				ZKVMID:    v.ZKVMVersion.ZKVMID,
				CreatedAt: timestamp(v.ZKVMVersion.CreatedAt),
				ZKVM: client.ZKVM{
					ID: v.ZKVM.ID, Name: v.ZKVM.Name, Slug: v.ZKVM.Slug, ISA: v.ZKVM.ISA,
					TeamID: v.ZKVM.TeamUUID, CreatedAt: timestamp(v.ZKVM.CreatedAt),
				},
			},
		},
	}
	switch {
	case p.Status != proofs.StateProved:
		r.Verification.Status = "not_proved"
	case p.Verification == nil:
		r.Verification.Status = "pending"
	default:
		r.Verification = client.Verification{
			Status:     *p.Verification,
			Flagged:    *p.Verification == string(zkvm.OutcomeInvalid),
			Reason:     p.VerificationReason,
			DurationMS: p.VerificationMS,
			VerifiedAt: timestampPtr(p.VerifiedAt),
		}
	}
	return r
}

// Issue is one entry of the Ethproofs document's 422 "Validation error"
// body: the form zod reports a schema violation in, with the path of the
// offending parameter.
type Issue struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Path    []any  `json:"path"`
}

// validationFailed answers 422 with issues, as the document specifies for
// parameters that break its schema.
func validationFailed(c *fiber.Ctx, issues []Issue) error {
	return c.Status(fiber.StatusUnprocessableEntity).JSON(issues)
}

// intParam checks an integer query parameter against the document's
// schema (minimum, maximum, default), appending an issue when it breaks
// it. Out-of-range values are refused, not clamped: the document gives
// bounds and no clamping.
func intParam(c *fiber.Ctx, name string, def, lo, hi int, issues *[]Issue) int {
	raw := c.Query(name)
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	switch {
	case err != nil:
		*issues = append(*issues, Issue{Code: "invalid_type", Message: fmt.Sprintf("Expected integer, received %q", raw), Path: []any{name}})
	case n < lo:
		*issues = append(*issues, Issue{Code: "too_small", Message: fmt.Sprintf("Number must be greater than or equal to %d", lo), Path: []any{name}})
	case n > hi:
		*issues = append(*issues, Issue{Code: "too_big", Message: fmt.Sprintf("Number must be less than or equal to %d", hi), Path: []any{name}})
	}
	return n
}

func (a *API) listProofs(c *fiber.Ctx) error {
	var f storage.ProofFilter
	var issues []Issue
	if s := c.Query("block"); s != "" {
		ref, err := proofs.ParseBlockRef(s)
		if err != nil {
			issues = append(issues, Issue{Code: "invalid_union", Message: "Expected a block number (integer >= 0) or a 0x-prefixed 64-hex-digit block hash", Path: []any{"block"}})
		} else if ref.Hash != "" {
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
	f.Limit = intParam(c, "limit", defaultProofLimit, 1, maxProofLimit, &issues)
	f.Offset = intParam(c, "offset", 0, 0, math.MaxInt32, &issues)
	if len(issues) > 0 {
		return validationFailed(c, issues)
	}
	views, total, err := a.Proofs.ListProofs(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]client.Proof, 0, len(views))
	for _, v := range views {
		out = append(out, newProofResponse(v))
	}
	return c.JSON(client.ProofList{Proofs: out, TotalCount: total, Limit: f.Limit, Offset: f.Offset})
}

// report handles POST /proofs/queued, /proving and /proved. Bodies are
// client.ProofReport and client.ProvedReport, the types the prover agent
// sends; for agents, which speak exactly those types, a member outside
// them is refused rather than ignored.
func (a *API) report(tmpl proofs.Report) fiber.Handler {
	proved := tmpl.Status == proofs.StateProved
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
		cl := callerOf(c)
		r := tmpl
		if proved {
			rep, err := decodeProvedReport(f, cl.machine != nil, a.Proofs.MaxProofBytes())
			if err != nil {
				return err
			}
			r.BlockNumber, r.ClusterIndex = int64(rep.BlockNumber), rep.ClusterID
			// Stored in whole milliseconds; a positive time never rounds to zero.
			r.ProvingTimeMS = max(1, int64(math.Round(rep.ProvingTime)))
			if rep.ProvingCycles > 0 {
				cycles := int64(rep.ProvingCycles)
				r.ProvingCycles = &cycles
			}
			r.Proof = rep.Proof
			if rep.VerifierID != "" {
				r.VerifierID = &rep.VerifierID
			}
		} else {
			rep, err := decodeProofReport(f, cl.machine != nil)
			if err != nil {
				return err
			}
			r.BlockNumber, r.ClusterIndex = int64(rep.BlockNumber), rep.ClusterID
		}
		p, err := a.Proofs.Report(c.UserContext(), cl.reporter(), r)
		if err != nil {
			return err
		}
		return c.JSON(client.ReportResponse{ProofID: p.ID})
	}
}

// Members of the agents' report bodies, for refusing the others.
var (
	proofReportMembers   = members(client.ProofReport{})
	provedReportMembers  = members(client.ProvedReport{})
	failureReportMembers = members(client.FailureReport{})
)

// decodeProofReport reads a queued or proving report; strict refuses
// members that client.ProofReport does not have.
func decodeProofReport(f fields, strict bool) (client.ProofReport, error) {
	var r client.ProofReport
	if strict {
		if err := f.only(proofReportMembers); err != nil {
			return r, err
		}
	}
	n, _, err := f.integer("block_number", true, 0, storage.MaxBlockNumber)
	if err != nil {
		return r, err
	}
	r.BlockNumber = uint64(n)
	if r.ClusterID, _, err = f.integer("cluster_id", true, math.MinInt64, math.MaxInt64); err != nil {
		return r, err
	}
	return r, nil
}

// decodeProvedReport reads a proved report whose proof is at most
// maxProof bytes; strict refuses members that client.ProvedReport does
// not have.
func decodeProvedReport(f fields, strict bool, maxProof int64) (client.ProvedReport, error) {
	var r client.ProvedReport
	if strict {
		if err := f.only(provedReportMembers); err != nil {
			return r, err
		}
	}
	head, err := decodeProofReport(f, false)
	if err != nil {
		return r, err
	}
	r.BlockNumber, r.ClusterID = head.BlockNumber, head.ClusterID
	ms, _, _, err := f.number("proving_time", true)
	if err != nil {
		return r, err
	}
	if ms <= 0 || ms > math.MaxInt64/2 {
		return r, invalid("proving_time", "must be a number of milliseconds greater than 0, got %v", ms)
	}
	r.ProvingTime = ms
	if cycles, ok, err := f.integer("proving_cycles", false, 1, math.MaxInt64); err != nil {
		return r, err
	} else if ok {
		r.ProvingCycles = uint64(cycles)
	}
	enc, _, err := f.str("proof", true, 0)
	if err != nil {
		return r, err
	}
	if int64(base64.StdEncoding.DecodedLen(len(enc))) > maxProof+2 {
		return r, proofgrid.Errorf(proofgrid.ETOOLARGE, "proof is larger than the limit of %d bytes", maxProof)
	}
	if r.Proof, err = decodeBase64(enc); err != nil {
		return r, invalid("proof", "must be base64 (standard alphabet): %v", err)
	}
	if len(r.Proof) == 0 {
		return r, invalid("proof", "must not be empty")
	}
	if r.VerifierID, _, err = f.str("verifier_id", false, 256); err != nil {
		return r, err
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
// event. Only agents use it, so its body, client.FailureReport, is
// always strict.
func (a *API) reportFailure(c *fiber.Ctx) error {
	f, err := decodeObject(c, maxJSONBody)
	if err != nil {
		return err
	}
	rep, err := decodeFailureReport(f)
	if err != nil {
		return err
	}
	recorded, err := a.Proofs.ReportFailure(c.UserContext(), callerOf(c).reporter(), proofs.Failure{
		BlockNumber: int64(rep.BlockNumber), ClusterIndex: rep.ClusterID, Status: rep.Status, Attempt: rep.Attempt,
		StartedAt: rep.StartedAt, EndedAt: rep.EndedAt, Error: rep.Error,
	})
	if err != nil {
		return err
	}
	return c.JSON(client.FailureResponse{Recorded: recorded})
}

func decodeFailureReport(f fields) (client.FailureReport, error) {
	var r client.FailureReport
	if err := f.only(failureReportMembers); err != nil {
		return r, err
	}
	head, err := decodeProofReport(f, false)
	if err != nil {
		return r, err
	}
	r.BlockNumber, r.ClusterID = head.BlockNumber, head.ClusterID
	if r.Status, _, err = f.str("status", true, 16); err != nil {
		return r, err
	}
	attempt, _, err := f.integer("attempt", false, 0, math.MaxInt32)
	if err != nil {
		return r, err
	}
	r.Attempt = int(attempt)
	if r.StartedAt, _, err = f.timestamp("started_at", false); err != nil {
		return r, err
	}
	if r.EndedAt, _, err = f.timestamp("ended_at", false); err != nil {
		return r, err
	}
	if r.Error, _, err = f.str("error", false, 64<<10); err != nil {
		return r, err
	}
	return r, nil
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
