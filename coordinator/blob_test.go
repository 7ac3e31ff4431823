package coordinator_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proofgrid/proofgrid/coordinator"
)

// TestBlobStoreConfig: a blob store the coordinator cannot honour stops it
// at start, before it accepts a proof it could not share.
func TestBlobStoreConfig(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "db.sqlite")
	for store, want := range map[string]string{
		"postgres":                   "blob store postgres needs a PostgreSQL database, not sqlite",
		"redis":                      `blob store "redis": use dir, postgres or s3://`,
		"s3://bucket?endpont=x":      `unknown parameter "endpont"`,
		"s3://bucket/../escape":      "invalid prefix",
		"s3://user:secret@bucket/pg": "credentials come from AWS_ACCESS_KEY_ID",
	} {
		_, err := coordinator.New(context.Background(), coordinator.Config{DatabaseURL: db, DataDir: t.TempDir(), BlobStore: store})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("BlobStore %q: error %v, want one containing %q", store, err, want)
		}
	}
}
