package claims_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/proofgrid/proofgrid/auth/minerauth"
	"github.com/proofgrid/proofgrid/coordinator"
	claimsapi "github.com/proofgrid/proofgrid/coordinator/claims"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/merkle"
	"github.com/proofgrid/proofgrid/storage"
)

func init() {
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
}

// client sends requests and checks every response against the OpenAPI
// document: the route must be in it and the status and body must match.
type client struct {
	t      *testing.T
	base   string
	router routers.Router
}

type response struct {
	status int
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (c *client) do(method, path, token string, body any) response {
	c.t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(raw))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(raw))
	route, params, err := c.router.FindRoute(r)
	if err != nil {
		c.t.Fatalf("%s %s is not in the document: %v", method, path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(data)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		c.t.Errorf("%s %s -> %d does not match the document: %v\nbody: %.400s", method, path, resp.StatusCode, err, data)
	}
	return response{resp.StatusCode, data}
}

func want(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %.500s", r.status, status, r.body)
	}
}

func hotkey(b byte) string {
	var k [32]byte
	k[0], k[31] = b, 0x5c
	return minerauth.Address(k)
}

// TestAPI runs the claim and admin routes on both dialects and checks
// every response against the root OpenAPI document.
func TestAPI(t *testing.T) {
	for _, dialect := range []string{storage.DialectSQLite, storage.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) { testAPI(t, dialect) })
	}
}

