package agentapi_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/storage"
)

// BenchmarkHeartbeats measures signed heartbeats per second through the
// real HTTP stack, signature check, Redis replay cache and database write,
// against GET /health on the same server in the same run (the Fiber
// baseline), the two loads alternating in ten rounds. Set PROOFGRID_BENCH_DIALECT=postgres for PostgreSQL.
//
// Each load comes from a fixed number of concurrent senders, each sending
// its next request when the last is answered. With 16, too few
// heartbeats are under way to keep both cores busy while a batch commits
// (the machine idles 13 % of the time); 64 keep it busy, so that run
// measures what the coordinator can take. Both loads get the same senders.
//
//	scripts/testenv.sh go test -run '^$' -bench Heartbeats -benchtime 10000x ./coordinator/agentapi/
func BenchmarkHeartbeats(b *testing.B) {
	for _, senders := range []int{16, 64} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) { benchmarkHeartbeats(b, senders) })
	}
}

func benchmarkHeartbeats(b *testing.B, workers int) {
	dialect := storage.DialectSQLite
	if d := os.Getenv("PROOFGRID_BENCH_DIALECT"); d != "" {
		dialect = d
	}
	env := coordinatortest.Start(b, coordinatortest.Options{Dialect: dialect})
	token := env.Token("bench", auth.ModeWrite)

	const machines = 32
	type agent struct {
		id  string
		key ed25519.PrivateKey
	}
	agents := make([]agent, machines)
	for i := range agents {
		_, key, _ := ed25519.GenerateKey(nil)
		agents[i] = agent{enroll(b, env, token, key, proofgrid.RoleProver), key}
	}
	body := heartbeatBody(b)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers * 2}}

	run := func(from, to int, send func(i int) int) (took time.Duration, failed int64) {
		var next, bad atomic.Int64
		next.Store(int64(from))
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= to {
						return
					}
					if send(i) != 200 {
						bad.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start), bad.Load()
	}
	do := func(req *http.Request) int {
		resp, err := hc.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	health := func(int) int {
		req, _ := http.NewRequest("GET", env.URL+"/health", nil)
		return do(req)
	}
	// Requests are signed before their round starts: signing is the
	// agents' work, on their own machines, not the coordinator's.
	signatures := make([]string, b.N)
	sign := func(from, to int) {
		for i := from; i < to; i++ {
			a := agents[i%machines]
			n := make([]byte, 16)
			rand.Read(n)
			signatures[i] = proofgrid.SignRequest(a.key, a.id, "POST", "/proofgrid/v1/agents/heartbeat", body, time.Now(), hex.EncodeToString(n))
		}
	}
	heartbeat := func(i int) int {
		req, _ := http.NewRequest("POST", env.URL+"/proofgrid/v1/agents/heartbeat", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(proofgrid.SignatureHeader, signatures[i])
		return do(req)
	}
	// The two loads alternate in rounds, so that a change in what else
	// the machine runs weighs on both alike.
	const rounds = 10
	b.ResetTimer()
	var healthTook, heartbeatTook time.Duration
	var failed int64
	for r := range rounds {
		from, to := b.N*r/rounds, b.N*(r+1)/rounds
		took, _ := run(from, to, health)
		healthTook += took
		sign(from, to)
		took, bad := run(from, to, heartbeat)
		heartbeatTook += took
		failed += bad
	}
	b.StopTimer()
	baseline := float64(b.N) / healthTook.Seconds()
	rate := float64(b.N) / heartbeatTook.Seconds()
	if failed > 0 {
		b.Fatalf("%d heartbeats refused", failed)
	}
	b.ReportMetric(rate, "heartbeats/s")
	b.ReportMetric(baseline, "health_req/s")
	b.ReportMetric(rate/baseline, "ratio_to_health")
	b.ReportMetric(0, "ns/op")
}
