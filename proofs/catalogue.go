package proofs

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
)

// DemoZKVM is the slug of the built-in demo zkVM, which the coordinator
// verifies itself (package zkvm, the Keccak-256 hash chain).
const DemoZKVM = "proofgrid-demo"

//go:embed catalogue.json
var defaultCatalogue []byte

// Catalogue is the list of zkVMs and their versions, in the JSON form of
// catalogue.json. Ids are stable: clusters refer to zkVM versions by id.
type Catalogue struct {
	ZKVMs []CatalogueZKVM `json:"zkvms"`
}

// CatalogueZKVM is one zkVM of a catalogue.
type CatalogueZKVM struct {
	ID       int64              `json:"id"`
	Slug     string             `json:"slug"`
	Name     string             `json:"name"`
	ISA      string             `json:"isa"`
	TeamID   string             `json:"team_id"`
	RepoURL  string             `json:"repo_url"`
	Versions []CatalogueVersion `json:"versions"`
}

// CatalogueVersion is one version of a catalogue zkVM.
type CatalogueVersion struct {
	ID      int64  `json:"id"`
	Version string `json:"version"`
}

// DefaultCatalogue returns the catalogue built into the binary.
func DefaultCatalogue() Catalogue {
	c, err := ParseCatalogue(defaultCatalogue)
	if err != nil {
		panic("proofs: built-in catalogue: " + err.Error())
	}
	return c
}

// ParseCatalogue decodes and checks a catalogue document: every zkVM and
// version has a positive id unique in the document, zkVMs have a slug,
// a name and a UUID team id.
func ParseCatalogue(b []byte) (Catalogue, error) {
	var c Catalogue
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Catalogue{}, proofgrid.Errorf(proofgrid.EINVALID, "catalogue: %v", err)
	}
	zkvmIDs, versionIDs, slugs := map[int64]bool{}, map[int64]bool{}, map[string]bool{}
	for _, z := range c.ZKVMs {
		switch {
		case z.ID <= 0 || zkvmIDs[z.ID]:
			return Catalogue{}, proofgrid.Errorf(proofgrid.EINVALID, "catalogue: zkVM id %d is not positive or not unique", z.ID)
		case z.Slug == "" || slugs[z.Slug] || len(z.Slug) > 64:
			return Catalogue{}, proofgrid.Errorf(proofgrid.EINVALID, "catalogue: zkVM %d: slug %q is empty, too long or not unique", z.ID, z.Slug)
		case z.Name == "" || len(z.Name) > 100:
			return Catalogue{}, proofgrid.Errorf(proofgrid.EINVALID, "catalogue: zkVM %d: name must be 1..100 characters", z.ID)
		}
		if _, err := uuid.Parse(z.TeamID); err != nil {
			return Catalogue{}, proofgrid.Errorf(proofgrid.EINVALID, "catalogue: zkVM %d: team_id must be a UUID", z.ID)
		}
		zkvmIDs[z.ID], slugs[z.Slug] = true, true
		for _, v := range z.Versions {
			if v.ID <= 0 || versionIDs[v.ID] || v.Version == "" || len(v.Version) > 64 {
				return Catalogue{}, proofgrid.Errorf(proofgrid.EINVALID, "catalogue: zkVM %d: version id %d must be positive and unique, with a version of 1..64 characters", z.ID, v.ID)
			}
			versionIDs[v.ID] = true
		}
	}
	return c, nil
}

// ImportCatalogue writes c's zkVMs and versions; known ids are updated,
// so importing the same catalogue twice changes nothing.
func (s *Service) ImportCatalogue(ctx context.Context, c Catalogue) error {
	zs, vs := c.rows()
	if err := s.db.ImportZKVMs(ctx, zs, vs, s.now()); err != nil {
		return fmt.Errorf("import catalogue: %w", err)
	}
	return nil
}

// SeedCatalogue writes the zkVMs and versions of c that are not stored yet
// (the built-in catalogue at start), keeping whatever an admin imported.
func (s *Service) SeedCatalogue(ctx context.Context, c Catalogue) error {
	zs, vs := c.rows()
	if err := s.db.SeedZKVMs(ctx, zs, vs, s.now()); err != nil {
		return fmt.Errorf("seed catalogue: %w", err)
	}
	return nil
}

func (c Catalogue) rows() ([]storage.ZKVM, []storage.ZKVMVersion) {
	var zs []storage.ZKVM
	var vs []storage.ZKVMVersion
	for _, z := range c.ZKVMs {
		zs = append(zs, storage.ZKVM{ID: z.ID, Slug: z.Slug, Name: z.Name, ISA: z.ISA, TeamUUID: z.TeamID, RepoURL: z.RepoURL})
		for _, v := range z.Versions {
			vs = append(vs, storage.ZKVMVersion{ID: v.ID, ZKVMID: z.ID, Version: v.Version})
		}
	}
	return zs, vs
}

// ZKVMWithVersions is a zkVM and its versions.
type ZKVMWithVersions struct {
	storage.ZKVM
	Versions []storage.ZKVMVersion `json:"versions"`
}

// ZKVMs returns the stored catalogue.
func (s *Service) ZKVMs(ctx context.Context) ([]ZKVMWithVersions, error) {
	zs, err := s.db.ZKVMs(ctx)
	if err != nil {
		return nil, err
	}
	vs, err := s.db.ZKVMVersions(ctx)
	if err != nil {
		return nil, err
	}
	byZKVM := map[int64][]storage.ZKVMVersion{}
	for _, v := range vs {
		byZKVM[v.ZKVMID] = append(byZKVM[v.ZKVMID], v)
	}
	out := make([]ZKVMWithVersions, 0, len(zs))
	for _, z := range zs {
		versions := byZKVM[z.ID]
		if versions == nil {
			versions = []storage.ZKVMVersion{}
		}
		out = append(out, ZKVMWithVersions{ZKVM: z, Versions: versions})
	}
	return out, nil
}
