package psy_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/coordinator/psy"
	"github.com/proofgrid/proofgrid/registry"
	"github.com/proofgrid/proofgrid/storage"
)

// personalSign signs msg with Ethereum's personal_sign, as r ‖ s ‖ v.
func personalSign(sk *secp256k1.PrivateKey, msg []byte) string {
	compact := ecdsa.SignCompact(sk, registry.PersonalSignHash(msg), false)
	return "0x" + hex.EncodeToString(append(append([]byte{}, compact[1:]...), compact[0]))
}

// ethUser is a registered secp256k1 user.
type ethUser struct {
	sk      *secp256k1.PrivateKey
	key     string // compressed public key, canonical
	address string // canonical
	id      string
}

// registerEth registers a fresh secp256k1 key.
func registerEth(t *testing.T, c client) ethUser {
	t.Helper()
	sk, _ := secp256k1.GeneratePrivateKey()
	return registerEthKey(t, c, sk)
}

// registerEthKey registers sk's public key, compressed.
func registerEthKey(t *testing.T, c client, sk *secp256k1.PrivateKey) ethUser {
	t.Helper()
	u := ethUser{sk: sk, key: "0x" + hex.EncodeToString(sk.PubKey().SerializeCompressed())}
	k, err := registry.ParseKey(u.key)
	if err != nil {
		t.Fatal(err)
	}
	u.address = k.Address
	r := c.do("POST", "/register", mustJSON(t, registry.RegisterRequest{PublicKey: u.key, TwitterHandle: "@eth", Label: "eth",
		Signature: personalSign(sk, registry.RegistrationMessage(u.key, "@eth", "eth"))}), nil)
	c.expect(r, 200)
	var res struct {
		UserID string `json:"user_id"`
	}
	r.decode(t, &res)
	u.id = res.UserID
	return u
}

// ingestEth sends worker events signed by u.
func ingestEth(t *testing.T, c client, u ethUser, evs []map[string]any) response {
	t.Helper()
	body := mustJSON(t, map[string]any{"events": evs})
	nonce := make([]byte, 16)
	rand.Read(nonce)
	n, ts := hex.EncodeToString(nonce), time.Now().Unix()
	return c.do("POST", "/ingest/worker_events", body, map[string]string{
		registry.HeaderPublicKey: u.key, registry.HeaderTimestamp: strconv.FormatInt(ts, 10), registry.HeaderNonce: n,
		registry.HeaderSignature: personalSign(u.sk, registry.IngestMessage("POST", "/ingest/worker_events", ts, n, body)),
	})
}

// TestAggregationBucketDefaults checks that the aggregation routes answer
// without a bucket: 1h for the event aggregations, 1d for rewards.
func TestAggregationBucketDefaults(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{Configure: fastPsy()})
	c := client{t, env.URL}
	for _, path := range []string{"/worker_events_aggregations", "/user_events_aggregations", "/rewards_aggregations/0x01"} {
		r := c.get(path, nil)
		c.expect(r, 200)
		var rows []map[string]any
		r.decode(t, &rows)
		if rows == nil {
			t.Fatalf("%s: %s", path, r.body)
		}
	}
	// Registering records a user event; the default bucket is the hour.
	registerEth(t, c)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var def, hour []psy.UserEventAggregation
		// The hour first: once it shows the rollup, a later default read must too.
		c.get("/user_events_aggregations?bucket=1h", nil).decode(t, &hour)
		c.get("/user_events_aggregations", nil).decode(t, &def)
		if len(hour) == 1 {
			if len(def) != 1 || def[0] != hour[0] {
				t.Fatalf("default bucket %+v, 1h %+v", def, hour)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("user events never rolled up: %+v", hour)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.expectError(c.get("/worker_events_aggregations?bucket=5min", nil), 400)
	c.expectError(c.get("/rewards_aggregations/0x01?bucket=1h", nil), 400)
}

// contract is an admin ingest body of one contract.
func contract(uuid, deployer string) []byte {
	return []byte(fmt.Sprintf(`{"contracts": [{"uuid": %q, "deployer": %q, "state_tree_height": 4, "deployed_at": "2024-01-01T00:00:00Z",
		"functions": [{"name": "f", "method_id": 1}]}]}`, uuid, deployer))
}

// TestDeployEventsCarryTheUserID checks that a contract deployed by a
// registered key records its DeployContract user event under the user's
// id, in any form of the key; an unregistered deployer keeps its key.
func TestDeployEventsCarryTheUserID(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{Configure: fastPsy()})
	c := client{t, env.URL}
	admin := map[string]string{"Authorization": "Bearer " + env.AdminJWT()}
	u := registerEth(t, c)
	c.expect(c.do("POST", "/ingest/contracts", contract("c-key", strings.ToUpper(u.key[2:])), admin), 200)
	c.expect(c.do("POST", "/ingest/contracts", contract("c-address", u.address), admin), 200)
	c.expect(c.do("POST", "/ingest/contracts", contract("c-stranger", "0x"+strings.Repeat("ab", 20)), admin), 200)

	var evs []storage.PsyUserEvent
	c.get("/user_events?tx_type=DeployContract&user_id="+u.id, nil).decode(t, &evs)
	if len(evs) != 2 || evs[0].UserID != u.id || evs[1].UserID != u.id {
		t.Fatalf("deployments of user %s: %+v", u.id, evs)
	}
	c.get("/user_events?tx_type=DeployContract&user_id=0x"+strings.Repeat("ab", 20), nil).decode(t, &evs)
	if len(evs) != 1 {
		t.Fatalf("deployments of an unregistered key: %+v", evs)
	}
}

