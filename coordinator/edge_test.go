package coordinator_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
)

// A body is refused when any Content-Encoding header names a coding, not
// only the first: Fiber inflates by the last one, without a limit.
func TestRefusesContentCodingInAnyHeader(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(bytes.Repeat([]byte(" "), 4<<20))
	w.Close()
	for name, values := range map[string][]string{
		"identity then gzip": {"identity", "gzip"},
		"one list":           {"identity, gzip"},
		"gzip":               {"GZIP"},
	} {
		req, _ := http.NewRequest("POST", env.URL+"/proofgrid/v1/agents/enroll", bytes.NewReader(gz.Bytes()))
		req.Header["Content-Encoding"] = values
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 415 || !strings.Contains(string(b), `"code":"unsupported"`) {
			t.Errorf("%s: %d %s, want 415", name, resp.StatusCode, b)
		}
	}
	// identity alone is no coding.
	req, _ := http.NewRequest("GET", env.URL+"/health", nil)
	req.Header["Content-Encoding"] = []string{"identity", "Identity"}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("identity: %d", resp.StatusCode)
	}
}

var methodLabel = regexp.MustCompile(`proofgrid_http_requests_total\{method="([^"]*)"`)

// Method labels must not alias fasthttp's request buffers: when they did,
// later requests on the connection rewrote "GET" into "POS" and /metrics
// failed on duplicate series.
func TestMetricsMethodLabelsStayValid(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"}
	paths := []string{"/health", "/readyz", "/proofgrid/v1/machines", "/api/v0/zkvms", "/no-such-route"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			// One keep-alive connection per goroutine, so requests reuse
			// the server's buffers.
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for i := range 60 {
				m := methods[(g+i)%len(methods)]
				req, _ := http.NewRequest(m, env.URL+paths[(g*7+i)%len(paths)], strings.NewReader(strings.Repeat("x", i)))
				if m == "GET" || m == "HEAD" {
					req.Body, req.ContentLength = nil, 0
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	status, _, body := get(t, env.URL+"/metrics", nil)
	if status != 200 {
		t.Fatalf("/metrics: %d %.300s", status, body)
	}
	valid := map[string]bool{}
	for _, m := range methods {
		valid[m] = true
	}
	seen := map[string]bool{}
	for _, m := range methodLabel.FindAllStringSubmatch(body, -1) {
		if !valid[m[1]] {
			t.Errorf("method label %q", m[1])
		}
		seen[m[1]] = true
	}
	if len(seen) < 5 {
		t.Fatalf("method labels %v, want most of %v", seen, methods)
	}
}

// rawRequest sends head and then part of a body on a new connection and
// returns the status line of the answer, which must come within a few
// seconds: long before the rest of the body would have been sent.
func rawRequest(t *testing.T, addr, head string, partial int) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(bytes.Repeat([]byte("x"), partial)); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer before the body was complete: %v", err)
	}
	return strings.TrimSpace(line)
}

// The body limit of ordinary routes is small and applies before routing
// and authentication; only upload routes read large bodies, and only
// after authentication.
func TestBodyLimits(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	addr := env.Coordinator.Addr()
	big := 8 << 20
	head := fmt.Sprintf("GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", big)
	if line := rawRequest(t, addr, head, 64<<10); !strings.Contains(line, " 413 ") {
		t.Fatalf("8 MiB to /health: %q, want 413", line)
	}
	// Chunked bodies have no length to judge by; they are read up to
	// the limit, and a short rest is dropped so that the connection
	// serves the next request.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "POST /proofgrid/v1/agents/enroll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
	chunk := bytes.Repeat([]byte("x"), 256<<10)
	for range 5 {
		fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk)
	}
	io.WriteString(conn, "0\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 413 {
		t.Fatalf("chunked 1.25 MiB: %v %v, want 413", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	io.WriteString(conn, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("next request on the connection: %v %v", resp, err)
	}
	// An upload route refuses missing credentials without reading the
	// body.
	head = fmt.Sprintf("POST /api/v0/csp-benchmarks/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: %d\r\n\r\n", big)
	if line := rawRequest(t, addr, head, 64<<10); !strings.Contains(line, " 401 ") {
		t.Fatalf("anonymous upload: %q, want 401", line)
	}

	// An authenticated upload above the app-wide limit works.
	admin := env.OperatorToken("ops") // CSP benchmarks are global
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "bench.json")
	fmt.Fprintf(fw, `{"rows":"%s"}`, strings.Repeat("r", 3<<20))
	mw.WriteField("filename", "big-bench")
	mw.Close()
	req, _ := http.NewRequest("POST", env.URL+"/api/v0/csp-benchmarks/upload", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var up struct{ Path string }
	json.Unmarshal(b, &up)
	if resp.StatusCode != 200 || up.Path != "big-bench.json" {
		t.Fatalf("3 MiB upload: %d %.300s", resp.StatusCode, b)
	}
	// And the connection still serves requests after a refusal on it.
	if status, _, _ := get(t, env.URL+"/health", nil); status != 200 {
		t.Fatalf("/health after the uploads: %d", status)
	}
}

// A wrong method is 405 with an Allow header, in each surface's shape.
func TestMethodNotAllowed(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	for _, c := range []struct {
		method, path, allow, shape string
	}{
		{"POST", "/health", "GET, HEAD", `"code":"`},
		{"DELETE", "/api/v0/zkvms", "GET, HEAD, POST", `{"error":"Method Not Allowed"}`},
		{"PUT", "/v1/avs", "GET, HEAD", `"result":null`},
	} {
		req, _ := http.NewRequest(c.method, env.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		allow := strings.Join(resp.Header.Values("Allow"), ", ")
		if resp.StatusCode != 405 || allow != c.allow || !strings.Contains(string(b), c.shape) {
			t.Errorf("%s %s: %d Allow %q %s; want 405 Allow %q and %s", c.method, c.path, resp.StatusCode, allow, b, c.allow, c.shape)
		}
	}
}
