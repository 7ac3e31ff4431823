package golf_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/agent/verifier"
	"github.com/proofgrid/proofgrid/coordinator"
	golfapi "github.com/proofgrid/proofgrid/coordinator/golf"
	"github.com/proofgrid/proofgrid/storage"
)

func submissionBody(tb testing.TB) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range valid("100", "100") {
		if p.filename != "" {
			fw, _ := w.CreateFormFile(p.field, p.filename)
			fw.Write(p.data)
		} else {
			w.WriteField(p.field, string(p.data))
		}
	}
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

func post(tb testing.TB, url, token string, body []byte, ct string) int {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// BenchmarkIntake measures accepted submissions per second (multipart
// parse, rules, caps, one transaction with the outbox row) beside GET
// /health in the same run, with 4 clients in parallel. No verifier runs,
// so the submissions stay pending and the caps are set out of reach.
func BenchmarkIntake(b *testing.B) {
	env, _ := startCoordinator(b, storage.DialectSQLite, func(cfg *coordinator.Config) {
		cfg.Golf.MaxQueued, cfg.Golf.MaxActivePerUser = 1<<30, 1<<30
	})
	tok := golfToken(b, env, "bench")
	body, ct := submissionBody(b)
	url := env.URL + golfapi.Prefix + "/challenges/assert-bytes/submissions"
	b.Run("submit", func(b *testing.B) {
		b.SetParallelism(1) // GOMAXPROCS clients
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if s := post(b, url, tok, body, ct); s != 201 {
					b.Errorf("status %d", s)
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	})
	b.Run("health", func(b *testing.B) {
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := http.Get(env.URL + "/health")
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	})
}

// BenchmarkSubmitToCheckerStart measures, for each submission made while
// the verifier agent is idle, the time from sending the submission to
// the checker starting: intake, outbox relay, asynq, the agent's start,
// project and files requests and the layout. Run with -benchtime=50x.
func BenchmarkSubmitToCheckerStart(b *testing.B) {
	env, _ := startCoordinator(b, storage.DialectSQLite, func(cfg *coordinator.Config) {
		cfg.Golf.MaxQueued, cfg.Golf.MaxActivePerUser = 1<<30, 1<<30
	})
	tok := golfToken(b, env, "bench")
	started := make(chan time.Time, 1)
	startVerifier(b, env, "bench-verifier", verifier.Config{Checker: verifier.Lint{}, OnStart: func(string) { started <- time.Now() }})
	body, ct := submissionBody(b)
	url := env.URL + golfapi.Prefix + "/challenges/assert-bytes/submissions"
	// Warm up: enrolment, the project fetch.
	post(b, url, tok, body, ct)
	<-started
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		time.Sleep(300 * time.Millisecond) // the verifier is idle again
		t0 := time.Now()
		if s := post(b, url, tok, body, ct); s != 201 {
			b.Fatalf("status %d", s)
		}
		select {
		case t1 := <-started:
			lat = append(lat, t1.Sub(t0))
		case <-time.After(30 * time.Second):
			b.Fatal("checker did not start")
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median_ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "worst_ms")
}

// BenchmarkLogWhileChecking measures the latency of the log endpoint,
// polled by the owner, while a checker writes about 1 MB of output.
func BenchmarkLogWhileChecking(b *testing.B) {
	env, c := startCoordinator(b, storage.DialectSQLite, func(cfg *coordinator.Config) {
		cfg.Golf.MaxLogBytes = 4 << 20
	})
	tok := golfToken(b, env, "bench")
	// 40 rounds of 26 KB of text, 0.1 s apart: about 1 MB over 4 s.
	script := "i=0; while [ $i -lt 40 ]; do head -c 19500 /dev/zero | base64; sleep 0.1; i=$((i+1)); done"
	startVerifier(b, env, "bench-verifier", verifier.Config{Checker: verifier.Exec{Command: []string{"sh", "-c", script}, Timeout: time.Minute}})
	var lat []time.Duration
	var bytesRead atomic.Int64
	b.ResetTimer()
	for range b.N {
		var s submitted
		c.submit("assert-bytes", tok, valid("1", "1")...).json(b, &s)
		var offset int64
		for {
			t0 := time.Now()
			p := c.log(s.ID, tok, offset)
			lat = append(lat, time.Since(t0))
			bytesRead.Add(int64(len(p.Text)))
			offset = p.NextOffset
			if (p.Status == "verified" || p.Status == "failed") && p.Text == "" {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(len(lat))/float64(b.N), "polls/op")
	b.ReportMetric(float64(bytesRead.Load())/float64(b.N)/1e6, "MB/op")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max_ms")
}
