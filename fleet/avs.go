package fleet

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
)

// DeploymentReport is an AVS deployment of a machine together with what
// the catalogue says about it.
type DeploymentReport struct {
	MachineID string
	Deployment
	// AVSName is the catalogue's name, or the id of an AVS the catalogue
	// does not list.
	AVSName string
	// LatestVersion is the catalogue's newest release on the deployment's
	// network; "" when unknown.
	LatestVersion string
	Updateable    bool
	InCatalogue   bool
}

// Deployments returns the AVS deployments of teamID's machines (0: every
// team), ordered by machine name, machine id, AVS and chain.
func (m *Monitor) Deployments(ctx context.Context, teamID int64) ([]DeploymentReport, *Catalogue, error) {
	cat, err := m.Catalogue(ctx)
	if err != nil {
		return nil, nil, err
	}
	deps, err := m.db.AVSDeployments(ctx, storage.FleetFilter{TeamID: teamID})
	if err != nil {
		return nil, nil, err
	}
	out := make([]DeploymentReport, 0, len(deps))
	for _, d := range deps {
		r := DeploymentReport{MachineID: d.MachineID, Deployment: deploymentOf(d), AVSName: d.AVSID}
		if a, ok := cat.Lookup(d.AVSID); ok {
			r.AVSName, r.InCatalogue = a.Name, true
			r.LatestVersion = a.LatestVersionOn(d.Chain)
			r.Updateable = Behind(d.Version, r.LatestVersion)
		}
		out = append(out, r)
	}
	return out, cat, nil
}

// RecordedRegistrations returns every registration an admin recorded, of
// any AVS, network and operator: they are on-chain facts about addresses,
// not team data.
func (m *Monitor) RecordedRegistrations(ctx context.Context) ([]storage.AVSRegistration, error) {
	return m.db.AVSRegistrations(ctx, "")
}

// catalogueAVS returns the catalogue entry of avsID or ENOTFOUND.
func (m *Monitor) catalogueAVS(ctx context.Context, avsID string) (AVS, *Catalogue, error) {
	cat, err := m.Catalogue(ctx)
	if err != nil {
		return AVS{}, nil, err
	}
	a, ok := cat.Lookup(normalizeName(avsID))
	if !ok {
		return AVS{}, nil, proofgrid.Errorf(proofgrid.ENOTFOUND, "AVS %q not found in the catalogue", avsID)
	}
	return a, cat, nil
}

// checkNetwork refuses a network the AVS does not run on; "" passes.
func checkNetwork(a AVS, network string) error {
	if network == "" {
		return nil
	}
	for _, n := range a.Networks {
		if n.Name == network {
			return nil
		}
	}
	return proofgrid.Errorf(proofgrid.EINVALID, "network must be one of %v for %s, got %q", a.NetworkNames(), a.ID, network)
}

// RegistrationQuery selects the statements Registered looks at.
type RegistrationQuery struct {
	TeamID int64
	AVSID  string
	// Network and Operator narrow the query when set.
	Network  string
	Operator string
}

// Registered reports whether an operator of the team is registered with an
// AVS: true when any matching deployment's resolved registration says so,
// or, for a given operator, an admin record does. An AVS the catalogue
// does not list is ENOTFOUND.
func (m *Monitor) Registered(ctx context.Context, q RegistrationQuery) (bool, error) {
	a, _, err := m.catalogueAVS(ctx, q.AVSID)
	if err != nil {
		return false, err
	}
	network := normalizeName(q.Network)
	if err := checkNetwork(a, network); err != nil {
		return false, err
	}
	operator := ""
	if q.Operator != "" {
		if operator, err = ParseOperatorAddress(q.Operator); err != nil {
			return false, err
		}
	}
	match := func(chain, op string) bool {
		return (network == "" || chain == network) && (operator == "" || op == operator)
	}
	deps, err := m.db.AVSDeployments(ctx, storage.FleetFilter{TeamID: q.TeamID})
	if err != nil {
		return false, err
	}
	for _, d := range deps {
		if d.AVSID != a.ID || !match(d.Chain, d.OperatorAddress) {
			continue
		}
		if r := ResolveRegistration(d); r.Registered != nil && *r.Registered {
			return true, nil
		}
	}
	if operator == "" {
		return false, nil
	}
	recs, err := m.db.AVSRegistrations(ctx, a.ID)
	if err != nil {
		return false, err
	}
	for _, r := range recs {
		if match(r.Chain, r.OperatorAddress) && r.Registered {
			return true, nil
		}
	}
	return false, nil
}

