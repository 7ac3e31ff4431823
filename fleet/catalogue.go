package fleet

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"time"

	"github.com/proofgrid/proofgrid"
)

// Catalogue lists the AVSs agents can run: their networks, latest
// versions, hardware per node class and reward rates, plus the latest
// agent version and the prices that turn rates into money. Its JSON form
// is the file `coordinator avs import` reads; docs/ivynet.md describes it.
type Catalogue struct {
	// Description says what the data is and where it comes from.
	Description string `json:"description,omitempty"`
	// AsOf dates the data. Loading the built-in catalogue at start never
	// replaces stored entries with a later date.
	AsOf   time.Time    `json:"as_of"`
	Agent  AgentRelease `json:"agent"`
	Prices Prices       `json:"prices"`
	AVS    []AVS        `json:"avs"`
}

// AgentRelease describes the newest proofgrid agent.
type AgentRelease struct {
	// LatestVersion is the newest agent release; agents behind it are
	// updateable. Empty means unknown.
	LatestVersion string `json:"latest_version"`
}

// Prices convert reward rates into dollars and EIGEN.
type Prices struct {
	ETHUSD   float64   `json:"eth_usd"`
	EigenUSD float64   `json:"eigen_usd"`
	AsOf     time.Time `json:"as_of"`
}

// AVS is one deployable AVS.
type AVS struct {
	ID          string `json:"avs_id"`
	Name        string `json:"avs_name"`
	Description string `json:"description,omitempty"`
	// Networks are the chains it runs on.
	Networks []Network `json:"networks"`
	// LatestVersion is the newest release of its node software, for
	// networks that do not name their own.
	LatestVersion string `json:"latest_version"`
	// Allowlist is true when operators must be admitted by the AVS team.
	Allowlist bool `json:"allowlist"`
	// MinimumStakeETH is the delegated stake an operator needs to join.
	MinimumStakeETH float64 `json:"minimum_stake_eth"`
	// NodeClasses are the hardware classes by operator stake, smallest
	// first; the last has no upper bound.
	NodeClasses []NodeClass `json:"node_classes"`
	Rewards     Rewards     `json:"rewards"`

	// Source and AsOf say where a stored entry came from and the date its
	// file gave; they are not part of the file format.
	Source string    `json:"-"`
	AsOf   time.Time `json:"-"`
}

// Network is one chain an AVS runs on.
type Network struct {
	Name    string `json:"name"`
	ChainID uint64 `json:"chain_id"`
	// LatestVersion overrides the AVS's latest version on this network.
	LatestVersion string `json:"latest_version,omitempty"`
}

// NodeClass is the hardware an operator needs up to a stake.
type NodeClass struct {
	// MaxStakeETH is the largest delegated stake the class serves; zero
	// means no bound, and only the last class may have none.
	MaxStakeETH  float64 `json:"max_stake_eth,omitempty"`
	Name         string  `json:"node_class"`
	Cores        int     `json:"cores"`
	MemoryBytes  uint64  `json:"memory_bytes"`
	DiskBytes    uint64  `json:"disk_bytes"`
	BandwidthBPS uint64  `json:"bandwidth_bps"`
	GPU          string  `json:"gpu,omitempty"`
}

// Rewards is what an AVS pays its operators.
type Rewards struct {
	// AnnualRate is the yearly reward as a fraction of the delegated stake,
	// valued in ETH.
	AnnualRate float64 `json:"annual_rate"`
	// PaidIn names the tokens the rewards are paid in.
	PaidIn string `json:"paid_in"`
}

