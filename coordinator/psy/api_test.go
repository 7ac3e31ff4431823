package psy_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/fasthttp/websocket"

	"github.com/proofgrid/proofgrid/activity"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/coordinator/psy"
	"github.com/proofgrid/proofgrid/registry"
	"github.com/proofgrid/proofgrid/rewards"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

// client calls the coordinator's HTTP API.
type client struct {
	t    *testing.T
	base string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (c client) do(method, path string, body []byte, header map[string]string) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, b}
}

func (c client) get(path string, header map[string]string) response {
	return c.do("GET", path, nil, header)
}

func (c client) expect(r response, status int) {
	c.t.Helper()
	if r.status != status {
		c.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
}

// expectError checks the Psy error shape: exactly "error" and "details".
func (c client) expectError(r response, status int) {
	c.t.Helper()
	c.expect(r, status)
	var body map[string]any
	r.decode(c.t, &body)
	if _, ok := body["error"].(string); !ok || len(body) != 2 {
		c.t.Fatalf("error body %s is not {error, details}", r.body)
	}
	if _, ok := body["details"].(string); !ok {
		c.t.Fatalf("error body %s has no details string", r.body)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signedIngest builds the headers of a worker's signed ingest request.
func signedIngest(t *testing.T, key ed25519.PrivateKey, path string, body []byte) map[string]string {
	t.Helper()
	nonce := make([]byte, 16)
	rand.Read(nonce)
	ts := time.Now().Unix()
	n := hex.EncodeToString(nonce)
	sig := ed25519.Sign(key, registry.IngestMessage("POST", path, ts, n, body))
	return map[string]string{
		registry.HeaderPublicKey: "0x" + hex.EncodeToString(key.Public().(ed25519.PublicKey)),
		registry.HeaderTimestamp: strconv.FormatInt(ts, 10),
		registry.HeaderNonce:     n,
		registry.HeaderSignature: "0x" + hex.EncodeToString(sig),
	}
}

// fastPsy runs the Psy tasks every second with one-second checkpoints;
// trusted are the ingest keys whose events earn.
func fastPsy(trusted ...string) func(cfg *coordinator.Config) {
	return func(cfg *coordinator.Config) {
		cfg.Rewards = rewards.Config{
			CheckpointLength: time.Second, CheckpointGrace: time.Second, RewardPool: 1000,
			Weights:          map[string]int64{"UserRegistration": 3, "*": 1},
			RewardSweepEvery: time.Second, EventConversionEvery: time.Second,
			TrustedIngestKeys: trusted,
		}
		cfg.Psy = psy.Config{
			JobStatusRefreshEvery: time.Second, TPSBroadcastEvery: time.Second,
			Activity: activity.Config{StaleAfter: time.Minute},
		}
	}
}

// TestPsyAPI drives the surface end to end on both databases: signed
// registration, signed ingest from a key the operator trusts, the periodic
// tasks that convert events, close checkpoints and compute rewards through
// the outbox, the read endpoints, admin auth and the error shape.
func TestPsyAPI(t *testing.T) {
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			_, edKey, _ := ed25519.GenerateKey(rand.Reader)
			edPub := "0x" + hex.EncodeToString(edKey.Public().(ed25519.PublicKey))
			env := coordinatortest.Start(t, coordinatortest.Options{Dialect: dialect, Configure: fastPsy(edPub)})
			c := client{t, env.URL}

			// /health is the coordinator's, with the Psy status.
			var health map[string]any
			c.get("/health", nil).decode(t, &health)
			if health["status"] != "ok" {
				t.Fatalf("health: %v", health)
			}

			// Register an Ed25519 worker and a secp256k1 user.
			msg := registry.RegistrationMessage(edPub, "@prover", "Rig #1")
			reg := registry.RegisterRequest{PublicKey: edPub, TwitterHandle: "@prover", Label: "Rig #1",
				Signature: "0x" + hex.EncodeToString(ed25519.Sign(edKey, msg))}
			r := c.do("POST", "/register", mustJSON(t, reg), nil)
			c.expect(r, 200)
			var regRes struct {
				Success bool   `json:"success"`
				UserID  string `json:"user_id"`
			}
			r.decode(t, &regRes)
			if !regRes.Success || regRes.UserID == "" {
				t.Fatalf("register: %s", r.body)
			}
			if r.header.Get("X-RateLimit-Limit") != "1000" || r.header.Get("X-RateLimit-Remaining") == "" || r.header.Get("X-RateLimit-Reset") == "" {
				t.Fatalf("rate limit headers: %v", r.header)
			}
			c.expectError(c.do("POST", "/register", mustJSON(t, reg), nil), 409)
			bad := reg
			bad.Label = "Rig #2"
			c.expectError(c.do("POST", "/register", mustJSON(t, bad), nil), 401)

			sk, _ := secp256k1.GeneratePrivateKey()
			secPub := "0x" + hex.EncodeToString(sk.PubKey().SerializeCompressed())
			compact := ecdsa.SignCompact(sk, registry.PersonalSignHash(registry.RegistrationMessage(secPub, "@eth", "eth user")), false)
			sig := append(append([]byte{}, compact[1:]...), compact[0])
			c.expect(c.do("POST", "/register", mustJSON(t, registry.RegisterRequest{PublicKey: secPub, TwitterHandle: "@eth",
				Label: "eth user", Signature: "0x" + hex.EncodeToString(sig)}), nil), 200)

			// The same key in its uncompressed form has the same address.
			uncompressed := "0x" + hex.EncodeToString(sk.PubKey().SerializeUncompressed())
			compact = ecdsa.SignCompact(sk, registry.PersonalSignHash(registry.RegistrationMessage(uncompressed, "@eth", "eth user")), false)
			sig = append(append([]byte{}, compact[1:]...), compact[0])
			c.expectError(c.do("POST", "/register", mustJSON(t, registry.RegisterRequest{PublicKey: uncompressed, TwitterHandle: "@eth",
				Label: "eth user", Signature: "0x" + hex.EncodeToString(sig)}), nil), 409)
			c.expectError(c.do("POST", "/register", []byte(`{"public_key": "0x12"}`), nil), 400)

			var user storage.PsyUser
			c.get("/user_info?public_key="+strings.ToUpper(edPub[2:]), nil).decode(t, &user)
			if user.PublicKey != edPub || user.TwitterHandle != "@prover" || user.Label != "Rig #1" || user.KeyType != "ed25519" {
				t.Fatalf("user_info: %+v", user)
			}
			c.expectError(c.get("/user_info?public_key=0x"+strings.Repeat("00", 32), nil), 404)
			c.expectError(c.get("/user_info", nil), 400)

			// Signed ingest: events that ended two seconds ago.
			end := time.Now().Add(-2 * time.Second).UTC()
			var evs []activity.WorkerEventInput
			for i, ct := range []string{"UserRegistration", "UserRegistration", "ContractExecution", "ContractExecution"} {
				evs = append(evs, activity.WorkerEventInput{EventKey: fmt.Sprint(i), RealmID: 1, Topic: "prove", CircuitType: ct,
					JobID: fmt.Sprint("job-", i), Status: "Completed", StartTime: end.Add(-time.Second), EndTime: end})
			}
			evs = append(evs, activity.WorkerEventInput{EventKey: "f", RealmID: 1, Topic: "prove", CircuitType: "ContractExecution",
				JobID: "job-f", Status: "Failed", StartTime: end.Add(-time.Second), EndTime: end})
			body := mustJSON(t, map[string]any{"events": evs})
			headers := signedIngest(t, edKey, "/ingest/worker_events", body)
			r = c.do("POST", "/ingest/worker_events", body, headers)
			c.expect(r, 200)
			var ing activity.IngestResult
			r.decode(t, &ing)
			if ing.Accepted != 5 {
				t.Fatalf("ingest: %s", r.body)
			}
			c.expectError(c.do("POST", "/ingest/worker_events", body, headers), 401) // replayed nonce
			r = c.do("POST", "/ingest/worker_events", body, signedIngest(t, edKey, "/ingest/worker_events", body))
			r.decode(t, &ing)
			if ing.Accepted != 0 || ing.Duplicate != 5 {
				t.Fatalf("ingest again: %s", r.body)
			}
			_, stranger, _ := ed25519.GenerateKey(rand.Reader)
			c.expectError(c.do("POST", "/ingest/worker_events", body, signedIngest(t, stranger, "/ingest/worker_events", body)), 401)
			forged := signedIngest(t, stranger, "/ingest/worker_events", body)
			forged[registry.HeaderPublicKey] = edPub
			c.expectError(c.do("POST", "/ingest/worker_events", body, forged), 401)

			// Admin routes.
			c.expectError(c.get("/admin/checkpoint-processing-status", nil), 401)
			read := map[string]string{"Authorization": "Bearer " + env.Token("psy-readers", auth.ModeRead)}
			c.expectError(c.get("/admin/checkpoint-processing-status", read), 403)
			admin := map[string]string{"Authorization": "Bearer " + env.AdminJWT()}
			operatorToken := map[string]string{"Authorization": "Bearer " + env.OperatorToken("psy-admins")}
			c.expect(c.get("/admin/checkpoint-processing-status", operatorToken), 200)

			// The periodic tasks close the events' checkpoint and compute
			// its rewards through the outbox and the reward task.
			// Events that arrive after their window's grace go to the
			// current checkpoint: ask which one they went to.
			deadline := time.Now().Add(30 * time.Second)
			var cp int64
			for {
				var wevs []psy.WorkerEventView
				c.get("/worker_events?limit=1", nil).decode(t, &wevs)
				if len(wevs) == 1 && wevs[0].CheckpointID != nil {
					cp = *wevs[0].CheckpointID
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("events not converted: %+v", wevs)
				}
				time.Sleep(100 * time.Millisecond)
			}
			var ds []storage.PsyDistribution
			for {
				var st psy.ProcessingStatus
				c.get("/admin/checkpoint-processing-status", admin).decode(t, &st)
				if r := c.get(fmt.Sprintf("/checkpoint/distributions/%d", cp), nil); r.status == 200 {
					r.decode(t, &ds)
				}
				if st.LastProcessedCheckpoint != nil && *st.LastProcessedCheckpoint >= cp && len(ds) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("checkpoint %d not processed: %+v %s", cp, st, c.get(fmt.Sprintf("/checkpoint/stats/%d", cp), nil).body)
				}
				time.Sleep(200 * time.Millisecond)
			}
			// Points: 2 × 3 (UserRegistration) + 2 × 1 = 8 of a pool of 1000.
			if len(ds) != 2 || ds[0].CircuitType != "ContractExecution" || ds[0].TotalRewards != 250 || ds[1].TotalRewards != 750 || ds[0].WorkerPublicKey != edPub {
				t.Fatalf("distributions: %+v", ds)
			}
			var calc []storage.PsyDistribution
			c.expectError(c.do("POST", fmt.Sprintf("/checkpoint/calculate-rewards/%d", cp), nil, nil), 401)
			r = c.do("POST", fmt.Sprintf("/checkpoint/calculate-rewards/%d", cp), nil, admin)
			c.expect(r, 200)
			r.decode(t, &calc)
			if len(calc) != 2 || calc[0].ID != ds[0].ID || calc[1].TotalRewards != 750 {
				t.Fatalf("recalculated: %s", r.body)
			}
			c.expectError(c.do("POST", fmt.Sprintf("/checkpoint/calculate-rewards/%d", time.Now().Unix()+3600), nil, admin), 409)

			var summary psy.CheckpointSummary
			c.get(fmt.Sprintf("/checkpoint/summary/%d", cp), nil).decode(t, &summary)
			if summary.TotalRewards != 1000 || summary.TotalJobs != 5 || summary.ProcessingStatus != "Completed" || summary.RewardDistribution["UserRegistration"] != 750 {
				t.Fatalf("summary: %+v", summary)
			}
			var legacy psy.LegacyReward
			c.get(fmt.Sprintf("/rewards/%s?checkpoint_id=%d", edPub, cp), nil).decode(t, &legacy)
			if legacy.TotalRewards != 1000 || legacy.JobCount != 4 {
				t.Fatalf("legacy rewards: %+v", legacy)
			}
			c.expectError(c.get("/rewards/"+edPub, nil), 400)
			var wstats psy.WorkerStats
			c.get("/stats/workers/"+edPub, nil).decode(t, &wstats)
			if wstats.JobsCompleted24h != 4 || wstats.JobsFailed24h != 1 || wstats.SuccessRate != 0.8 || wstats.TotalRewards != 1000 {
				t.Fatalf("worker stats: %+v", wstats)
			}
			var board []psy.LeaderboardEntry
			c.get("/leaderboard/workers?limit=500", nil).decode(t, &board)
			if len(board) != 1 || board[0].Rank != 1 || board[0].TotalRewards24h != 1000 {
				t.Fatalf("leaderboard: %+v", board)
			}
			var wevs []psy.WorkerEventView
			c.get("/worker_events?realm_id=1&category=UserRegistration&limit=5000&order=asc", nil).decode(t, &wevs)
			if len(wevs) != 2 || wevs[0].CircuitType != "UserRegistration" || wevs[0].CheckpointID == nil {
				t.Fatalf("worker events by category: %+v", wevs)
			}
			c.get(fmt.Sprintf("/worker_events?from_checkpoint_id=%d&to_checkpoint_id=%d&status=Failed", cp, cp), nil).decode(t, &wevs)
			if len(wevs) != 1 || wevs[0].JobID != "job-f" {
				t.Fatalf("worker events by checkpoint: %+v", wevs)
			}
			var jobEvents []storage.PsyJobEvent
			c.get(fmt.Sprintf("/checkpoint/job-events/%d", cp), nil).decode(t, &jobEvents)
			if len(jobEvents) != 5 {
				t.Fatalf("job events: %d", len(jobEvents))
			}
			var uevs []storage.PsyUserEvent
			c.get("/user_events?tx_type=RegisterUser", nil).decode(t, &uevs)
			if len(uevs) != 2 {
				t.Fatalf("user events: %+v", uevs)
			}
			var wr psy.WorkerRewardResponse
			c.get("/checkpoint/rewards/"+edPub, nil).decode(t, &wr)
			if wr.TimePeriod != "1d" || wr.TotalRewards != 1000 || len(wr.Aggregations) != 1 {
				t.Fatalf("worker rewards: %+v", wr)
			}
			var wrs psy.WorkerRewardStats
			c.get("/checkpoint/rewards/"+edPub+"/stats", nil).decode(t, &wrs)
			if wrs.TotalRewardsAllTime != 1000 || wrs.FirstJobDate == nil || wrs.AverageRewardPerJob != 250 {
				t.Fatalf("worker reward stats: %+v", wrs)
			}
			var ra []map[string]any
			c.get("/rewards_aggregations/"+edPub+"?bucket=all_time", nil).decode(t, &ra)
			if len(ra) != 1 || ra[0]["total_rewards"].(float64) != 1000 {
				t.Fatalf("rewards aggregations: %+v", ra)
			}

			// Aggregations once the rollup ran.
			deadline = time.Now().Add(20 * time.Second)
			for {
				var jobs psy.JobSummary
				c.get("/stats/jobs?hours=1", nil).decode(t, &jobs)
				if jobs.TotalJobs == 5 && jobs.MaterializedViewHealthy {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("job summary: %+v", jobs)
				}
				time.Sleep(200 * time.Millisecond)
			}
			var agg []psy.EventAggregation
			c.get("/worker_events_aggregations?bucket=1h", nil).decode(t, &agg)
			if len(agg) != 1 || agg[0].TotalEvents != 5 || agg[0].CompletedEvents != 4 || agg[0].UniqueWorkers != 1 {
				t.Fatalf("aggregations: %+v", agg)
			}
			var counts map[string]int64
			c.get("/stats/jobs/counts", nil).decode(t, &counts)
			if counts["Completed"] != 4 || counts["Failed"] != 1 || len(counts) != 5 {
				t.Fatalf("counts: %v", counts)
			}
			var realms []psy.RealmJobs
			c.get("/stats/jobs/all-realms", nil).decode(t, &realms)
			if len(realms) != 1 || realms[0].RealmID != 1 || realms[0].SuccessRate != 0.8 {
				t.Fatalf("all realms: %+v", realms)
			}
			var realm psy.RealmStats
			c.get("/stats/realms/1", nil).decode(t, &realm)
			if realm.Jobs24h != 5 || realm.ActiveWorkers != 1 || realm.AverageCompletionTime != 1 {
				t.Fatalf("realm: %+v", realm)
			}
			c.expect(c.get("/stats/jobs/realm/1", nil), 200)
			c.expect(c.get("/stats/realms", nil), 200)
			var stats psy.Stats
			c.get("/stats", nil).decode(t, &stats)
			if stats.Status != "ok" || stats.WorkerEvents24h != 5 || stats.UserEvents24h != 2 || stats.BlockHeight < cp {
				t.Fatalf("stats: %+v", stats)
			}
			var cps []psy.CheckpointStats
			c.get(fmt.Sprintf("/checkpoint/stats?start_checkpoint=%d&end_checkpoint=%d", cp, cp), nil).decode(t, &cps)
			if len(cps) != 1 || cps[0].TotalRewardsDistributed != 1000 {
				t.Fatalf("checkpoint stats: %+v", cps)
			}

			// Contracts and user events through the admin ingest API.
			contracts := map[string]any{"contracts": []map[string]any{{
				"uuid": "contract-uuid-123", "deployer": secPub, "state_tree_height": 10, "deployed_at": "2024-01-01T00:00:00Z",
				"functions": []map[string]any{{"name": "transfer", "method_id": 12345678, "description": "Transfer tokens"}},
			}}}
			c.expectError(c.do("POST", "/ingest/contracts", mustJSON(t, contracts), read), 403)
			c.expect(c.do("POST", "/ingest/contracts", mustJSON(t, contracts), admin), 200)
			var contract psy.ContractView
			c.get("/contracts/contract-uuid-123", nil).decode(t, &contract)
			if contract.FunctionCount != 1 || contract.Functions[0].MethodID != 12345678 || contract.StateTreeHeight != 10 {
				t.Fatalf("contract: %+v", contract)
			}
			var list []psy.ContractView
			c.get("/contracts?deployer="+secPub+"&limit=100", nil).decode(t, &list)
			if len(list) != 1 {
				t.Fatalf("contracts: %+v", list)
			}
			c.expectError(c.get("/contracts/nope", nil), 404)
			c.expect(c.do("POST", "/ingest/user_events", mustJSON(t, map[string]any{"events": []map[string]any{{
				"event_key": "tx-1", "user_id": "42", "public_key": secPub, "tx_type": "UserTransaction", "timestamp": time.Now().UTC(),
			}}}), admin), 200)

			// Parameter errors in the Psy shape.
			c.expectError(c.get("/worker_events_aggregations?bucket=5min", nil), 400)
			c.expectError(c.get("/rewards_aggregations/"+edPub+"?bucket=1h", nil), 400)
			c.expectError(c.get("/checkpoint/rewards/"+edPub+"?time_period=3d", nil), 400)
			c.expectError(c.get("/worker_events?status=Done", nil), 400)
			c.expectError(c.get("/worker_events?order=up", nil), 400)
			c.expectError(c.get("/worker_events?category=Mining", nil), 400)
			c.expectError(c.get("/user_events?start_time=yesterday", nil), 400)
			c.expectError(c.get("/checkpoint/summary/999999999999", nil), 404)
			c.expectError(c.get("/checkpoint/stats/abc", nil), 400)
			c.expectError(c.get("/ws/tps", nil), 400)
		})
	}
}

