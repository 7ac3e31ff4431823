package ethproofs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/proofgrid/proofgrid/coordinator/ethproofs"
)

func init() {
	openapi3filter.RegisterBodyDecoder("application/zip", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
}

// spec is one OpenAPI document responses are checked against, with the
// operations that answered with a success so far.
type spec struct {
	name    string
	doc     *openapi3.T
	router  routers.Router
	mu      sync.Mutex
	covered map[string]bool
}

func loadSpec(t testing.TB, name string, data []byte, baseURL string) *spec {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", name, err)
	}
	// Route requests to the coordinator under test instead of the
	// document's own servers.
	doc.Servers = openapi3.Servers{{URL: baseURL + ethproofs.Prefix}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router of %s: %v", name, err)
	}
	return &spec{name: name, doc: doc, router: router, covered: map[string]bool{}}
}

// operations lists every "METHOD /path" of the document.
func (s *spec) operations() []string {
	var out []string
	for path, item := range s.doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// client sends requests to a coordinator and checks every response
// against the specs: against the seed document when it documents the
// status, and always against proofgrid's own document, where every status
// must be documented.
type client struct {
	t     testing.TB
	base  string
	seed  *spec
	own   *spec
	agent func(req *http.Request, body []byte)
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

func (r response) errorMessage(t testing.TB) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	r.json(t, &e)
	if e.Error == "" {
		t.Fatalf("error body %s has no error message", r.body)
	}
	return e.Error
}

func (c *client) do(method, path, token string, body []byte, contentType string) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	c.check(req, body, resp, data)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

func (c *client) check(req *http.Request, reqBody []byte, resp *http.Response, data []byte) {
	c.t.Helper()
	for _, s := range []*spec{c.seed, c.own} {
		r := req.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
		route, params, err := s.router.FindRoute(r)
		if err != nil {
			// Unknown routes answer 404 and are no operation of either
			// document.
			if s == c.own && resp.StatusCode != http.StatusNotFound {
				c.t.Errorf("%s %s: not in %s: %v", req.Method, req.URL.Path, s.name, err)
			}
			continue
		}
		documented := route.Operation.Responses.Status(resp.StatusCode) != nil
		if s == c.seed && !documented {
			continue
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
			Status:                 resp.StatusCode,
			Header:                 resp.Header,
			Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		in.SetBodyBytes(data)
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			c.t.Errorf("%s %s -> %d does not match %s: %v\nbody: %.400s", req.Method, req.URL.Path, resp.StatusCode, s.name, err, data)
			continue
		}
		if resp.StatusCode < 300 {
			s.mu.Lock()
			s.covered[route.Method+" "+route.Path] = true
			s.mu.Unlock()
		}
	}
}

// transport checks the responses of requests sent by other clients (the
// signed agent client) like do does.
func (c *client) transport() http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		var body []byte
		if req.Body != nil {
			body, _ = io.ReadAll(req.Body)
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(req.URL.Path, ethproofs.Prefix+"/") {
			c.check(req, body, resp, data)
		}
		resp.Body = io.NopCloser(bytes.NewReader(data))
		return resp, nil
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (c *client) getJSON(path, token string) response {
	return c.do(http.MethodGet, path, token, nil, "")
}

func (c *client) postJSON(path, token string, v any) response {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(http.MethodPost, path, token, b, "application/json")
}

func (c *client) patchJSON(path, token string, v any) response {
	c.t.Helper()
	b, _ := json.Marshal(v)
	return c.do(http.MethodPatch, path, token, b, "application/json")
}

func (c *client) upload(path, token, filename string, file []byte) response {
	c.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if file != nil {
		fw, _ := w.CreateFormFile("file", "upload.bin")
		fw.Write(file)
	}
	if filename != "" {
		w.WriteField("filename", filename)
	}
	w.Close()
	return c.do(http.MethodPost, path, token, buf.Bytes(), w.FormDataContentType())
}

func wantStatus(t testing.TB, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %.500s", r.status, status, r.body)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}