// TestContractDeployerNormalised checks that /contracts?deployer= finds a
// contract whatever the case of the hex or a missing 0x, on either side.
func TestContractDeployerNormalised(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{Configure: fastPsy()})
	c := client{t, env.URL}
	admin := map[string]string{"Authorization": "Bearer " + env.AdminJWT()}
	deployer := "0x" + strings.Repeat("ab", 20)
	c.expect(c.do("POST", "/ingest/contracts", contract("c-1", "0X"+strings.Repeat("AB", 20)), admin), 200)
	c.expect(c.do("POST", "/ingest/contracts", contract("c-2", strings.Repeat("ab", 20)), admin), 200)
	c.expect(c.do("POST", "/ingest/contracts", contract("c-3", "deployer-name"), admin), 200)
	for _, q := range []string{deployer, strings.ToUpper(deployer[2:]), "0x" + strings.ToUpper(deployer[2:])} {
		var list []psy.ContractView
		c.get("/contracts?deployer="+q, nil).decode(t, &list)
		if len(list) != 2 || list[0].Deployer != deployer || list[1].Deployer != deployer {
			t.Fatalf("contracts of %s: %+v", q, list)
		}
	}
	var list []psy.ContractView
	c.get("/contracts?deployer=deployer-name", nil).decode(t, &list)
	if len(list) != 1 || list[0].UUID != "c-3" {
		t.Fatalf("contracts of a deployer that is no key: %+v", list)
	}
}

