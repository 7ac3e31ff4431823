package pool_test

import (
	"strconv"
	"testing"

	"github.com/proofgrid/proofgrid/pool"
	"github.com/proofgrid/proofgrid/storage"
)

// TestPoolSignedRequests drives the miner auth middleware with the
// polkadot-js vectors (raw and <Bytes>-wrapped) and with every way a
// request can be refused.
func TestPoolSignedRequests(t *testing.T) {
	clk := newClock(vectorTime)
	env := start(t, storage.DialectSQLite, clk, pool.Config{})
	c := client{t, env.URL}
	v := loadVectors(t)
	generic := map[string]string{}
	for _, a := range v.Accounts {
		generic[a.Name] = a.Addresses["42"]
	}
	signed := func(vec vector, ts string) map[string]string {
		return map[string]string{"X-Key": vec.Address, "X-Timestamp": ts, "X-Signature": vec.Signature}
	}

	for _, tc := range []struct{ vector, account, ts string }{
		{"alice_auth_raw", "alice", "1700000000"},
		{"alice_auth_wrapped", "alice", "1700000000"},
		{"alice_auth_polkadot_prefix_raw", "alice", "1700000000"},
		{"alice_auth_polkadot_prefix_wrapped", "alice", "1700000000"},
		{"bob_auth_raw", "bob", "1700000000"},
		{"bob_auth_wrapped", "bob", "1700000000"},
		{"bob_auth_two_byte_prefix_raw", "bob", "1700000000"},
		{"alice_auth_minus_300_raw", "alice", "1699999700"}, // at the edge of the window
	} {
		r := c.do("POST", "/api/v1/miners/register", nil, signed(v.find(t, tc.vector), tc.ts))
		if r.status != 200 && r.status != 201 {
			t.Fatalf("%s: status %d: %s", tc.vector, r.status, r.body)
		}
		// Whatever the SS58 prefix signed with, one key is one miner.
		if got := r.json(t)["hotkey"]; got != generic[tc.account] {
			t.Errorf("%s: hotkey %v, want %s", tc.vector, got, generic[tc.account])
		}
	}

	alice := newSigner(t, 1)
	ts := clk.ts()
	fresh := alice.headers(t, ts)
	c.expect(c.do("POST", "/api/v1/miners/register", nil, fresh), 201, "")
	for _, tc := range []struct {
		name     string
		headers  map[string]string
		fragment string
	}{
		{"replayed vector", signed(v.find(t, "alice_auth_raw"), "1700000000"), "replayed signature"},
		{"replayed Go signature", fresh, "replayed signature"},
		{"stale", alice.headers(t, strconv.Itoa(vectorTime-301)), "stale X-Timestamp"},
		{"future", alice.headers(t, strconv.Itoa(vectorTime+301)), "in the future"},
		{"wrong key", signed(v.find(t, "signed_by_bob_claimed_by_alice"), "1700000000"), "bad signature"},
		{"other timestamp", signed(v.find(t, "signature_of_other_timestamp"), "1700000000"), "bad signature"},
		{"bad checksum", signed(v.find(t, "bad_ss58_checksum"), "1700000000"), "malformed X-Key"},
		{"missing key", map[string]string{"X-Timestamp": ts, "X-Signature": fresh["X-Signature"]}, "missing X-Key"},
		{"missing timestamp", map[string]string{"X-Key": alice.hotkey, "X-Signature": fresh["X-Signature"]}, "missing X-Timestamp"},
		{"missing signature", map[string]string{"X-Key": alice.hotkey, "X-Timestamp": ts}, "missing X-Signature"},
		{"malformed timestamp", map[string]string{"X-Key": alice.hotkey, "X-Timestamp": "1.7e9", "X-Signature": fresh["X-Signature"]}, "malformed X-Timestamp"},
		{"malformed signature", map[string]string{"X-Key": alice.hotkey, "X-Timestamp": ts, "X-Signature": "0xzz"}, "malformed X-Signature"},
		{"short signature", map[string]string{"X-Key": alice.hotkey, "X-Timestamp": ts, "X-Signature": "0xabcd"}, "want 64 bytes"},
		{"no headers", nil, "missing X-Key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := client{t, env.URL}
			c.expect(c.do("GET", "/api/v1/miners/stats", nil, tc.headers), 401, tc.fragment)
		})
	}

	// Recipient updates sign the recipient: the vectors bind 5FWf... (alice's coldkey).
	cold := generic["alice_cold"]
	raw := v.find(t, "alice_recipient_update_raw")
	got := c.expect(c.do("PUT", "/api/v1/miners/recipient-coldkey", map[string]string{"recipient_coldkey": cold}, signed(raw, "1700000000")), 200, "")
	if got["recipient_coldkey"] != cold || got["hotkey"] != generic["alice"] {
		t.Fatalf("update: %v", got)
	}
	// The legacy field name on the root compatibility route, <Bytes>-wrapped.
	wrapped := v.find(t, "alice_recipient_update_wrapped")
	c.expect(c.do("POST", "/coldkey_address/update", map[string]string{"coldkey_address": cold}, signed(wrapped, "1700000000")), 200, "")
	// A signature over another recipient, or over auth:{ts}, does not update.
	other := v.find(t, "signature_of_other_recipient")
	c.expect(c.do("POST", "/api/v1/miners/recipient-coldkey", map[string]string{"recipient_coldkey": cold}, signed(other, "1700000000")), 401, "bad signature")
	c.expect(c.do("POST", "/api/v1/miners/coldkey_address/update", map[string]string{"recipient_coldkey": cold}, alice.headers(t, ts)), 401, "bad signature")
	c.expect(c.do("PUT", "/api/v1/miners/recipient-coldkey", map[string]string{"recipient_coldkey": "not-an-address"}, alice.headers(t, ts)), 400, "not a valid SS58 address")
	c.expect(c.do("PUT", "/api/v1/miners/recipient-coldkey", map[string]string{"recipient_coldkey": cold, "coldkey_address": generic["bob"]}, alice.headers(t, ts)), 400, "differ")
	c.expect(c.do("PUT", "/api/v1/miners/recipient-coldkey", map[string]string{"recipient_coldkey": cold}, nil), 401, "missing X-Key")
	// Signed by the recipient's own update message of another key: a fresh Go key signing its own update works.
	bob := newSigner(t, 101)
	c.expect(c.do("POST", "/api/v1/miners/register", nil, bob.headers(t, ts)), 201, "")
	upd := map[string]string{"X-Key": bob.hotkey, "X-Timestamp": ts, "X-Signature": bob.sign(t, "recipient_coldkey:update:"+ts+":"+cold)}
	c.expect(c.do("POST", "/api/v1/miners/recipient-coldkey", map[string]string{"recipient_coldkey": cold}, upd), 200, "")

	// Lookups: the signed miner's own, and the public one by any SS58 form of the hotkey.
	own := c.expect(c.do("GET", "/api/v1/miners/recipient-coldkey", nil, alice.headers(t, ts)), 200, "")
	if own["hotkey"] != alice.hotkey || own["recipient_coldkey"] != nil {
		t.Errorf("own recipient of a miner that set none: %v", own)
	}
	var polkadotAlice string
	for _, a := range v.Accounts {
		if a.Name == "alice" {
			polkadotAlice = a.Addresses["0"]
		}
	}
	pub := c.expect(c.do("GET", "/api/v1/miners/recipient-coldkey/"+polkadotAlice, nil, nil), 200, "")
	if pub["recipient_coldkey"] != cold || pub["miner_hotkey"] != generic["alice"] {
		t.Errorf("public lookup: %v", pub)
	}
	c.expect(c.do("GET", "/api/v1/miners/recipient-coldkey/"+newSigner(t, 200).hotkey, nil, nil), 404, "not registered")
	c.expect(c.do("GET", "/api/v1/miners/recipient-coldkey/xyz", nil, nil), 400, "SS58")

	// An unregistered miner with a good signature is told to register.
	carol := newSigner(t, 150)
	c.expect(c.do("POST", "/api/v1/tasks/lease", nil, carol.headers(t, ts)), 403, "register")
}

