package ethproofs

import (
	"encoding/base64"
	"io"
	"mime/multipart"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/proofs"
)

// uploadedFile reads the multipart "file" part and the "filename" field
// of an upload, refusing files above max bytes (ETOOLARGE).
func uploadedFile(c *fiber.Ctx, max int64) (string, []byte, error) {
	// The multipart framing and the filename field take a few bytes more
	// than the file.
	if _, err := web.ReadBody(c, int(max)+multipartOverhead); err != nil {
		return "", nil, err
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return "", nil, proofgrid.Errorf(proofgrid.EINVALID, "No file provided: send multipart/form-data with a \"file\" part")
	}
	filename := c.FormValue("filename")
	if filename == "" {
		return "", nil, proofgrid.Errorf(proofgrid.EINVALID, "No filename provided")
	}
	if fh.Size > max {
		return "", nil, proofgrid.Errorf(proofgrid.ETOOLARGE, "file is %d bytes; the limit is %d", fh.Size, max)
	}
	data, err := readPart(fh, max)
	if err != nil {
		return "", nil, err
	}
	return filename, data, nil
}

// multipartOverhead is what an upload body may hold besides the file.
const multipartOverhead = 64 << 10

func readPart(fh *multipart.FileHeader, max int64) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, proofgrid.Errorf(proofgrid.ETOOLARGE, "file is larger than the limit of %d bytes", max)
	}
	return data, nil
}

func (a *API) uploadBenchmark(c *fiber.Ctx) error {
	filename, data, err := uploadedFile(c, a.Proofs.MaxBenchmarkBytes())
	if err != nil {
		return err
	}
	b, err := a.Proofs.PutBenchmark(c.UserContext(), callerOf(c).teamID, filename, data)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"message": "CSP benchmarks uploaded successfully", "path": b.Name})
}

// benchmarkItem is one file of GET /csp-benchmarks/list; id is what the
// download route takes.
type benchmarkItem struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	SizeBytes int64  `json:"size_bytes"`
	SHA256    string `json:"sha256"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func (a *API) listBenchmarks(c *fiber.Ctx) error {
	list, err := a.Proofs.Benchmarks(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]benchmarkItem, 0, len(list))
	for _, b := range list {
		out = append(out, benchmarkItem{
			ID: strings.TrimSuffix(b.Name, ".json"), Name: b.Name, SizeBytes: b.SizeBytes, SHA256: b.SHA256,
			CreatedAt: timestamp(b.CreatedAt), UpdatedAt: timestamp(b.UpdatedAt),
		})
	}
	return c.JSON(out)
}

func (a *API) downloadBenchmark(c *fiber.Ctx) error {
	b, rc, err := a.Proofs.OpenBenchmark(c.UserContext(), strings.TrimSuffix(c.Params("id"), ".json"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Set(fiber.HeaderContentDisposition, `inline; filename="`+b.Name+`"`)
	return c.SendStream(rc, int(b.SizeBytes))
}

// activeKey is one entry of GET /verification-keys/active, as Ethproofs
// shapes it.
type activeKey struct {
	ClusterID           string `json:"cluster_id"`
	ClusterVersionIndex int64  `json:"cluster_version_index"`
	Team                string `json:"team"`
	ZKVM                string `json:"zkvm"`
	VKPath              string `json:"vk_path"`
	VKBinary            string `json:"vk_binary"`
}

func (a *API) activeKeys(c *fiber.Ctx) error {
	keys, err := a.Proofs.ActiveVerificationKeys(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]activeKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, activeKey{
			ClusterID:           k.Ref.ClusterID,
			ClusterVersionIndex: k.Ref.VersionIndex,
			Team:                proofs.TeamSlug(k.Ref.TeamID, k.Ref.TeamName),
			ZKVM:                k.Ref.ZKVMSlug,
			VKPath:              k.Ref.VKPath,
			VKBinary:            base64.StdEncoding.EncodeToString(k.Data),
		})
	}
	return c.JSON(out)
}

func (a *API) downloadKey(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return proofgrid.Errorf(proofgrid.ENOTFOUND, "No proof found")
	}
	name, data, err := a.Proofs.VerificationKeyOfProof(c.UserContext(), id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/octet-stream")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	return c.Send(data)
}

func (a *API) uploadKey(c *fiber.Ctx) error {
	filename, data, err := uploadedFile(c, a.Proofs.MaxVKBytes())
	if err != nil {
		return err
	}
	name, err := a.Proofs.PutVerificationKey(c.UserContext(), callerOf(c).teamID, filename, data)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"message": "Verification key uploaded successfully", "path": name})
}