// TestRewardsByAddress checks that the worker routes find a secp256k1
// worker by its Ethereum address as /user_info does, although its events
// and rewards are stored under its full key.
func TestRewardsByAddress(t *testing.T) {
	var u ethUser
	sk, _ := secp256k1.GeneratePrivateKey()
	key := "0x" + hex.EncodeToString(sk.PubKey().SerializeCompressed())
	env := coordinatortest.Start(t, coordinatortest.Options{Configure: fastPsy(key)})
	c := client{t, env.URL}
	admin := map[string]string{"Authorization": "Bearer " + env.AdminJWT()}
	u = registerEthKey(t, c, sk)

	end := time.Now().UTC()
	c.expect(ingestEth(t, c, u, []map[string]any{{"event_key": "1", "realm_id": 1, "topic": "prove", "circuit_type": "X",
		"job_id": "j1", "status": "Completed", "start_time": end.Add(-time.Second), "end_time": end}}), 200)
	deadline := time.Now().Add(30 * time.Second)
	var cp int64
	for {
		var wevs []psy.WorkerEventView
		c.get("/worker_events?public_key="+u.address, nil).decode(t, &wevs)
		if len(wevs) == 1 && wevs[0].CheckpointID != nil {
			cp = *wevs[0].CheckpointID
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("event not converted or not found by address: %+v", wevs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for {
		r := c.do("POST", fmt.Sprintf("/checkpoint/calculate-rewards/%d", cp), nil, admin)
		if r.status == 200 {
			break
		}
		if r.status != 409 || time.Now().After(deadline) {
			t.Fatalf("calculate rewards: %d %s", r.status, r.body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, k := range []string{u.address, strings.ToUpper(u.address[2:]), u.key} {
		var legacy psy.LegacyReward
		c.get(fmt.Sprintf("/rewards/%s?checkpoint_id=%d", k, cp), nil).decode(t, &legacy)
		if legacy.TotalRewards != 1000 || legacy.JobCount != 1 || legacy.WorkerPublicKey != u.key {
			t.Fatalf("rewards of %s: %+v", k, legacy)
		}
		var ws psy.WorkerStats
		c.get("/stats/workers/"+k, nil).decode(t, &ws)
		if ws.JobsCompleted24h != 1 || ws.TotalRewards != 1000 {
			t.Fatalf("worker stats of %s: %+v", k, ws)
		}
		var wrs psy.WorkerRewardStats
		c.get("/checkpoint/rewards/"+k+"/stats", nil).decode(t, &wrs)
		if wrs.TotalRewardsAllTime != 1000 {
			t.Fatalf("reward stats of %s: %+v", k, wrs)
		}
		var ra []map[string]any
		c.get("/rewards_aggregations/"+k+"?bucket=all_time", nil).decode(t, &ra)
		if len(ra) != 1 || ra[0]["total_rewards"].(float64) != 1000 {
			t.Fatalf("rewards aggregations of %s: %+v", k, ra)
		}
	}
}

// TestCalculateRewardsRefusesTypos checks that computing the rewards of a
// checkpoint before the origin or before the first checkpoint with events
// is refused and leaves no checkpoint behind, while an empty checkpoint
// after the first one may be computed.
func TestCalculateRewardsRefusesTypos(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{Configure: fastPsy()})
	c := client{t, env.URL}
	admin := map[string]string{"Authorization": "Bearer " + env.AdminJWT()}
	c.expectError(c.do("POST", "/checkpoint/calculate-rewards/5", nil, admin), 404) // no events at all
	c.expectError(c.do("POST", "/checkpoint/calculate-rewards/-1", nil, admin), 400)
	var cps []psy.CheckpointStats
	c.get("/checkpoint/stats", nil).decode(t, &cps)
	if len(cps) != 0 {
		t.Fatalf("checkpoints after refused calculations: %+v", cps)
	}

	u := registerEth(t, c)
	end := time.Now().UTC()
	c.expect(ingestEth(t, c, u, []map[string]any{{"event_key": "1", "realm_id": 1, "topic": "prove", "circuit_type": "X",
		"job_id": "j1", "status": "Completed", "start_time": end.Add(-time.Second), "end_time": end}}), 200)
	deadline := time.Now().Add(30 * time.Second)
	var cp int64
	for {
		var wevs []psy.WorkerEventView
		c.get("/worker_events", nil).decode(t, &wevs)
		if len(wevs) == 1 && wevs[0].CheckpointID != nil {
			cp = *wevs[0].CheckpointID
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("event not converted: %+v", wevs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := c.do("POST", fmt.Sprintf("/checkpoint/calculate-rewards/%d", cp-100), nil, admin)
	c.expectError(r, 404)
	if !strings.Contains(string(r.body), strconv.FormatInt(cp, 10)) {
		t.Fatalf("the refusal does not name the first checkpoint %d: %s", cp, r.body)
	}
	c.expectError(c.do("POST", "/checkpoint/calculate-rewards/5", nil, admin), 404)
	c.get("/checkpoint/stats", nil).decode(t, &cps)
	for _, s := range cps {
		if s.CheckpointID < cp {
			t.Fatalf("checkpoint %d before the first with events: %+v", s.CheckpointID, cps)
		}
	}
	// A later checkpoint without events is a real, empty window.
	for {
		r := c.do("POST", fmt.Sprintf("/checkpoint/calculate-rewards/%d", cp+1), nil, admin)
		if r.status == 200 {
			break
		}
		if r.status != 409 || time.Now().After(deadline) {
			t.Fatalf("calculate rewards of an empty checkpoint: %d %s", r.status, r.body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestIngestUnfinishedWithoutEndTime checks that Pending and InProgress
// events may leave out end_time (they have not ended: the time they were
// received stands in), while finished events still need it.
func TestIngestUnfinishedWithoutEndTime(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{Configure: fastPsy()})
	c := client{t, env.URL}
	u := registerEth(t, c)
	start := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	before := time.Now().UTC()
	r := ingestEth(t, c, u, []map[string]any{
		{"event_key": "p", "realm_id": 1, "topic": "prove", "circuit_type": "X", "job_id": "j", "status": "Pending", "start_time": start},
		{"event_key": "i", "realm_id": 1, "topic": "prove", "circuit_type": "X", "job_id": "j", "status": "InProgress", "start_time": start},
	})
	c.expect(r, 200)
	after := time.Now().UTC()
	var wevs []psy.WorkerEventView
	c.get("/worker_events?order=asc", nil).decode(t, &wevs)
	if len(wevs) != 2 || wevs[0].Status != "Pending" || wevs[1].Status != "InProgress" {
		t.Fatalf("events: %+v", wevs)
	}
	for _, e := range wevs {
		if !e.StartTime.Equal(start) || e.EndTime.Before(before.Truncate(time.Millisecond)) || e.EndTime.After(after) {
			t.Fatalf("event %s: start %s end %s, want end between %s and %s", e.Status, e.StartTime, e.EndTime, before, after)
		}
	}
	c.expectError(ingestEth(t, c, u, []map[string]any{{"event_key": "c", "realm_id": 1, "topic": "prove", "circuit_type": "X",
		"job_id": "j", "status": "Completed", "start_time": start}}), 400)
	c.expectError(ingestEth(t, c, u, []map[string]any{{"event_key": "f", "realm_id": 1, "topic": "prove", "circuit_type": "X",
		"job_id": "j", "status": "Pending", "start_time": time.Now().Add(time.Hour)}}), 400)
}

// TestRootErrorsInPsyShape checks a wrong method on a Psy route (405 with
// Allow) and an unknown root path (404) answer in the Psy error shape,
// while unknown paths under another surface's prefix keep that surface's.
func TestRootErrorsInPsyShape(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{Configure: fastPsy()})
	c := client{t, env.URL}
	for _, tc := range []struct{ method, path, allow string }{
		{"POST", "/worker_events", "GET"},
		{"DELETE", "/stats/jobs/counts", "GET"},
		{"GET", "/register", "POST"},
		{"PUT", "/checkpoint/calculate-rewards/1", "POST"},
	} {
		r := c.do(tc.method, tc.path, nil, nil)
		c.expectError(r, 405)
		if !strings.Contains(r.header.Get("Allow"), tc.allow) {
			t.Fatalf("%s %s: Allow %q, want %s", tc.method, tc.path, r.header.Get("Allow"), tc.allow)
		}
	}
	for _, p := range []string{"/no-such-route", "/worker_event", "/stats/nothing/here", "/v2/anything"} {
		c.expectError(c.get(p, nil), 404)
	}
	shape := func(path string) map[string]any {
		r := c.get(path, nil)
		c.expect(r, 404)
		var body map[string]any
		r.decode(t, &body)
		return body
	}
	if b := shape("/api/v0/no-such-route"); len(b) != 1 || b["error"] == nil {
		t.Fatalf("Ethproofs 404: %v", b)
	}
	if b := shape("/v1/no-such-route"); len(b) != 2 || b["result"] != nil || b["error"] == nil {
		t.Fatalf("Ivynet 404: %v", b)
	}
	if b := shape("/proofgrid/v1/no-such-route"); b["code"] == nil {
		t.Fatalf("proofgrid 404: %v", b)
	}
}
