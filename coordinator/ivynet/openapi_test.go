package ivynet_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/coordinator/ivynet"
)

// TestMain checks every response of the package's tests against the
// surface's OpenAPI document, and, when the whole suite ran, that every
// documented operation answered with success at least once.
func TestMain(m *testing.M) {
	check, err := coordinatortest.NewOpenAPICheck(ivynet.OpenAPIDocument, ivynet.Prefix, ivynet.Prefix+"/")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	restore := check.Install()
	flag.Parse()
	code := m.Run()
	restore()
	f := flag.Lookup("test.run")
	if !check.Report(os.Stderr, f == nil || f.Value.String() == "", aliases...) && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// aliases are operations served by the same handler as one the tests do
// exercise: /machine/... is /client/... under its newer name.
var aliases = []string{"GET /machine/transitions/{machine_id}"}

// TestOpenAPIDocs checks that the document and its page are served
// without a token, and that the page lists the routes; and that a team
// without machines gets an empty transition list.
func TestOpenAPIDocs(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	var tr struct {
		Transitions []any `json:"transitions"`
	}
	get(t, env.URL, "/v1/client/transitions", env.Token("team-a", auth.ModeRead), &tr)
	if tr.Transitions == nil || len(tr.Transitions) != 0 {
		t.Errorf("transitions = %v, want an empty list", tr.Transitions)
	}
	for path, want := range map[string]string{
		"/v1/openapi.json": `"openapi": "3.1.0"`,
		"/v1/docs":         "/v1/avs/rewards/{spec}",
	} {
		resp, err := http.Get(env.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(want)) {
			t.Errorf("GET %s = %d, want 200 with %q; body %.200s", path, resp.StatusCode, want, body)
		}
	}
}