// RecordRegistration stores an admin's statement that an operator is (or
// is not) registered with an AVS on a network. AsOf defaults to now and
// may not lie in the future. created reports a new record.
func (m *Monitor) RecordRegistration(ctx context.Context, r storage.AVSRegistration) (storage.AVSRegistration, bool, error) {
	a, _, err := m.catalogueAVS(ctx, r.AVSID)
	if err != nil {
		return r, false, err
	}
	r.AVSID, r.Chain = a.ID, normalizeName(r.Chain)
	if r.Chain == "" {
		return r, false, proofgrid.Errorf(proofgrid.EINVALID, "network is required")
	}
	if err := checkNetwork(a, r.Chain); err != nil {
		return r, false, err
	}
	if r.OperatorAddress, err = ParseOperatorAddress(r.OperatorAddress); err != nil {
		return r, false, err
	}
	if r.AsOf, err = m.asOf(r.AsOf); err != nil {
		return r, false, err
	}
	r.Source = SourceAdmin
	created, err := m.db.PutAVSRegistration(ctx, r)
	return r, created, err
}

// asOf defaults a fact's date to now and refuses one in the future (beyond
// a minute of clock skew): a statement about tomorrow would win every
// comparison with what agents report until then.
func (m *Monitor) asOf(t time.Time) (time.Time, error) {
	now := m.Now()
	if t.IsZero() {
		return now, nil
	}
	if t.After(now.Add(time.Minute)) {
		return t, proofgrid.Errorf(proofgrid.EINVALID, "as_of %s lies in the future", t.UTC().Format(time.RFC3339))
	}
	return t.UTC(), nil
}

// MaxStake bounds a stake amount and the sum of an operator's
// strategies: a thousand times all the ether there is, and far below
// where a sum or a reward estimate could overflow to +Inf, which JSON
// cannot carry.
const MaxStake = 1e11

func stakeAmount(f float64) bool { return nonNegative(f) && f <= MaxStake }

// Limits of a stake record.
const (
	maxStrategies   = 64
	maxStrategyName = 64
)

// RecordStake stores an admin's record of the stake delegated to an
// operator. AsOf defaults to now. created reports a new record.
func (m *Monitor) RecordStake(ctx context.Context, s storage.OperatorStake) (storage.OperatorStake, bool, error) {
	var err error
	if s.OperatorAddress, err = ParseOperatorAddress(s.OperatorAddress); err != nil {
		return s, false, err
	}
	if !stakeAmount(s.Eigen) {
		return s, false, proofgrid.Errorf(proofgrid.EINVALID, "eigen must be a number between 0 and %g", MaxStake)
	}
	total := 0.0
	if len(s.Strategies) > maxStrategies {
		return s, false, proofgrid.Errorf(proofgrid.EINVALID, "at most %d strategies", maxStrategies)
	}
	for i, st := range s.Strategies {
		if st.Name == "" || len(st.Name) > maxStrategyName {
			return s, false, proofgrid.Errorf(proofgrid.EINVALID, "ethereum[%d].name must be 1..%d characters", i, maxStrategyName)
		}
		if !proofgrid.ValidAddress(st.Address) {
			return s, false, proofgrid.Errorf(proofgrid.EINVALID, "ethereum[%d].address must be 0x followed by 40 hex digits", i)
		}
		if !stakeAmount(st.DelegatedStake) {
			return s, false, proofgrid.Errorf(proofgrid.EINVALID, "ethereum[%d].delegated_stake must be a number between 0 and %g", i, MaxStake)
		}
		total += st.DelegatedStake
	}
	if total > MaxStake {
		return s, false, proofgrid.Errorf(proofgrid.EINVALID, "the delegated stakes of ethereum add up to %g; at most %g", total, MaxStake)
	}
	if s.AsOf, err = m.asOf(s.AsOf); err != nil {
		return s, false, err
	}
	s.Source = SourceAdmin
	created, err := m.db.PutOperatorStake(ctx, s)
	return s, created, err
}

// Stake returns the stake recorded for an operator; none recorded is
// ENOTFOUND, and a malformed address EINVALID.
func (m *Monitor) Stake(ctx context.Context, operator string) (storage.OperatorStake, error) {
	addr, err := ParseOperatorAddress(operator)
	if err != nil {
		return storage.OperatorStake{}, err
	}
	return m.db.OperatorStake(ctx, addr)
}

