package pool_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ChainSafe/go-schnorrkel"

	"github.com/proofgrid/proofgrid/auth/minerauth"
	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/internal/clocktest"
	"github.com/proofgrid/proofgrid/pool"
)

// vectorTime is the timestamp of the polkadot-js vectors.
const vectorTime = 1700000000

// clock is the coordinator's settable clock; ts is its time as the
// X-Timestamp header writes it.
type clock struct{ *clocktest.Clock }

func (c clock) ts() string { return strconv.FormatInt(c.Now().Unix(), 10) }

func newClock(unix int64) clock { return clock{clocktest.New(time.Unix(unix, 0).UTC())} }

// start runs a coordinator on dialect with the clock and Pool config.
func start(t *testing.T, dialect string, clk clock, cfg pool.Config) *coordinatortest.Env {
	t.Helper()
	return coordinatortest.Start(t, coordinatortest.Options{Dialect: dialect, Configure: func(c *coordinator.Config) {
		c.Now = clk.Now
		c.Pool = cfg
	}})
}

type client struct {
	t    *testing.T
	base string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

func (c client) do(method, path string, body any, header map[string]string) response {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				c.t.Fatal(err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, b}
}

// expect checks the status and, for errors, that the body is
// {"detail": "..."} containing fragment.
func (c client) expect(r response, status int, fragment string) map[string]any {
	c.t.Helper()
	if r.status != status {
		c.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	v := r.json(c.t)
	if status >= 400 {
		d, ok := v["detail"].(string)
		if !ok || len(v) != 1 || !strings.Contains(d, fragment) {
			c.t.Fatalf("body %s: want {\"detail\"} containing %q", r.body, fragment)
		}
	}
	return v
}

// signer signs like a Substrate wallet, from a fixed seed.
type signer struct {
	mini   *schnorrkel.MiniSecretKey
	hotkey string
}

func newSigner(t *testing.T, seed byte) signer {
	t.Helper()
	var raw [32]byte
	for i := range raw {
		raw[i] = seed + byte(i)
	}
	mini, err := schnorrkel.NewMiniSecretKeyFromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	return signer{mini: mini, hotkey: minerauth.Address(mini.Public().Encode())}
}

func (s signer) sign(t *testing.T, message string) string {
	t.Helper()
	sig, err := s.mini.ExpandEd25519().Sign(schnorrkel.NewSigningContext([]byte(minerauth.SigningContext), []byte(message)))
	if err != nil {
		t.Fatal(err)
	}
	b := sig.Encode()
	return "0x" + hex.EncodeToString(b[:])
}

// headers signs auth:{ts} for a request at ts.
func (s signer) headers(t *testing.T, ts string) map[string]string {
	return map[string]string{"X-Key": s.hotkey, "X-Timestamp": ts, "X-Signature": s.sign(t, minerauth.AuthMessage(ts))}
}

type vectors struct {
	Accounts []struct {
		Name      string            `json:"name"`
		Addresses map[string]string `json:"addresses"`
	} `json:"accounts"`
	Good []vector `json:"good"`
	Bad  []vector `json:"bad"`
}

type vector struct {
	Name      string `json:"name"`
	Address   string `json:"address"`
	Message   string `json:"message"`
	Signature string `json:"signature"`
	Reason    string `json:"reason"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	b, err := os.ReadFile("../../auth/minerauth/testdata/polkadot-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v vectors) find(t *testing.T, name string) vector {
	for _, g := range append(append([]vector{}, v.Good...), v.Bad...) {
		if g.Name == name {
			return g
		}
	}
	t.Fatalf("no vector %s", name)
	return vector{}
}
