package console_test

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/storage"
)

// benchMachines is the fleet size of the benchmarks: 10 000, or
// PROOFGRID_BENCH_MACHINES.
func benchMachines(b *testing.B) int {
	n := 10000
	if v := os.Getenv("PROOFGRID_BENCH_MACHINES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("PROOFGRID_BENCH_MACHINES=%q is not a positive count", v)
		}
	}
	return n
}

// benchFleet starts a coordinator whose team "bench" has n machines with
// one heartbeat each, and returns it with a read token of that team.
func benchFleet(b *testing.B, dialect string, n int) (*coordinatortest.Env, string) {
	env := coordinatortest.Start(b, coordinatortest.Options{Dialect: dialect})
	tok := env.Token("bench", auth.ModeRead)
	team := teamID(b, env, "bench")
	workers := 1
	if dialect == storage.DialectPostgres {
		workers = 8 // SQLite has one writer anyway
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				addMachine(b, env, team, fmt.Sprintf("machine-%05d", i), "", 1)
			}
		})
	}
	wg.Wait()
	b.Logf("%s: %d machines stored in %s", dialect, n, time.Since(start).Round(time.Millisecond))
	return env, tok
}

// BenchmarkFleetPage measures the server time of the fleet page (first
// page of 50 rows, summary cards and state counts over the whole fleet)
// with 10 000 machines, over HTTP with a signed-in session. Each iteration
// also times GET /health on the same server, so the report carries a ratio
// that does not depend on the host's speed:
//
//	scripts/testenv.sh go test -run '^$' -bench FleetPage -benchtime 20x ./coordinator/console/
func BenchmarkFleetPage(b *testing.B) {
	n := benchMachines(b)
	for _, dialect := range []string{storage.DialectSQLite, storage.DialectPostgres} {
		b.Run(fmt.Sprintf("%s/machines=%d", dialect, n), func(b *testing.B) {
			env, tok := benchFleet(b, dialect, n)
			br := newBrowser(b, env)
			br.signIn(tok)
			fetch := func(path string) (time.Duration, int) {
				t0 := time.Now()
				p := br.get(path)
				if p.status != http.StatusOK {
					b.Fatalf("GET %s: %d", path, p.status)
				}
				return time.Since(t0), len(p.body)
			}
			// Which states the fleet is in decides how many stored
			// judgements a read goes through (those due by now).
			var states []string
			for _, m := range countRE.FindAllStringSubmatch(br.get("/ui/machines").body, -1) {
				states = append(states, m[1]+"="+m[2])
			}
			b.Logf("%s: fleet states %s", dialect, strings.Join(states, " "))
			var page, health time.Duration
			var size int
			b.ResetTimer()
			for range b.N {
				d, s := fetch("/ui/machines")
				page, size = page+d, s
				h, _ := fetch("/health")
				health += h
			}
			b.StopTimer()
			b.ReportMetric(float64(page.Microseconds())/float64(b.N)/1000, "page_ms")
			b.ReportMetric(float64(health.Microseconds())/float64(b.N)/1000, "health_ms")
			b.ReportMetric(float64(page)/float64(max(health, 1)), "page/health")
			b.ReportMetric(float64(size)/1024, "html_KiB")
		})
	}
}

// BenchmarkFleetPageBrowser loads the fleet page of a 10 000-machine
// fleet in headless Chromium and reports the browser's own timings
// (Navigation Timing and Paint Timing) and the page weight (HTML, CSS and
// script as transferred):
//
//	scripts/testenv.sh go test -run '^$' -bench FleetPageBrowser -benchtime 5x ./coordinator/console/
func BenchmarkFleetPageBrowser(b *testing.B) {
	n := benchMachines(b)
	env, tok := benchFleet(b, storage.DialectSQLite, n)
	ctx := newChrome(b)
	do(b, ctx, "sign in", signIn(env.URL, tok))
	type timing struct {
		TTFB, DOM, Load, FCP, Bytes float64
	}
	var sum timing
	b.ResetTimer()
	for range b.N {
		do(b, ctx, "load", chromedp.Navigate(env.URL+"/ui/machines"), chromedp.WaitVisible(chromedp.CSS("table.machines")))
		t := value(b, ctx, "timings", chromedp.Evaluate[timing](`(() => {
			const n = performance.getEntriesByType("navigation")[0];
			const p = performance.getEntriesByName("first-contentful-paint")[0];
			const res = performance.getEntriesByType("resource");
			let bytes = n.encodedBodySize;
			for (const r of res) bytes += r.encodedBodySize;
			return {TTFB: n.responseStart, DOM: n.domContentLoadedEventEnd, Load: n.loadEventEnd,
			        FCP: p ? p.startTime : 0, Bytes: bytes};
		})()`))
		sum.TTFB += t.TTFB
		sum.DOM += t.DOM
		sum.Load += t.Load
		sum.FCP += t.FCP
		sum.Bytes = max(sum.Bytes, t.Bytes) // later loads come from the cache
	}
	b.StopTimer()
	N := float64(b.N)
	b.ReportMetric(sum.TTFB/N, "ttfb_ms")
	b.ReportMetric(sum.FCP/N, "fcp_ms")
	b.ReportMetric(sum.DOM/N, "dcl_ms")
	b.ReportMetric(sum.Load/N, "load_ms")
	b.ReportMetric(sum.Bytes/1024, "weight_KiB")
}
