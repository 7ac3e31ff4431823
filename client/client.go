// Package client is a typed Go client of the proofgrid coordinator's API.
//
// Requests are plain JSON over HTTP. Team calls carry a bearer API token;
// agent calls are signed with the agent's Ed25519 key as proofgrid.SignRequest
// describes. A refusal from the coordinator comes back as a *proofgrid.Error
// carrying the code from the response body, so callers can branch on
// proofgrid.ErrorCode; a coordinator that cannot be reached at all comes back
// as an error wrapping ErrUnreachable instead, so that "down" and "refused"
// never look alike.
package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
)

// Defaults used where Options leaves a field at its zero value.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxResponseBytes = 8 << 20
	DefaultUserAgent        = "proofgrid-client"
)

// ErrUnreachable marks errors where no answer came from the coordinator:
// connection refused, DNS failure, timeout, a connection cut mid-response.
// Test for it with errors.Is; such errors are never a *proofgrid.Error.
var ErrUnreachable = errors.New("coordinator unreachable")

// Options tunes a Client. The zero value is ready to use.
type Options struct {
	// HTTPClient sends the requests; nil means a client of its own with
	// the standard transport. Supply one for custom TLS roots or proxies.
	HTTPClient *http.Client
	// Timeout bounds each request, body read included, on top of the
	// caller's context. Zero means DefaultTimeout, negative means none.
	Timeout time.Duration
	// UserAgent is sent with every request; empty means DefaultUserAgent.
	UserAgent string
	// MaxResponseBytes caps how much of a response body is read, so a
	// misbehaving server cannot exhaust the caller's memory. Zero means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// Now gives the time that signatures are stamped with; nil means
	// time.Now.
	Now func() time.Time
}

// Client talks to one coordinator. It is safe for concurrent use.
type Client struct {
	base    string
	hc      *http.Client
	timeout time.Duration
	ua      string
	maxBody int64
	now     func() time.Time
}

