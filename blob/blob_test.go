package blob_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/blob"
)

func TestDir(t *testing.T) {
	ctx := context.Background()
	d, err := blob.NewDir(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.Put(ctx, "proofs/a/1.bin", strings.NewReader("hello"))
	if err != nil || n != 5 {
		t.Fatalf("Put = %d %v", n, err)
	}
	if _, err := d.Put(ctx, "proofs/a/1.bin", strings.NewReader("bye")); err != nil {
		t.Fatal(err)
	}
	b, err := blob.ReadAll(ctx, d, "proofs/a/1.bin", 0)
	if err != nil || string(b) != "bye" {
		t.Fatalf("ReadAll = %q %v", b, err)
	}
	if _, err := blob.ReadAll(ctx, d, "proofs/a/1.bin", 2); proofgrid.ErrorCode(err) != proofgrid.ETOOLARGE {
		t.Fatalf("ReadAll over max: %v", err)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Join(d.Root(), "proofs", "a"))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want 1", len(entries))
	}
	if err := d.Delete(ctx, "proofs/a/1.bin"); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, "proofs/a/1.bin"); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if _, err := d.Open(ctx, "proofs/a/1.bin"); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
		t.Fatalf("Open deleted: %v", err)
	}
	for _, key := range []string{"", "../x", "a/../../x", "/abs", "a//b", ".hidden", "a b", "a/.."} {
		if _, err := d.Put(ctx, key, bytes.NewReader(nil)); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Errorf("Put(%q) = %v, want EINVALID", key, err)
		}
	}
}

func TestPutHonoursContext(t *testing.T) {
	d, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Put(ctx, "x", strings.NewReader("data")); err == nil {
		t.Fatal("Put with a cancelled context succeeded")
	}
	if _, err := d.Open(context.Background(), "x"); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
		t.Fatalf("cancelled Put left an object: %v", err)
	}
}
