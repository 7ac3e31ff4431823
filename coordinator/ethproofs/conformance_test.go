package ethproofs_test

import (
	"encoding/base64"
	"testing"

	"github.com/proofgrid/proofgrid/storage"
)

// TestVKPathNamesTheUploadedName checks that a vk_path set to the name a
// key was uploaded as, without the ".bin" the store adds, finds the key:
// the cluster is in /verification-keys/active and its proofs' key
// downloads.
func TestVKPathNamesTheUploadedName(t *testing.T) {
	env, c := startCoordinator(t, storage.DialectSQLite, nil)
	admin := env.Token("alpha", "admin")
	wantStatus(t, c.postJSON("/api/v0/clusters", admin, map[string]any{"name": "a-1", "zkvm_version_id": 1}), 200)
	wantStatus(t, c.upload("/api/v0/verification-keys/upload", admin, "alpha_key", []byte("VK-ALPHA")), 200)
	wantStatus(t, c.patchJSON("/api/v0/clusters/1", admin, map[string]any{"vk_path": "alpha_key"}), 200)
	var keys []struct {
		VKPath   string `json:"vk_path"`
		VKBinary string `json:"vk_binary"`
	}
	r := c.getJSON("/api/v0/verification-keys/active", "")
	wantStatus(t, r, 200)
	r.json(t, &keys)
	if len(keys) != 1 {
		t.Fatalf("active keys = %+v, want the cluster's", keys)
	}
	if b, _ := base64.StdEncoding.DecodeString(keys[0].VKBinary); string(b) != "VK-ALPHA" || keys[0].VKPath != "alpha_key" {
		t.Fatalf("active key = %+v", keys[0])
	}
}
