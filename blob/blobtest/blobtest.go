// Package blobtest is the conformance suite every blob.Store passes: the
// local directory, PostgreSQL and S3 stores are run through the same
// checks, so that a coordinator behaves alike on each.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/blob"
)

// LargeSize is the size of the object the streaming check writes and
// reads back: several PostgreSQL chunks and more than one S3 part.
const LargeSize = 20<<20 + 12345

// Run runs the suite on the store newStore returns; each subtest gets a
// store of its own (which may share a backend: keys do not collide).
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	t.Run("put_open", func(t *testing.T) { putOpen(t, newStore(t)) })
	t.Run("overwrite", func(t *testing.T) { overwrite(t, newStore(t)) })
	t.Run("empty", func(t *testing.T) { empty(t, newStore(t)) })
	t.Run("delete", func(t *testing.T) { deleteObject(t, newStore(t)) })
	t.Run("not_found", func(t *testing.T) { notFound(t, newStore(t)) })
	t.Run("invalid_key", func(t *testing.T) { invalidKey(t, newStore(t)) })
	t.Run("large_streaming", func(t *testing.T) { largeStreaming(t, newStore(t)) })
	t.Run("concurrent_overwrite", func(t *testing.T) { concurrentOverwrite(t, newStore(t)) })
}

func read(t *testing.T, s blob.Store, key string) string {
	t.Helper()
	b, err := blob.ReadAll(context.Background(), s, key, 0)
	if err != nil {
		t.Fatalf("ReadAll(%s): %v", key, err)
	}
	return string(b)
}

func put(t *testing.T, s blob.Store, key, data string) {
	t.Helper()
	n, err := s.Put(context.Background(), key, strings.NewReader(data))
	if err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
	if n != int64(len(data)) {
		t.Fatalf("Put(%s) = %d bytes, want %d", key, n, len(data))
	}
}

func putOpen(t *testing.T, s blob.Store) {
	put(t, s, "proofs/7/100_1.bin", "proof bytes")
	put(t, s, "proofs/7/100_2.bin", "other proof")
	if got := read(t, s, "proofs/7/100_1.bin"); got != "proof bytes" {
		t.Fatalf("read %q, want %q", got, "proof bytes")
	}
	if got := read(t, s, "proofs/7/100_2.bin"); got != "other proof" {
		t.Fatalf("read %q, want %q", got, "other proof")
	}
	if _, err := blob.ReadAll(context.Background(), s, "proofs/7/100_1.bin", 5); proofgrid.ErrorCode(err) != proofgrid.ETOOLARGE {
		t.Fatalf("ReadAll over its cap: %v, want ETOOLARGE", err)
	}
}

func overwrite(t *testing.T, s blob.Store) {
	put(t, s, "vk/1/key.bin", "a longer first version")
	put(t, s, "vk/1/key.bin", "second")
	if got := read(t, s, "vk/1/key.bin"); got != "second" {
		t.Fatalf("after overwrite read %q, want %q", got, "second")
	}
}

func empty(t *testing.T, s blob.Store) {
	put(t, s, "empty.bin", "")
	if got := read(t, s, "empty.bin"); got != "" {
		t.Fatalf("empty object read %q", got)
	}
}

func deleteObject(t *testing.T, s blob.Store) {
	ctx := context.Background()
	put(t, s, "csp-benchmarks/x.json", "{}")
	if err := s.Delete(ctx, "csp-benchmarks/x.json"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Open(ctx, "csp-benchmarks/x.json"); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
		t.Fatalf("Open after Delete: %v, want ENOTFOUND", err)
	}
	if err := s.Delete(ctx, "csp-benchmarks/x.json"); err != nil {
		t.Fatalf("Delete of a missing object: %v, want nil", err)
	}
}

func notFound(t *testing.T, s blob.Store) {
	if _, err := s.Open(context.Background(), "proofs/none/1_1.bin"); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
		t.Fatalf("Open of a missing object: %v, want ENOTFOUND", err)
	}
}

func invalidKey(t *testing.T, s blob.Store) {
	ctx := context.Background()
	for _, key := range []string{"", "../x", "a/../../x", "/abs", "a//b", ".hidden", "a b", "a/..", "a/", strings.Repeat("k", 513)} {
		if _, err := s.Put(ctx, key, bytes.NewReader([]byte("x"))); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Errorf("Put(%q) = %v, want EINVALID", key, err)
		}
		if _, err := s.Open(ctx, key); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Errorf("Open(%q) = %v, want EINVALID", key, err)
		}
		if err := s.Delete(ctx, key); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Errorf("Delete(%q) = %v, want EINVALID", key, err)
		}
	}
}

// largeStreaming writes an object from a reader that is not a bytes.Reader
// (so no store can learn its length up front) and reads it back in small
// reads, comparing hashes.
func largeStreaming(t *testing.T, s blob.Store) {
	ctx := context.Background()
	src := rand.NewChaCha8([32]byte{1})
	want := sha256.New()
	n, err := s.Put(ctx, "large/object.bin", io.TeeReader(io.LimitReader(src, LargeSize), want))
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if n != LargeSize {
		t.Fatalf("Put = %d bytes, want %d", n, LargeSize)
	}
	rc, err := s.Open(ctx, "large/object.bin")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	got := sha256.New()
	m, err := io.CopyBuffer(got, rc, make([]byte, 4096))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if m != LargeSize || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("read back %d bytes, hash differs: %v", m, !bytes.Equal(got.Sum(nil), want.Sum(nil)))
	}
}

// concurrentOverwrite puts one key from several goroutines: the object
// left is one of them, whole.
func concurrentOverwrite(t *testing.T, s blob.Store) {
	ctx := context.Background()
	versions := []string{strings.Repeat("a", 1000), strings.Repeat("b", 2000), strings.Repeat("c", 3000), strings.Repeat("d", 10)}
	var wg sync.WaitGroup
	errs := make(chan error, len(versions))
	for _, v := range versions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Put(ctx, "race/key.bin", strings.NewReader(v)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Put: %v", err)
	}
	got := read(t, s, "race/key.bin")
	for _, v := range versions {
		if got == v {
			return
		}
	}
	t.Fatalf("object after concurrent Puts is none of them whole (%d bytes)", len(got))
}
