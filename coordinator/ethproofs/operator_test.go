package ethproofs_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/storage"
)

// TestTeamAdminHasNoGlobalRights checks that a team's admin key cannot do
// what changes every team's view: record blocks, import zkVMs, upload
// CSP benchmarks.
func TestTeamAdminHasNoGlobalRights(t *testing.T) {
	env, c := startCoordinator(t, storage.DialectSQLite, nil)
	admin := env.Token("alpha", "admin")
	wantStatus(t, c.postJSON("/api/v0/blocks", admin, map[string]any{"block_number": 5, "hash": blockHash(5)}), 403)
	wantStatus(t, c.do("POST", "/api/v0/zkvms", admin, []byte(`{"zkvms":[]}`), "application/json"), 403)
	wantStatus(t, c.upload("/api/v0/csp-benchmarks/upload", admin, "bench", []byte(`{}`)), 403)
	wantStatus(t, c.getJSON("/api/v0/blocks/5", ""), 404)
	// Its own team's clusters and keys stay its to manage.
	wantStatus(t, c.postJSON("/api/v0/clusters", admin, map[string]any{"name": "own", "zkvm_version_id": 1}), 200)
	wantStatus(t, c.upload("/api/v0/verification-keys/upload", admin, "own_key", []byte("VK")), 200)
}

// TestVerificationKeysAreTeamFiles checks that two teams uploading a key
// of the same name each keep their own, and that a key uploaded before
// keys were kept per team is still found.
func TestVerificationKeysAreTeamFiles(t *testing.T) {
	dataDir := t.TempDir()
	env, c := startCoordinator(t, storage.DialectSQLite, func(cfg *coordinator.Config) { cfg.DataDir = dataDir })
	legacy := filepath.Join(dataDir, "blobs", "verification-keys", "legacy_key.bin")
	if err := os.MkdirAll(filepath.Dir(legacy), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(legacy, []byte("LEGACY"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i, team := range []string{"alpha", "beta", "gamma"} {
		admin := env.Token(team, "admin")
		wantStatus(t, c.postJSON("/api/v0/clusters", admin, map[string]any{"name": team + "-cluster", "zkvm_version_id": 1}), 200)
		vk := "shared_key.bin"
		if team == "gamma" {
			vk = "legacy_key.bin"
		} else {
			// The same file name, different bytes.
			wantStatus(t, c.upload("/api/v0/verification-keys/upload", admin, "shared_key", []byte("VK-"+team)), 200)
		}
		wantStatus(t, c.patchJSON("/api/v0/clusters/1", admin, map[string]any{"vk_path": vk}), 200)
		var clusters []struct {
			UUID string `json:"uuid"`
		}
		c.getJSON("/api/v0/clusters", admin).json(t, &clusters)
		if len(clusters) != 1 {
			t.Fatalf("team %d clusters = %+v", i, clusters)
		}
		want[clusters[0].UUID] = "VK-" + team
		if team == "gamma" {
			want[clusters[0].UUID] = "LEGACY"
		}
	}
	var keys []struct {
		ClusterID string `json:"cluster_id"`
		VKBinary  string `json:"vk_binary"`
	}
	r := c.getJSON("/api/v0/verification-keys/active", "")
	wantStatus(t, r, 200)
	r.json(t, &keys)
	if len(keys) != len(want) {
		t.Fatalf("active keys = %+v, want %d", keys, len(want))
	}
	for _, k := range keys {
		b, _ := base64.StdEncoding.DecodeString(k.VKBinary)
		if string(b) != want[k.ClusterID] {
			t.Errorf("cluster %s has key %q, want %q", k.ClusterID, b, want[k.ClusterID])
		}
	}
}
