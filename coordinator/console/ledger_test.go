package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
)

func TestRewardsAndClaimsPages(t *testing.T) {
	coordinatortest.EachDialect(t, func(t *testing.T, env *coordinatortest.Env) {
		op := env.OperatorToken("ops")
		api := func(path, body string) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodPost, env.URL+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+op)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				t.Fatalf("POST %s: %d", path, resp.StatusCode)
			}
		}
		const hotkey = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
		api("/api/v1/admin/rewards", `{"request_id":"console-test","entries":[{"hotkey":"`+hotkey+`","amount_units":"1000","reason":"genesis"},{"hotkey":"0x00000000000000000000000000000000000000aa","amount_units":"7","reason":"genesis"}]}`)
		api("/api/v1/admin/epochs", "")
		b := newBrowser(t, env)
		b.signIn(env.Token("alpha", "read"))
		mustContain(t, b.get("/ui/rewards?account="+hotkey), "genesis", ">1000<")
		p := b.get("/ui/claims")
		mustContain(t, p, ">1007<", "0x")
		mustLack(t, p, "No epochs yet")
		pkg := b.get("/ui/claims?account=" + hotkey)
		mustContain(t, pkg, "Claim package", "Merkle proof (1 nodes)", ">1000<")
	})
}
