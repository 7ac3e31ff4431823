package coordinator

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/proofgrid/proofgrid/blob"
	"github.com/proofgrid/proofgrid/storage"
)

// Blob stores Config.BlobStore names.
const (
	// BlobStoreDir keeps objects in <DataDir>/blobs: one node only, as no
	// other replica reads that directory.
	BlobStoreDir = "dir"
	// BlobStorePostgres keeps objects in the PostgreSQL database, where
	// every replica of that database finds them.
	BlobStorePostgres = "postgres"
	// blobStoreS3 starts an s3://bucket/prefix?endpoint=...&region=... URL.
	blobStoreS3 = "s3://"
)

// checkBlobStore validates Config.BlobStore before anything is opened.
func checkBlobStore(s string) error {
	switch {
	case s == BlobStoreDir, s == BlobStorePostgres:
		return nil
	case strings.HasPrefix(s, blobStoreS3):
		_, err := blob.ParseS3URL(s)
		return err
	}
	return fmt.Errorf("blob store %q: use dir, postgres or s3://bucket/prefix?endpoint=...&region=...", s)
}

// openBlobs opens the configured blob store. postgres needs the database
// to be PostgreSQL; an S3 bucket must answer, so that a replica with the
// wrong bucket or credentials refuses to start instead of losing proofs.
func openBlobs(ctx context.Context, cfg Config, db *storage.DB) (blob.Store, error) {
	switch {
	case cfg.BlobStore == BlobStorePostgres:
		if db.Dialect() != storage.DialectPostgres {
			return nil, fmt.Errorf("blob store postgres needs a PostgreSQL database, not %s", db.Dialect())
		}
		return blob.NewPostgres(db.SQL())
	case strings.HasPrefix(cfg.BlobStore, blobStoreS3):
		s3cfg, err := blob.ParseS3URL(cfg.BlobStore)
		if err != nil {
			return nil, err
		}
		s, err := blob.NewS3(s3cfg)
		if err != nil {
			return nil, err
		}
		if err := s.Check(ctx); err != nil {
			return nil, err
		}
		return s, nil
	default:
		return blob.NewDir(filepath.Join(cfg.DataDir, "blobs"))
	}
}