func testAPI(t *testing.T, dialect string) {
	if dialect == storage.DialectPostgres && !postgresAvailable() {
		t.Skip("PROOFGRID_TEST_POSTGRES_URL is not set")
	}
	env := coordinatortest.Start(t, coordinatortest.Options{Dialect: dialect, Configure: func(cfg *coordinator.Config) {
		cfg.Claims.Simulation = true
	}})
	doc, err := openapi3.NewLoader().LoadFromData(claimsapi.OpenAPIDocument)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: env.URL}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, base: env.URL, router: router}
	admin, read := env.AdminJWT(), env.Token("ops", "read")

	want(t, c.do("GET", "/openapi.json", "", nil), 200)
	docs := c.do("GET", "/docs", "", nil)
	want(t, docs, 200)
	if !bytes.Contains(docs.body, []byte("/claims/epoch/{epoch_id}/proof/{hotkey}")) {
		t.Fatal("docs page does not list the claim routes")
	}
	want(t, c.do("GET", "/redoc", "", nil), 200)

	var health struct {
		Simulation  bool   `json:"simulation"`
		LatestEpoch *int64 `json:"latest_epoch"`
	}
	r := c.do("GET", "/claims/health", "", nil)
	want(t, r, 200)
	if r.json(t, &health); !health.Simulation || health.LatestEpoch != nil {
		t.Fatalf("health = %+v", health)
	}
	want(t, c.do("GET", "/claims/epoch", "", nil), 404)

	alice, bob := hotkey(1), hotkey(2)
	grant := map[string]any{"request_id": "genesis-1", "entries": []map[string]any{
		{"hotkey": alice, "amount_units": "100", "reason": "genesis"},
		{"hotkey": bob, "amount_units": "36893488147419103232", "reason": "genesis"},
	}}
	want(t, c.do("POST", "/api/v1/admin/rewards", "", grant), 401)
	want(t, c.do("POST", "/api/v1/admin/rewards", read, grant), 403)
	r = c.do("POST", "/api/v1/admin/rewards", admin, grant)
	want(t, r, 201)
	var gr struct {
		Created    int64  `json:"created"`
		TotalUnits string `json:"total_units"`
	}
	if r.json(t, &gr); gr.Created != 2 || gr.TotalUnits != "36893488147419103332" {
		t.Fatalf("grant = %+v", gr)
	}
	r = c.do("POST", "/api/v1/admin/rewards", env.AdminJWT(), grant)
	want(t, r, 200)
	if r.json(t, &gr); gr.Created != 0 {
		t.Fatalf("replayed grant created %d", gr.Created)
	}
	for _, bad := range []map[string]any{
		{"request_id": "b", "entries": []map[string]any{{"hotkey": "0x1234", "amount_units": "1"}}},
		{"request_id": "b", "entries": []map[string]any{{"hotkey": alice, "amount_units": "-1"}}},
		{"request_id": "b", "entries": []map[string]any{{"hotkey": alice, "amount_units": "1.5"}}},
		{"request_id": "b", "entries": []map[string]any{{"hotkey": alice, "amount_units": "0"}}},
		{"request_id": "b", "entries": []map[string]any{{"hotkey": alice, "amount_units": "1", "reason": strings.Repeat("r", 201)}}},
		{"request_id": "", "entries": []map[string]any{{"hotkey": alice, "amount_units": "1"}}},
		{"request_id": "b", "entries": []map[string]any{}},
	} {
		want(t, c.do("POST", "/api/v1/admin/rewards", admin, bad), 400)
	}

	want(t, c.do("POST", "/api/v1/admin/epochs", read, nil), 403)
	r = c.do("POST", "/api/v1/admin/epochs", admin, nil)
	want(t, r, 201)
	r = c.do("POST", "/api/v1/admin/epochs", admin, nil)
	want(t, r, 200)

	var list struct {
		DefaultEpoch int64 `json:"default_epoch"`
		Epochs       []struct {
			Epoch int64  `json:"epoch"`
			Root  string `json:"root"`
		} `json:"epochs"`
	}
	r = c.do("GET", "/claims/epochs", "", nil)
	want(t, r, 200)
	if r.json(t, &list); list.DefaultEpoch != 1 || len(list.Epochs) != 1 {
		t.Fatalf("epochs = %+v", list)
	}
	want(t, c.do("GET", "/claims/epoch", "", nil), 200)
	want(t, c.do("GET", "/claims/epoch/1", "", nil), 200)
	want(t, c.do("GET", "/claims/epoch/2", "", nil), 404)
	want(t, c.do("GET", "/claims/epoch/x", "", nil), 400)

	var pkg map[string]any
	r = c.do("GET", "/claims/epoch/proof/"+alice, "", nil)
	want(t, r, 200)
	r.json(t, &pkg)
	if pkg["amount_units"] != "100" || pkg["root"] != list.Epochs[0].Root || pkg["hotkey"] != alice {
		t.Fatalf("package = %v", pkg)
	}
	want(t, c.do("GET", "/claims/epoch/claim/"+alice, "", nil), 200)
	want(t, c.do("GET", "/claims/epoch/1/proof/"+bob, "", nil), 200)
	want(t, c.do("GET", "/claims/epoch/1/claim/"+alice, "", nil), 200)
	want(t, c.do("GET", "/claims/epoch/1/proof/"+hotkey(3), "", nil), 404)
	want(t, c.do("GET", "/claims/epoch/proof/not-a-key", "", nil), 400)

	r = c.do("GET", "/claims/epoch/1/tree", "", nil)
	want(t, r, 200)
	tree, values, err := merkle.Load(bytes.NewReader(r.body))
	if err != nil || merkle.Hex(tree.Root()) != list.Epochs[0].Root || len(values) != 2 {
		t.Fatalf("dump: root %x, %d values, %v", tree.Root(), len(values), err)
	}

	claim := map[string]any{"index": pkg["index"], "hotkey": alice, "recipient_coldkey": pkg["recipient_coldkey"],
		"amount_units": "100", "proof": pkg["proof"]}
	wrong := map[string]any{"index": pkg["index"], "hotkey": alice, "recipient_coldkey": pkg["recipient_coldkey"],
		"amount_units": "101", "proof": pkg["proof"]}
	want(t, c.do("POST", "/claims/epoch/claim", "", wrong), 400)
	want(t, c.do("POST", "/claims/epoch/claim", "", map[string]any{"hotkey": alice, "surprise": 1}), 400)
	r = c.do("POST", "/claims/epoch/claim", "", pkg) // a package posted as it is
	want(t, r, 200)
	var paid struct {
		PaidUnits string `json:"paid_units"`
	}
	if r.json(t, &paid); paid.PaidUnits != "100" {
		t.Fatalf("paid = %s", paid.PaidUnits)
	}
	want(t, c.do("POST", "/claims/epoch/1/claim", "", claim), 409)
	var led struct {
		ClaimedUnits string `json:"claimed_units"`
		ClaimCount   int    `json:"claim_count"`
	}
	r = c.do("GET", "/claims/ledger", "", nil)
	want(t, r, 200)
	if r.json(t, &led); led.ClaimedUnits != "100" || led.ClaimCount != 1 {
		t.Fatalf("ledger = %+v", led)
	}
	want(t, c.do("GET", "/claims/ledger/1", "", nil), 200)
}

func postgresAvailable() bool { return os.Getenv("PROOFGRID_TEST_POSTGRES_URL") != "" }