var (
	//go:embed catalogue/avs.json
	embeddedCatalogue []byte

	avsIDPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,63}$`)
	networkPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
)

// maxCatalogueBytes bounds a catalogue file; the built-in one is a few KiB.
const maxCatalogueBytes = 4 << 20

// EmbeddedCatalogue returns the catalogue built into the binary
// (fleet/catalogue/avs.json).
func EmbeddedCatalogue() Catalogue {
	c, err := ParseCatalogue(bytes.NewReader(embeddedCatalogue))
	if err != nil {
		// The file is part of the source and tested; this cannot happen in
		// a build that passed its tests.
		panic("fleet: built-in catalogue: " + err.Error())
	}
	return c
}

// ParseCatalogue reads and validates a catalogue file. Unknown fields are
// refused so that a misspelt key fails instead of silently meaning zero.
func ParseCatalogue(r io.Reader) (Catalogue, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxCatalogueBytes+1))
	if err != nil {
		return Catalogue{}, fmt.Errorf("read catalogue: %w", err)
	}
	if len(data) > maxCatalogueBytes {
		return Catalogue{}, proofgrid.Errorf(proofgrid.ETOOLARGE, "catalogue is larger than %d bytes", maxCatalogueBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Catalogue
	if err := dec.Decode(&c); err != nil {
		return Catalogue{}, proofgrid.Errorf(proofgrid.EINVALID, "catalogue is not valid JSON of the expected shape: %v", err)
	}
	if dec.More() {
		return Catalogue{}, proofgrid.Errorf(proofgrid.EINVALID, "catalogue has data after its object")
	}
	if err := c.Validate(); err != nil {
		return Catalogue{}, err
	}
	return c, nil
}

// Validate checks a catalogue and returns every problem found, as the
// Details of one EINVALID error.
func (c Catalogue) Validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if c.AsOf.IsZero() {
		bad("as_of is required")
	}
	if v := c.Agent.LatestVersion; v != "" && !ValidVersion(v) {
		bad("agent.latest_version %q is not a release version", v)
	}
	if !price(c.Prices.ETHUSD) || !price(c.Prices.EigenUSD) {
		bad("prices.eth_usd and prices.eigen_usd must be numbers between %g and %g", minPrice, maxPrice)
	}
	if len(c.AVS) == 0 {
		bad("avs must list at least one AVS")
	}
	seen := map[string]bool{}
	for i, a := range c.AVS {
		at := fmt.Sprintf("avs[%d]", i)
		if !avsIDPattern.MatchString(a.ID) {
			bad("%s.avs_id %q must be 1..64 lower-case letters, digits or '_'", at, a.ID)
		} else if seen[a.ID] {
			bad("%s.avs_id %q is listed twice", at, a.ID)
		}
		seen[a.ID] = true
		at = "avs " + a.ID
		if a.Name == "" || len(a.Name) > maxNameLen {
			bad("%s: avs_name must be 1..%d characters", at, maxNameLen)
		}
		if !ValidVersion(a.LatestVersion) {
			bad("%s: latest_version %q is not a release version", at, a.LatestVersion)
		}
		if len(a.Networks) == 0 {
			bad("%s: networks must list at least one network", at)
		}
		nets := map[string]bool{}
		for _, n := range a.Networks {
			if !networkPattern.MatchString(n.Name) {
				bad("%s: network name %q must be lower-case letters, digits, '_' or '-'", at, n.Name)
			} else if nets[n.Name] {
				bad("%s: network %q is listed twice", at, n.Name)
			}
			nets[n.Name] = true
			if n.LatestVersion != "" && !ValidVersion(n.LatestVersion) {
				bad("%s: network %s latest_version %q is not a release version", at, n.Name, n.LatestVersion)
			}
		}
		if !nonNegative(a.MinimumStakeETH) {
			bad("%s: minimum_stake_eth must not be negative", at)
		}
		if len(a.NodeClasses) == 0 {
			bad("%s: node_classes must list at least one class", at)
		}
		prev := 0.0
		for j, nc := range a.NodeClasses {
			last := j == len(a.NodeClasses)-1
			switch {
			case nc.Name == "":
				bad("%s: node_classes[%d].node_class is required", at, j)
			case nc.Cores <= 0 || nc.MemoryBytes == 0 || nc.DiskBytes == 0:
				bad("%s: node class %s needs positive cores, memory_bytes and disk_bytes", at, nc.Name)
			case !nonNegative(nc.MaxStakeETH):
				bad("%s: node class %s: max_stake_eth must not be negative", at, nc.Name)
			case last && nc.MaxStakeETH != 0:
				bad("%s: the last node class (%s) must have no max_stake_eth", at, nc.Name)
			case !last && nc.MaxStakeETH <= prev:
				bad("%s: node class %s: max_stake_eth must be set and grow from class to class", at, nc.Name)
			}
			prev = nc.MaxStakeETH
		}
		if r := a.Rewards.AnnualRate; !nonNegative(r) || r > 1 {
			bad("%s: rewards.annual_rate must be a fraction between 0 and 1", at)
		}
	}
	if len(problems) > 0 {
		return &proofgrid.Error{Code: proofgrid.EINVALID, Message: "catalogue is invalid: " + problems[0], Details: problems}
	}
	return nil
}

// Bounds of a catalogue price in dollars: with stakes bounded by MaxStake
// they keep every reward estimate finite.
const (
	minPrice = 1e-6
	maxPrice = 1e9
)

func price(f float64) bool       { return f >= minPrice && f <= maxPrice }
func nonNegative(f float64) bool { return f >= 0 && !math.IsInf(f, 0) && !math.IsNaN(f) }

// Lookup returns the AVS with the given id.
func (c Catalogue) Lookup(id string) (AVS, bool) {
	for _, a := range c.AVS {
		if a.ID == id {
			return a, true
		}
	}
	return AVS{}, false
}

// LatestVersionOn returns the newest release of the AVS on network: the
// network's own latest version, else the AVS's.
func (a AVS) LatestVersionOn(network string) string {
	for _, n := range a.Networks {
		if n.Name == network && n.LatestVersion != "" {
			return n.LatestVersion
		}
	}
	return a.LatestVersion
}

// NetworkNames lists the names of the AVS's networks.
func (a AVS) NetworkNames() []string {
	out := make([]string, len(a.Networks))
	for i, n := range a.Networks {
		out[i] = n.Name
	}
	return out
}

// NodeClassFor returns the node class serving an operator with stakeETH of
// delegated stake.
func (a AVS) NodeClassFor(stakeETH float64) NodeClass {
	for _, nc := range a.NodeClasses {
		if nc.MaxStakeETH == 0 || stakeETH <= nc.MaxStakeETH {
			return nc
		}
	}
	return a.NodeClasses[len(a.NodeClasses)-1]
}

// latestAVSVersion returns the newest release of avsID on network, or ""
// when the catalogue does not know the AVS.
func (c *Catalogue) latestAVSVersion(avsID, network string) string {
	if c == nil {
		return ""
	}
	a, ok := c.Lookup(avsID)
	if !ok {
		return ""
	}
	return a.LatestVersionOn(network)
}

// Names of the catalogue settings in storage.
const (
	settingAgentLatest = "agent.latest_version"
	settingPrices      = "prices"
	settingCatalogue   = "catalogue"
)
