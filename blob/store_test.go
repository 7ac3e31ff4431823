package blob_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/proofgrid/proofgrid/blob"
	"github.com/proofgrid/proofgrid/blob/blobtest"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

func TestDirConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		d, err := blob.NewDir(filepath.Join(t.TempDir(), "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

// TestPostgresConformance runs the suite on the tables of a freshly
// migrated database of the testenv PostgreSQL server.
func TestPostgresConformance(t *testing.T) {
	db := storagetest.Postgres(t)
	s, err := blob.NewPostgres(db.SQL())
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, func(t *testing.T) blob.Store { return s })
}

// TestS3Conformance runs the suite against gofakes3, an S3 server in this
// process that speaks the real protocol (signed requests, multipart
// uploads) to the real client. It is served over TLS, as S3 is: on plain
// HTTP the client signs each chunk of the payload (aws-chunked), which
// gofakes3 does not decode.
func TestS3Conformance(t *testing.T) {
	cfg := fakeS3(t)
	s, err := blob.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, func(t *testing.T) blob.Store { return s })
}

// fakeS3 starts an S3 server with one bucket and returns the store
// configuration that reaches it.
func fakeS3(t *testing.T) blob.S3Config {
	backend := s3mem.New()
	if err := backend.CreateBucket("proofgrid"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test-key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	cfg, err := blob.ParseS3URL("s3://proofgrid/replicas/a?endpoint=" + srv.URL[len("https://"):] + "&region=us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Transport = srv.Client().Transport
	return cfg
}

func TestParseS3URL(t *testing.T) {
	cfg, err := blob.ParseS3URL("s3://bucket/some/prefix?endpoint=http://minio:9000&region=eu-west-1&path_style=true")
	if err != nil {
		t.Fatal(err)
	}
	want := blob.S3Config{Bucket: "bucket", Prefix: "some/prefix/", Endpoint: "minio:9000", Insecure: true, Region: "eu-west-1", PathStyle: true}
	if cfg != want {
		t.Fatalf("ParseS3URL = %+v, want %+v", cfg, want)
	}
	cfg, err = blob.ParseS3URL("s3://bucket")
	if err != nil || cfg != (blob.S3Config{Bucket: "bucket"}) {
		t.Fatalf("ParseS3URL(bare) = %+v, %v", cfg, err)
	}
	for _, bad := range []string{"s3:///prefix", "http://bucket", "s3://key:secret@bucket", "s3://bucket/../x", "s3://bucket?insecure=maybe", "s3://bucket?endpont=x"} {
		if _, err := blob.ParseS3URL(bad); err == nil {
			t.Errorf("ParseS3URL(%q) succeeded", bad)
		}
	}
}