// StakeFigure is an operator's delegated ETH stake and where the figure
// came from.
type StakeFigure struct {
	ETH    float64
	Source string
	AsOf   *time.Time
}

// stakeOf sums the ETH strategies of an operator's recorded stake; the
// liquid staking tokens count one ETH each, which is close enough to pick
// a node class or estimate a reward. No record means zero, source "none".
func (m *Monitor) stakeOf(ctx context.Context, operator string) (StakeFigure, error) {
	s, err := m.db.OperatorStake(ctx, operator)
	if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
		return StakeFigure{Source: SourceNone}, nil
	} else if err != nil {
		return StakeFigure{}, err
	}
	total := 0.0
	for _, st := range s.Strategies {
		total += st.DelegatedStake
	}
	// Records stored before amounts were bounded may sum past MaxStake,
	// even to +Inf; they count as MaxStake.
	if !(total <= MaxStake) {
		total = MaxStake
	}
	at := s.AsOf
	return StakeFigure{ETH: total, Source: s.Source, AsOf: &at}, nil
}

// Requirements is what an AVS asks of an operator with a given stake.
type Requirements struct {
	AVS       AVS
	NodeClass NodeClass
	Stake     StakeFigure
	// MeetsMinimum reports whether the operator's stake reaches the AVS's
	// minimum.
	MeetsMinimum bool
}

// Requirements returns the hardware, stake and allowlist requirements of
// an AVS for an operator: the node class is picked by the operator's
// recorded stake (the smallest class when none is recorded).
func (m *Monitor) Requirements(ctx context.Context, avsID, operator string) (Requirements, error) {
	addr, err := ParseOperatorAddress(operator)
	if err != nil {
		return Requirements{}, err
	}
	a, _, err := m.catalogueAVS(ctx, avsID)
	if err != nil {
		return Requirements{}, err
	}
	st, err := m.stakeOf(ctx, addr)
	if err != nil {
		return Requirements{}, err
	}
	return Requirements{AVS: a, NodeClass: a.NodeClassFor(st.ETH), Stake: st, MeetsMinimum: st.ETH >= a.MinimumStakeETH}, nil
}

// Currencies a reward estimate can be asked in.
const (
	CurrencyDollar   = "dollar"
	CurrencyEthereum = "ethereum"
	CurrencyEigen    = "eigen"
)

// ParseCurrency maps a currency name (usd or dollar, eth or ethereum,
// eigen; any case) to its Currency constant. "" stays "", meaning dollar
// and ethereum both.
func ParseCurrency(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return "", nil
	case "usd", "dollar", "dollars":
		return CurrencyDollar, nil
	case "eth", "ethereum", "ether":
		return CurrencyEthereum, nil
	case "eigen":
		return CurrencyEigen, nil
	}
	return "", proofgrid.Errorf(proofgrid.EINVALID, "currency must be usd, eth or eigen, got %q", s)
}

// RewardEstimate is the monthly reward an operator can expect from an AVS.
type RewardEstimate struct {
	AVS   AVS
	Stake StakeFigure
	// Monthly rewards valued in dollars, ETH and EIGEN.
	Dollar, Ethereum, Eigen float64
	Prices                  Prices
}

// Rewards estimates an operator's monthly reward from an AVS: its recorded
// delegated ETH stake times the catalogue's annual rate, over twelve,
// converted with the catalogue's prices.
func (m *Monitor) Rewards(ctx context.Context, avsID, operator string) (RewardEstimate, error) {
	addr, err := ParseOperatorAddress(operator)
	if err != nil {
		return RewardEstimate{}, err
	}
	a, cat, err := m.catalogueAVS(ctx, avsID)
	if err != nil {
		return RewardEstimate{}, err
	}
	st, err := m.stakeOf(ctx, addr)
	if err != nil {
		return RewardEstimate{}, err
	}
	eth := st.ETH * a.Rewards.AnnualRate / 12
	r := RewardEstimate{AVS: a, Stake: st, Ethereum: round(eth, 6), Prices: cat.Prices}
	r.Dollar = round(eth*cat.Prices.ETHUSD, 2)
	if cat.Prices.EigenUSD > 0 {
		r.Eigen = round(eth*cat.Prices.ETHUSD/cat.Prices.EigenUSD, 4)
	}
	return r, nil
}

func round(f float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(f*p) / p
}
