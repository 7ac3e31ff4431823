package coordinatortest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

func init() {
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/markdown", openapi3filter.FileBodyDecoder)
}

// checkHost is the host the document's server is given: requests are
// routed by path alone, whatever port the test server listens on.
const checkHost = "http://openapi.test"

// OpenAPICheck is an http.RoundTripper that checks every response of the
// requests it carries against an OpenAPI document: the route must be in
// the document, and the status and body must match it. A package's tests
// install it around http.DefaultTransport in TestMain, so every request
// of their existing clients is checked without changing them.
type OpenAPICheck struct {
	next     http.RoundTripper
	router   routers.Router
	doc      *openapi3.T
	prefixes []string
	ignored  []string

	mu        sync.Mutex
	problems  []string
	exercised map[string]bool
}

// NewOpenAPICheck loads and validates doc. base is the path its server
// is mounted at ("" or "/v1", say). Only requests whose path starts with
// one of prefixes are checked (all when there are none).
func NewOpenAPICheck(doc []byte, base string, prefixes ...string) (*OpenAPICheck, error) {
	d, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		return nil, err
	}
	if err := d.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the document is not valid OpenAPI: %w", err)
	}
	d.Servers = openapi3.Servers{{URL: checkHost + base}}
	router, err := gorillamux.NewRouter(d)
	if err != nil {
		return nil, err
	}
	return &OpenAPICheck{next: http.DefaultTransport, router: router, doc: d, prefixes: prefixes, exercised: map[string]bool{}}, nil
}

// Ignore leaves requests whose path starts with one of prefixes
// unchecked: routes of another document that a package's tests call.
func (c *OpenAPICheck) Ignore(prefixes ...string) *OpenAPICheck {
	c.ignored = append(c.ignored, prefixes...)
	return c
}

// Install makes the check http.DefaultTransport and returns the function
// that puts the previous one back.
func (c *OpenAPICheck) Install() (restore func()) {
	prev := http.DefaultTransport
	c.next = prev
	http.DefaultTransport = c
	return func() { http.DefaultTransport = prev }
}

// RoundTrip sends req and checks its response.
func (c *OpenAPICheck) RoundTrip(req *http.Request) (*http.Response, error) {
	if !c.covers(req.URL.Path) {
		return c.next.RoundTrip(req)
	}
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil || resp.StatusCode == http.StatusSwitchingProtocols {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return resp, nil
	}
	c.check(req, reqBody, resp, body)
	return resp, nil
}

func (c *OpenAPICheck) covers(path string) bool {
	for _, p := range c.ignored {
		if strings.HasPrefix(path, p) {
			return false
		}
	}
	if len(c.prefixes) == 0 {
		return true
	}
	for _, p := range c.prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

func (c *OpenAPICheck) check(req *http.Request, reqBody []byte, resp *http.Response, body []byte) {
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	u := *req.URL
	u.Scheme, u.Host = "http", strings.TrimPrefix(checkHost, "http://")
	// The routes answer with and without a trailing slash.
	if len(u.Path) > 1 {
		u.Path = strings.TrimSuffix(u.Path, "/")
		u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	}
	r.URL, r.Host = &u, u.Host
	what := fmt.Sprintf("%s %s -> %d", req.Method, req.URL.RequestURI(), resp.StatusCode)
	route, params, err := c.router.FindRoute(r)
	if err != nil {
		// An unknown path answering 404 or 405 is the router doing its job.
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			c.fail("%s: the route is not in the document (%v)", what, err)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		c.fail("%s does not match the document: %v\nbody: %.600s", what, err, body)
		return
	}
	if resp.StatusCode < 300 {
		c.mu.Lock()
		c.exercised[route.Method+" "+route.Path] = true
		c.mu.Unlock()
	}
}

func (c *OpenAPICheck) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// Problems are the responses that did not match the document.
func (c *OpenAPICheck) Problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.problems)
}

// Unexercised lists the operations ("GET /path") of the document that no
// request answered with success, except those in elsewhere.
func (c *OpenAPICheck) Unexercised(elsewhere ...string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			op := method + " " + path
			if !c.exercised[op] && !slices.Contains(elsewhere, op) {
				out = append(out, op)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Report writes the problems, and when complete is set the operations
// not exercised (but those in elsewhere), to w; it returns whether there
// were none. Packages call it from TestMain after m.Run, with complete
// set when the whole suite ran (no -run filter).
func (c *OpenAPICheck) Report(w io.Writer, complete bool, elsewhere ...string) bool {
	ok := true
	for _, p := range c.Problems() {
		fmt.Fprintln(w, "openapi:", p)
		ok = false
	}
	if complete {
		if ops := c.Unexercised(elsewhere...); len(ops) > 0 {
			fmt.Fprintf(w, "openapi: operations no test answered with success: %s\n", strings.Join(ops, ", "))
			ok = false
		}
	}
	return ok
}
