package fleet_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/fleet"
)

func TestEmbeddedCatalogue(t *testing.T) {
	c := fleet.EmbeddedCatalogue()
	if len(c.AVS) < 10 || c.AsOf.IsZero() || c.Agent.LatestVersion == "" {
		t.Fatalf("built-in catalogue looks empty: %d AVSs, as_of %v, agent %q", len(c.AVS), c.AsOf, c.Agent.LatestVersion)
	}
	for _, id := range []string{"eigenda", "lagrange_zk", "lagrange_sc", "altlayer_mach", "witness_chain", "incredible_squaring"} {
		if _, ok := c.Lookup(id); !ok {
			t.Errorf("built-in catalogue lacks %s", id)
		}
	}
	a, _ := c.Lookup("eigenda")
	if got := a.LatestVersionOn("holesky"); got == a.LatestVersion {
		t.Errorf("eigenda on holesky should have a version of its own, got %s", got)
	}
	if a.NodeClassFor(0).Name != a.NodeClasses[0].Name || a.NodeClassFor(1e9).Name != a.NodeClasses[len(a.NodeClasses)-1].Name {
		t.Error("NodeClassFor does not pick the smallest class for no stake and the last for a huge one")
	}
}

func catalogueJSON(t *testing.T, edit func(m map[string]any)) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(mustMarshal(t, fleet.EmbeddedCatalogue())), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	return mustMarshal(t, m)
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func firstAVS(m map[string]any) map[string]any { return m["avs"].([]any)[0].(map[string]any) }

func TestParseCatalogueRefuses(t *testing.T) {
	tests := []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"unknown field", func(m map[string]any) { m["avs_list"] = []any{} }, "unknown field"},
		{"no date", func(m map[string]any) { delete(m, "as_of") }, "as_of"},
		{"no AVS", func(m map[string]any) { m["avs"] = []any{} }, "at least one AVS"},
		{"bad id", func(m map[string]any) { firstAVS(m)["avs_id"] = "Eigen DA" }, "avs_id"},
		{"duplicate id", func(m map[string]any) { m["avs"] = append(m["avs"].([]any), firstAVS(m)) }, "twice"},
		{"bad version", func(m map[string]any) { firstAVS(m)["latest_version"] = "latest" }, "release version"},
		{"no networks", func(m map[string]any) { firstAVS(m)["networks"] = []any{} }, "network"},
		{"no node class", func(m map[string]any) { firstAVS(m)["node_classes"] = []any{} }, "node_classes"},
		{"bounded last class", func(m map[string]any) {
			ncs := firstAVS(m)["node_classes"].([]any)
			ncs[len(ncs)-1].(map[string]any)["max_stake_eth"] = 1e9
		}, "last node class"},
		{"rate above one", func(m map[string]any) { firstAVS(m)["rewards"] = map[string]any{"annual_rate": 2, "paid_in": "ETH"} }, "annual_rate"},
		{"no prices", func(m map[string]any) { delete(m, "prices") }, "prices"},
		{"bad agent version", func(m map[string]any) { m["agent"] = map[string]any{"latest_version": "newest"} }, "agent.latest_version"},
	}
	for _, tt := range tests {
		_, err := fleet.ParseCatalogue(strings.NewReader(catalogueJSON(t, tt.edit)))
		if proofgrid.ErrorCode(err) != proofgrid.EINVALID || !strings.Contains(err.Error()+strings.Join(details(err), " "), tt.want) {
			t.Errorf("%s: err = %v (details %q); want EINVALID mentioning %q", tt.name, err, details(err), tt.want)
		}
	}
	if _, err := fleet.ParseCatalogue(bytes.NewReader([]byte(catalogueJSON(t, func(map[string]any) {})))); err != nil {
		t.Errorf("round trip of the built-in catalogue refused: %v", err)
	}
}

func details(err error) []string {
	if e, ok := err.(*proofgrid.Error); ok {
		return e.Details
	}
	return nil
}

// TestCataloguePricesBounded checks that prices which would push a reward
// estimate to +Inf (a huge ETH price, a vanishing EIGEN price) are refused.
func TestCataloguePricesBounded(t *testing.T) {
	for name, edit := range map[string]func(*fleet.Catalogue){
		"eth_usd 1e308":    func(c *fleet.Catalogue) { c.Prices.ETHUSD = 1e308 },
		"eigen_usd 1e-300": func(c *fleet.Catalogue) { c.Prices.EigenUSD = 1e-300 },
	} {
		c := fleet.EmbeddedCatalogue()
		edit(&c)
		if err := c.Validate(); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
}