// TestPoolPublicRoutes checks the disclaimer, /health and the
// leaderboard's bounds.
func TestPoolPublicRoutes(t *testing.T) {
	clk := newClock(vectorTime)
	env := start(t, storage.DialectSQLite, clk, pool.Config{})
	c := client{t, env.URL}
	for _, path := range []string{"/api/v1/disclaimer.md", "/disclaimer.md"} {
		r := c.do("GET", path, nil, nil)
		if r.status != 200 || r.header.Get("Content-Type") != "text/markdown; charset=utf-8" || len(r.body) < 100 {
			t.Errorf("%s: %d %s", path, r.status, r.header.Get("Content-Type"))
		}
	}
	d := c.expect(c.do("GET", "/api/v1/disclaimer", nil, nil), 200, "")
	if d["format"] != "markdown" || d["disclaimer"] == "" {
		t.Errorf("disclaimer %v", d)
	}
	h := c.expect(c.do("GET", "/health", nil, nil), 200, "")
	p, _ := h["pool"].(map[string]any)
	if h["status"] != "ok" || p == nil || p["tempo_seconds"] != float64(3600) || p["onchain"] != "disabled" ||
		p["window"] != float64(vectorTime/3600) || p["window_started_at"] != "2023-11-14T22:00:00Z" {
		t.Errorf("health %v", h)
	}
	c.expect(c.do("GET", "/api/v1/miners/leaderboard?limit=0", nil, nil), 400, "limit must be between 1 and 100")
	lb := c.expect(c.do("GET", "/api/v1/miners/leaderboard", nil, nil), 200, "")
	if lb["count"] != float64(0) {
		t.Errorf("leaderboard %v", lb)
	}
	s := c.expect(c.do("GET", "/api/v1/results/sota", nil, nil), 200, "")
	if s["task_type"] != "cifar10_binary" || s["sota_threshold"] != nil {
		t.Errorf("sota before any result: %v", s)
	}
	c.expect(c.do("GET", "/api/v1/results/sota?task_type=imagenet", nil, nil), 400, "not served")
}