// TestTPSWebSocket connects real WebSocket clients to two coordinator
// replicas that share Redis and the database: each receives the TPS
// broadcast, whichever replica's worker ran the task.
func TestTPSWebSocket(t *testing.T) {
	a := coordinatortest.Start(t, coordinatortest.Options{Configure: fastPsy()})
	b := coordinatortest.Start(t, coordinatortest.Options{Redis: a.Redis, DatabaseURL: a.DatabaseURL, Configure: fastPsy()})
	started := time.Now()
	defer func() { t.Logf("took %v", time.Since(started)) }()
	for _, env := range []*coordinatortest.Env{a, b} {
		url := "ws" + strings.TrimPrefix(env.URL, "http") + "/ws/tps"
		conn, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatalf("dial %s: %v", url, err)
		}
		defer conn.Close()
		conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		var seen []time.Time
		for len(seen) < 2 {
			_, data, err := conn.ReadMessage()
			if err != nil {
				t.Fatalf("read from %s: %v", env.URL, err)
			}
			var m psy.TPS
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatalf("message %s: %v", data, err)
			}
			if m.Timestamp.IsZero() || m.TPS < 0 {
				t.Fatalf("message %s", data)
			}
			seen = append(seen, m.Timestamp)
		}
		// A client that sends more than the read limit is disconnected.
		if err := conn.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("x"), 4096)); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			_, _, err := conn.ReadMessage()
			if err == nil {
				continue
			}
			if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
				t.Fatalf("after an oversized message: %v, want close %d", err, websocket.CloseMessageTooBig)
			}
			break
		}
		t.Logf("%s: %d messages, then closed", env.URL, len(seen))
	}
}

// TestRateLimit checks the 429 answer and its headers.
func TestRateLimit(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{Configure: func(cfg *coordinator.Config) {
		cfg.Psy.RateLimit, cfg.Psy.RateWindow = 3, time.Minute
	}})
	c := client{t, env.URL}
	for i := range 3 {
		r := c.get("/stats", nil)
		c.expect(r, 200)
		if r.header.Get("X-RateLimit-Remaining") != strconv.Itoa(2-i) {
			t.Fatalf("remaining after %d: %q", i+1, r.header.Get("X-RateLimit-Remaining"))
		}
	}
	r := c.get("/stats", nil)
	c.expectError(r, 429)
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if reset, _ := strconv.ParseInt(r.header.Get("X-RateLimit-Reset"), 10, 64); reset < time.Now().Unix() {
		t.Fatalf("X-RateLimit-Reset %q", r.header.Get("X-RateLimit-Reset"))
	}
	// Other surfaces are not counted.
	c.expect(c.get("/health", nil), 200)
}
