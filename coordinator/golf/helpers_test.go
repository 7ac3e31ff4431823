package golf_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent"
	"github.com/proofgrid/proofgrid/agent/verifier"
	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	golfapi "github.com/proofgrid/proofgrid/coordinator/golf"
)

func init() {
	openapi3filter.RegisterBodyDecoder("application/gzip", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
}

const fixture = "../../golf/testdata/challenges"

// api sends requests to a coordinator and checks every response against
// the surface's OpenAPI document, where every status must be documented.
type api struct {
	t       testing.TB
	base    string
	doc     *openapi3.T
	router  routers.Router
	mu      sync.Mutex
	covered map[string]bool
}

func newAPI(t testing.TB, base string) *api {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(golfapi.OpenAPIDocument)
	if err != nil {
		t.Fatalf("load OpenAPI document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("OpenAPI document is invalid: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &api{t: t, base: base, doc: doc, router: router, covered: map[string]bool{}}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (a *api) do(method, path, token string, body []byte, contentType string, header ...string) response {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	a.check(req, resp, data)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

func (a *api) check(req *http.Request, resp *http.Response, data []byte) {
	a.t.Helper()
	r := req.Clone(context.Background())
	r.Body = http.NoBody
	route, params, err := a.router.FindRoute(r)
	if err != nil {
		if resp.StatusCode != http.StatusNotFound {
			a.t.Errorf("%s %s: not in the document: %v", req.Method, req.URL.Path, err)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(data)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		a.t.Errorf("%s %s -> %d does not match the document: %v\nbody: %.400s", req.Method, req.URL.Path, resp.StatusCode, err, data)
		return
	}
	if resp.StatusCode < 300 {
		a.mu.Lock()
		a.covered[route.Method+" "+route.Path] = true
		a.mu.Unlock()
	}
}

// uncovered lists the operations that never answered with a success.
func (a *api) uncovered() []string {
	var out []string
	for path, item := range a.doc.Paths.Map() {
		for method := range item.Operations() {
			if !a.covered[method+" "+path] {
				out = append(out, method+" "+path)
			}
		}
	}
	sort.Strings(out)
	return out
}

func (a *api) get(path, token string) response { return a.do(http.MethodGet, path, token, nil, "") }

// part is one part of a submission form.
type part struct {
	field, filename string
	data            []byte
}

func artifact(name, body string) part { return part{"artifact", name, []byte(body)} }
func field(name, v string) part       { return part{name, "", []byte(v)} }

func (a *api) submit(slug, token string, parts ...part) response {
	a.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		if p.filename != "" {
			h := textproto.MIMEHeader{}
			// Written by hand: CreateFormFile would escape nothing but
			// quotes, and the point is to send names as given.
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.field, p.filename))
			h.Set("Content-Type", "text/plain")
			pw, _ := w.CreatePart(h)
			pw.Write(p.data)
		} else {
			w.WriteField(p.field, string(p.data))
		}
	}
	w.Close()
	return a.do(http.MethodPost, golfapi.Prefix+"/challenges/"+slug+"/submissions", token, buf.Bytes(), w.FormDataContentType())
}

// valid is a submission that passes the lint checker.
func valid(alloc, cons string, extra ...part) []part {
	return append([]part{
		artifact("Main.lean", "import Solution.AssertBytes.Helper\nnamespace Solution.AssertBytes\ntheorem t : 1 + 1 = 2 := by decide\nend Solution.AssertBytes\n"),
		artifact("Helper.lean", "def helper := 2\n"),
		field("allocations", alloc), field("constraints", cons),
	}, extra...)
}

func wantStatus(t testing.TB, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %.500s", r.status, status, r.body)
	}
}

type submitted struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	StatusURL      string `json:"status_url"`
	AgentStatusURL string `json:"agent_status_url"`
}

type submissionView struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	Score         *int64 `json:"score"`
	QueuePosition *int64 `json:"queue_position"`
	Attempts      int64  `json:"attempts"`
	User          string `json:"user"`
}

func (a *api) submission(id string) submissionView {
	a.t.Helper()
	var v submissionView
	r := a.get(golfapi.Prefix+"/submissions/"+id, "")
	wantStatus(a.t, r, 200)
	r.json(a.t, &v)
	return v
}

// waitStatus polls a submission until it has status, or fails.
func (a *api) waitStatus(id, status string, within time.Duration) submissionView {
	a.t.Helper()
	deadline := time.Now().Add(within)
	for {
		v := a.submission(id)
		if v.Status == status {
			return v
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("submission %s is %s after %v, want %s", id, v.Status, within, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type logPage struct {
	Text       string `json:"text"`
	NextOffset int64  `json:"next_offset"`
	Truncated  bool   `json:"truncated"`
	Status     string `json:"status"`
}

func (a *api) log(id, token string, since int64) logPage {
	a.t.Helper()
	r := a.get(fmt.Sprintf("%s/submissions/%s/log?since=%d", golfapi.Prefix, id, since), token)
	wantStatus(a.t, r, 200)
	var p logPage
	r.json(a.t, &p)
	return p
}

// fullLog reads a log from the start to its current end.
func (a *api) fullLog(id, token string) logPage {
	var all logPage
	for {
		p := a.log(id, token, all.NextOffset)
		all.Text += p.Text
		all.Status, all.Truncated = p.Status, p.Truncated
		if p.NextOffset == all.NextOffset {
			return all
		}
		all.NextOffset = p.NextOffset
	}
}

func quietLogger() *slog.Logger {
	if os.Getenv("PROOFGRID_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type staticSampler struct{}

func (staticSampler) Collect(context.Context) proofgrid.Sample {
	return proofgrid.Sample{CollectedAt: time.Now(), GPUs: []proofgrid.GPU{}}
}

// runningAgent is an in-process verifier agent.
type runningAgent struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// stop cancels the agent and waits: a running check is cut short and its
// task goes back to the queue.
func (r *runningAgent) stop(tb testing.TB) {
	tb.Helper()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			tb.Errorf("agent stopped with %v", r.err)
		}
	case <-time.After(30 * time.Second):
		tb.Error("agent did not stop")
	}
}

func startVerifier(tb testing.TB, env *coordinatortest.Env, name string, cfg verifier.Config) *runningAgent {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = 100 * time.Millisecond
	}
	a, err := agent.New(agent.Config{
		CoordinatorURL:  env.URL,
		Token:           env.OperatorToken("verifiers"),
		Role:            proofgrid.RoleVerifier,
		Name:            name,
		StateDir:        tb.TempDir(),
		ShutdownTimeout: 200 * time.Millisecond,
		Sampler:         staticSampler{},
		Handlers:        verifier.Register(cfg),
		Logger:          quietLogger(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningAgent{cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = a.Run(ctx)
		close(r.done)
	}()
	tb.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// startCoordinator starts a coordinator with the fixture challenges.
func startCoordinator(tb testing.TB, dialect string, configure func(*coordinator.Config)) (*coordinatortest.Env, *api) {
	tb.Helper()
	env := coordinatortest.Start(tb, coordinatortest.Options{Dialect: dialect, Configure: func(cfg *coordinator.Config) {
		cfg.Golf.ChallengesDir = fixture
		if configure != nil {
			configure(cfg)
		}
	}})
	return env, newAPI(tb, env.URL)
}

// golfToken issues a cmp_ token for user.
func golfToken(tb testing.TB, env *coordinatortest.Env, user string) string {
	tb.Helper()
	plain, _, err := env.Coordinator.Golf.CreateToken(context.Background(), user, "test")
	if err != nil {
		tb.Fatal(err)
	}
	return plain
}