// New returns a client of the coordinator at baseURL, an http or https URL
// that may carry a path prefix (e.g. "https://c.example/api") but no query.
// Request paths are appended to it, and signatures cover the full path as
// sent, prefix included.
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: coordinator URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("client: coordinator URL %q: scheme must be http or https", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("client: coordinator URL %q has no host", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("client: coordinator URL %q must not carry a query, fragment or user info", baseURL)
	}
	c := &Client{
		base:    strings.TrimRight(u.String(), "/"),
		hc:      opts.HTTPClient,
		timeout: opts.Timeout,
		ua:      opts.UserAgent,
		maxBody: opts.MaxResponseBytes,
		now:     opts.Now,
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.ua == "" {
		c.ua = DefaultUserAgent
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxResponseBytes
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// PublicKeyID returns the key id an agent signs with before it has a
// machine id: its Ed25519 public key in standard base64.
func PublicKeyID(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// HeartbeatResponse is the coordinator's answer to a heartbeat.
type HeartbeatResponse struct {
	ReceivedAt time.Time `json:"received_at"`
	// HeartbeatInterval is the interval in seconds the coordinator asks
	// for; zero leaves the agent's own setting.
	HeartbeatInterval int `json:"heartbeat_interval_seconds"`
}

// Enroll registers the agent key with the coordinator using a team token.
// The request is signed with key under its public key id to prove
// possession; req.PublicKey is filled in from key when empty. Enrolling
// the same key again returns the same machine id.
func (c *Client) Enroll(ctx context.Context, token string, key ed25519.PrivateKey, req proofgrid.EnrollRequest) (proofgrid.EnrollResponse, error) {
	var resp proofgrid.EnrollResponse
	if len(key) != ed25519.PrivateKeySize {
		return resp, errors.New("client: enroll: invalid Ed25519 private key")
	}
	keyID := PublicKeyID(key.Public().(ed25519.PublicKey))
	if req.PublicKey == "" {
		req.PublicKey = keyID
	} else if req.PublicKey != keyID {
		return resp, errors.New("client: enroll: request public_key does not match the signing key")
	}
	s := &signer{keyID: keyID, key: key}
	err := c.do(ctx, http.MethodPost, "/proofgrid/v1/agents/enroll", token, s, req, &resp)
	return resp, err
}

// Heartbeat posts one heartbeat, signed under the machine id.
func (c *Client) Heartbeat(ctx context.Context, machineID string, key ed25519.PrivateKey, hb proofgrid.Heartbeat) (HeartbeatResponse, error) {
	var resp HeartbeatResponse
	err := c.DoSigned(ctx, http.MethodPost, "/proofgrid/v1/agents/heartbeat", machineID, key, hb, &resp)
	return resp, err
}

// Machines lists the machines the token's team can see.
func (c *Client) Machines(ctx context.Context, token string) ([]proofgrid.Machine, error) {
	var resp struct {
		Machines []proofgrid.Machine `json:"machines"`
	}
	err := c.Do(ctx, token, http.MethodGet, "/proofgrid/v1/machines", nil, &resp)
	return resp.Machines, err
}

// Machine returns one machine by id.
func (c *Client) Machine(ctx context.Context, token, id string) (proofgrid.Machine, error) {
	var m proofgrid.Machine
	err := c.Do(ctx, token, http.MethodGet, "/proofgrid/v1/machines/"+url.PathEscape(id), nil, &m)
	return m, err
}

// MachineMetrics returns a machine's recent samples, at most limit of them;
// limit <= 0 leaves the number to the coordinator.
func (c *Client) MachineMetrics(ctx context.Context, token, id string, limit int) ([]proofgrid.MetricPoint, error) {
	p := "/proofgrid/v1/machines/" + url.PathEscape(id) + "/metrics"
	if limit > 0 {
		p += fmt.Sprintf("?limit=%d", limit)
	}
	var resp struct {
		Metrics []proofgrid.MetricPoint `json:"metrics"`
	}
	err := c.Do(ctx, token, http.MethodGet, p, nil, &resp)
	return resp.Metrics, err
}

// Do sends a request authenticated with a bearer token. path is the
// request path below the base URL, starting with "/" and optionally
// carrying a query. in, when not nil, is sent as the JSON body; out, when
// not nil, receives the decoded JSON response.
func (c *Client) Do(ctx context.Context, token, method, path string, in, out any) error {
	return c.do(ctx, method, path, token, nil, in, out)
}

// DoSigned sends a request signed with key under keyID (the machine id
// once enrolled). Each call signs with a fresh nonce and the current
// time, so a caller that retries must call DoSigned again rather than
// replay a request. path, in and out are as for Do.
func (c *Client) DoSigned(ctx context.Context, method, path, keyID string, key ed25519.PrivateKey, in, out any) error {
	if len(key) != ed25519.PrivateKeySize {
		return errors.New("client: invalid Ed25519 private key")
	}
	if keyID == "" {
		return errors.New("client: empty signing key id")
	}
	return c.do(ctx, method, path, "", &signer{keyID: keyID, key: key}, in, out)
}

type signer struct {
	keyID string
	key   ed25519.PrivateKey
}

func (c *Client) do(ctx context.Context, method, path, token string, s *signer, in, out any) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("client: path %q must start with /", path)
	}
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("client: %s %s: encode request: %w", method, path, err)
		}
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if s != nil {
		nonce, err := newNonce()
		if err != nil {
			return fmt.Errorf("client: %s %s: %w", method, path, err)
		}
		// RequestURI is the exact target the transport writes on the
		// request line, so the coordinator verifies the bytes it received.
		req.Header.Set(proofgrid.SignatureHeader,
			proofgrid.SignRequest(s.key, s.keyID, method, req.URL.RequestURI(), body, c.now(), nonce))
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w: %w", method, path, ErrUnreachable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return fmt.Errorf("client: %s %s: read response: %w: %w", method, path, ErrUnreachable, err)
	}
	if int64(len(data)) > c.maxBody {
		return fmt.Errorf("client: %s %s: response body larger than %d bytes", method, path, c.maxBody)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return apiError(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if len(data) == 0 {
		return fmt.Errorf("client: %s %s: empty response body (status %d)", method, path, resp.StatusCode)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("client: %s %s: decode response: %w", method, path, err)
	}
	return nil
}

// newNonce returns 16 random bytes in hex; a fresh one for every request
// is what lets the coordinator refuse replays.
func newNonce() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("nonce: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// maxErrorMessage bounds how much of a non-JSON error body lands in an
// error message (a proxy's HTML page, say).
const maxErrorMessage = 200

// apiError turns a non-2xx response into a *proofgrid.Error. The body's
// code wins; a body without one (a proxy's page, an old coordinator) gets
// the code its status stands for.
func apiError(status int, body []byte) error {
	var eb struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	_ = json.Unmarshal(body, &eb)
	e := &proofgrid.Error{Code: eb.Code, Message: eb.Error}
	if e.Code == "" {
		e.Code = proofgrid.CodeOfHTTPStatus(status)
	}
	if e.Message == "" {
		msg := strings.TrimSpace(string(body))
		if len(msg) > maxErrorMessage {
			msg = msg[:maxErrorMessage] + "..."
		}
		if msg == "" {
			msg = http.StatusText(status)
		}
		e.Message = fmt.Sprintf("coordinator answered %d: %s", status, msg)
	}
	return e
}

// Unreachable reports whether err says the coordinator cannot be reached or
// answered that it is unavailable (503, or a proxy's 502/504): an outage,
// which says nothing about the request itself.
func Unreachable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, ErrUnreachable) {
		return true
	}
	var pe *proofgrid.Error
	return errors.As(err, &pe) && pe.Code == proofgrid.EUNAVAILABLE
}

// Temporary reports whether err is worth retrying later with the same
// request: the coordinator was unreachable, or answered that it is
// unavailable, failing internally or rate limiting. A caller's own context
// cancellation is not temporary.
func Temporary(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, ErrUnreachable) {
		return true
	}
	switch proofgrid.ErrorCode(err) {
	case proofgrid.EUNAVAILABLE, proofgrid.EINTERNAL, proofgrid.ERATELIMIT:
		var pe *proofgrid.Error
		return errors.As(err, &pe)
	}
	return false
}
