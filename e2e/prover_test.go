package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/queue/queuetest"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

// call sends an authenticated JSON request and decodes the answer.
func call(t *testing.T, token, method, url string, in, out any) int {
	t.Helper()
	var body bytes.Buffer
	if in != nil {
		json.NewEncoder(&body).Encode(in)
	}
	req, _ := http.NewRequest(method, url, &body)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

type proofList struct {
	Proofs []struct {
		ProofID      int64  `json:"proof_id"`
		BlockNumber  int64  `json:"block_number"`
		ProofStatus  string `json:"proof_status"`
		Verification struct {
			Status string `json:"status"`
		} `json:"proofgrid_verification"`
	} `json:"proofs"`
}

// A prover agent killed with SIGKILL in the middle of a proof loses
// nothing: once asynq's lease on the task expires, another agent of the
// cluster proves the block, and the block ends with exactly one proof,
// verified.
func TestKilledProverAgentsBlockIsProvedByAnother(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the killed agent's asynq server to leave the registry (about 15 s)")
	}
	t.Parallel() // the wait overlaps the other end-to-end tests
	redis := queuetest.StartRedis(t, queuetest.Options{})
	port := freePort(t)
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	env := []string{
		"PROOFGRID_DATABASE_URL=" + storagetest.URL(t, storage.DialectSQLite),
		"PROOFGRID_REDIS_URL=" + redis.URL(),
		"PROOFGRID_HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"PROOFGRID_HEARTBEAT_INTERVAL=1s",
		"PROOFGRID_DATA_DIR=" + t.TempDir(),
		"JWT_SECRET=e2e-secret-0123456789abcdef0123456789",
		// The test polls the proofs every 100 ms.
		"PROOFGRID_ETHPROOFS_RATE_LIMIT=-1",
	}
	// The operator token records blocks (global) and, as a token of team
	// provers, creates the team's cluster.
	token := func(args ...string) string {
		cmd := exec.Command(bins.coordinator, append([]string{"token", "create", "--team", "provers"}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("token create: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	operator, write := token("--operator"), token("--mode", "write")
	start(t, env, bins.coordinator, "serve")
	waitReady(t, url)

	// The demo zkVM has version id 1 in the built-in catalogue.
	if code := call(t, operator, "POST", url+"/api/v0/clusters", map[string]any{
		"name": "kill-test", "zkvm_version_id": 1, "num_gpus": 1, "hardware_description": "e2e", "deployment_type": "on-prem",
	}, nil); code != 200 && code != 201 {
		t.Fatalf("create cluster: %d", code)
	}
	var clusters []struct {
		UUID string `json:"uuid"`
	}
	call(t, operator, "GET", url+"/api/v0/clusters", nil, &clusters)
	if len(clusters) != 1 || clusters[0].UUID == "" {
		t.Fatalf("clusters: %+v", clusters)
	}
	agentEnv := []string{"PROOFGRID_AGENT_TOKEN=" + write}
	agentArgs := func(steps string) []string {
		return []string{"run", "--coordinator", url, "--role", "prover", "--cluster", clusters[0].UUID,
			"--state-dir", t.TempDir(), "--interval", "1s", "--demo-steps", steps}
	}
	// The first agent gets a proof that takes about a minute of hashing.
	slow := start(t, agentEnv, bins.agent, agentArgs("100000000")...)
	if code := call(t, operator, "POST", url+"/api/v0/blocks", map[string]any{
		"block_number": 7, "hash": "0x" + strings.Repeat("ab", 32),
	}, nil); code != 200 && code != 201 {
		t.Fatalf("record block: %d", code)
	}
	proofs := func() proofList {
		var l proofList
		call(t, operator, "GET", url+"/api/v0/proofs?block=7", nil, &l)
		return l
	}
	waitFor(t, 60*time.Second, "the first agent to start proving", func() bool {
		l := proofs()
		return len(l.Proofs) == 1 && l.Proofs[0].ProofStatus == "proving"
	})
	slow.cmd.Process.Kill()
	slow.cmd.Wait()
	killed := time.Now()

	start(t, agentEnv, bins.agent, agentArgs("1000")...)
	var final proofList
	// asynq alone gives the task back 60 to 120 s after the kill (lease
	// plus its recoverer's cutoff and tick); the coordinator's reclaimer
	// does once the task's lease went 10 s unextended, the dead server
	// has left asynq's registry (10 s) and a second pass confirmed it.
	waitFor(t, 50*time.Second, "another agent to prove and the coordinator to verify the block", func() bool {
		final = proofs()
		return len(final.Proofs) == 1 && final.Proofs[0].ProofStatus == "proved" && final.Proofs[0].Verification.Status == "valid"
	})
	t.Logf("block proved and verified %v after the first agent was killed", time.Since(killed).Round(time.Millisecond))
	if len(final.Proofs) != 1 {
		t.Fatalf("block 7 has %d proofs, want exactly 1: %s", len(final.Proofs), fmt.Sprint(final))
	}
}
