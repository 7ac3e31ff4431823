package psy_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/activity"
	"github.com/proofgrid/proofgrid/auth"
	pgclient "github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/coordinator/psy"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/registry"
	"github.com/proofgrid/proofgrid/rewards"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

// TestUntrustedIngestDrawsNothing is the attack on the reward pool: a key
// registered anonymously ingests a thousand made-up Completed events in
// the checkpoint where an enrolled agent proves a block, and the
// coordinator verifies the proof. The agent gets the whole pool; the
// untrusted key and the coordinator's verification get nothing, while
// /worker_events still lists every event.
func TestUntrustedIngestDrawsNothing(t *testing.T) {
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			testUntrustedIngest(t, dialect)
		})
	}
}

func testUntrustedIngest(t *testing.T, dialect string) {
	const cpLen = 10 * time.Second
	env := coordinatortest.Start(t, coordinatortest.Options{Dialect: dialect, Configure: func(cfg *coordinator.Config) {
		fastPsy()(cfg)
		cfg.Rewards.CheckpointLength, cfg.Rewards.CheckpointGrace = cpLen, 5*time.Second
		cfg.Ethproofs.RateLimit = 100000
	}})
	c := client{t, env.URL}
	ctx := context.Background()
	admin := map[string]string{"Authorization": "Bearer " + env.AdminJWT()}

	// An enrolled prover agent of a team's cluster proves block 7.
	write := env.Token("provers", auth.ModeWrite)
	c.expect(c.do("POST", "/api/v0/clusters", mustJSON(t, map[string]any{"name": "rig", "zkvm_version_id": 1}),
		map[string]string{"Authorization": "Bearer " + write}), 200)
	var clusters []struct {
		ID   int64  `json:"id"`
		UUID string `json:"uuid"`
	}
	c.get("/api/v0/clusters", map[string]string{"Authorization": "Bearer " + write}).decode(t, &clusters)
	if len(clusters) != 1 {
		t.Fatalf("clusters: %+v", clusters)
	}
	hash := "0x" + hex.EncodeToString(make([]byte, 32))
	r := c.do("POST", "/api/v0/blocks", mustJSON(t, map[string]any{"block_number": 7, "hash": hash, "gas_used": 1, "transaction_count": 1}),
		map[string]string{"Authorization": "Bearer " + env.OperatorToken("ops")})
	if r.status != 200 && r.status != 201 {
		t.Fatalf("record block: %d %s", r.status, r.body)
	}
	api, err := pgclient.New(env.URL, pgclient.Options{HTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	_, agentKey, _ := ed25519.GenerateKey(rand.Reader)
	enrolled, err := api.Enroll(ctx, write, agentKey, proofgrid.EnrollRequest{Name: "rig-1", Role: proofgrid.RoleProver,
		ClusterID: clusters[0].UUID, AgentVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.DoSigned(ctx, http.MethodPost, pgclient.PathProofsProved, enrolled.MachineID, agentKey,
		pgclient.ProvedReport{BlockNumber: 7, ClusterID: clusters[0].ID, ProvingTime: 1500, Proof: []byte("not a real proof")}, nil); err != nil {
		t.Fatal(err)
	}
	proved, err := env.Coordinator.DB.WorkerEvents(ctx, storage.WorkerEventFilter{Topic: queue.TypeProveBlock, Limit: 10})
	if err != nil || len(proved) != 1 {
		t.Fatalf("proved events: %+v %v", proved, err)
	}
	agent, end := proved[0].WorkerPublicKey, proved[0].EndTime

	// Anyone registers a key and reports a thousand jobs of its own that
	// ended when the agent's did.
	_, attacker, _ := ed25519.GenerateKey(rand.Reader)
	attackerPub := "0x" + hex.EncodeToString(attacker.Public().(ed25519.PublicKey))
	c.expect(c.do("POST", "/register", mustJSON(t, registry.RegisterRequest{PublicKey: attackerPub, TwitterHandle: "@x", Label: "x",
		Signature: hex.EncodeToString(ed25519.Sign(attacker, registry.RegistrationMessage(attackerPub, "@x", "x")))}), nil), 200)
	var evs []activity.WorkerEventInput
	for i := range activity.MaxIngestEvents {
		evs = append(evs, activity.WorkerEventInput{EventKey: fmt.Sprint(i), Topic: "prove", CircuitType: "UserRegistration",
			JobID: fmt.Sprint("job-", i), Status: "Completed", StartTime: end.Add(-time.Second), EndTime: end})
	}
	body := mustJSON(t, map[string]any{"events": evs})
	r = c.do("POST", "/ingest/worker_events", body, signedIngest(t, attacker, "/ingest/worker_events", body))
	c.expect(r, 200)

	// Wait until the agent's checkpoint and the verification's are
	// processed.
	checkpointOf := func(q string) int64 {
		t.Helper()
		deadline := time.Now().Add(40 * time.Second)
		for {
			var wevs []psy.WorkerEventView
			c.get("/worker_events?limit=1&"+q, nil).decode(t, &wevs)
			if len(wevs) == 1 && wevs[0].CheckpointID != nil {
				return *wevs[0].CheckpointID
			}
			if time.Now().After(deadline) {
				t.Fatalf("no converted event for %s: %+v", q, wevs)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	cp := checkpointOf("topic=" + queue.TypeProveBlock)
	if got := checkpointOf("public_key=" + attackerPub); got != cp {
		t.Fatalf("the ingested events went to checkpoint %d, the agent's job to %d", got, cp)
	}
	verifyCP := checkpointOf("topic=" + queue.TypeProofVerify)
	deadline := time.Now().Add(40 * time.Second)
	for {
		var st psy.ProcessingStatus
		c.get("/admin/checkpoint-processing-status", admin).decode(t, &st)
		if st.LastProcessedCheckpoint != nil && *st.LastProcessedCheckpoint >= max(cp, verifyCP) && st.PendingCount == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoints %d and %d not processed: %+v", cp, verifyCP, st)
		}
		time.Sleep(200 * time.Millisecond)
	}

	var ds []storage.PsyDistribution
	c.get(fmt.Sprintf("/checkpoint/distributions/%d", cp), nil).decode(t, &ds)
	if len(ds) != 1 || ds[0].WorkerPublicKey != agent || ds[0].TotalRewards != 1000 {
		t.Fatalf("distribution of checkpoint %d = %+v; want the agent %s alone with the whole pool", cp, ds, agent)
	}
	for _, id := range []int64{cp, verifyCP} {
		c.get(fmt.Sprintf("/checkpoint/distributions/%d", id), nil).decode(t, &ds)
		for _, d := range ds {
			if d.WorkerPublicKey == attackerPub || d.WorkerPublicKey == rewards.CoordinatorWorker {
				t.Fatalf("checkpoint %d rewards %s: %+v", id, d.WorkerPublicKey, d)
			}
		}
	}
	var legacy psy.LegacyReward
	c.get(fmt.Sprintf("/rewards/%s?checkpoint_id=%d", attackerPub, cp), nil).decode(t, &legacy)
	if legacy.TotalRewards != 0 {
		t.Fatalf("the untrusted key earned %d", legacy.TotalRewards)
	}
	// Shown, not rewarded: every event is listed and counted.
	var listed []psy.WorkerEventView
	c.get("/worker_events?limit=1000&public_key="+attackerPub, nil).decode(t, &listed)
	if len(listed) != activity.MaxIngestEvents {
		t.Fatalf("/worker_events lists %d of the untrusted key's events", len(listed))
	}
	var stats psy.CheckpointStats
	c.get(fmt.Sprintf("/checkpoint/stats/%d", cp), nil).decode(t, &stats)
	if stats.CompletedJobs < int64(activity.MaxIngestEvents)+1 || stats.TotalRewardsDistributed != 1000 {
		t.Fatalf("checkpoint stats: %+v", stats)
	}
}
