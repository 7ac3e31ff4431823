package fleet

import (
	"fmt"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid/storage"
)

// Health states, worst first. A machine is in exactly one, the worst that
// applies; Health's flags say every condition that holds.
const (
	// StateOffline: no heartbeat within the TTL, or none yet.
	StateOffline = "offline"
	// StateErroring: the machine reports errors or is out of a resource.
	StateErroring = "erroring"
	// StateUpdateable: its agent or an AVS it runs is behind the latest
	// release.
	StateUpdateable = "updateable"
	// StateIdle: it runs no AVS and has run no job within the idle window.
	StateIdle = "idle"
	// StateHealthy: none of the above.
	StateHealthy = "healthy"
)

// Error codes that health derives itself; errors an agent reports are kept
// as the agent wrote them.
const (
	CodeUnregisteredOperator = "UNREGISTERED_OPERATOR"
	CodeAVSUnhealthy         = "AVS_UNHEALTHY"
	CodeMemoryCritical       = "MEMORY_CRITICAL"
	CodeDiskCritical         = "DISK_CRITICAL"
	CodeGPUXIDErrors         = "GPU_XID_ERRORS"
)

// Warning codes: worth a look, not an error.
const (
	CodeMemoryHigh = "MEMORY_HIGH"
	CodeDiskHigh   = "DISK_HIGH"
)

// Sources of a reported number or fact.
const (
	SourceAgent     = "agent"
	SourceAdmin     = "admin"
	SourceCatalogue = "catalogue"
	SourceNone      = "none"
)

// Rules are the thresholds health is derived with. Zero values mean the
// defaults of DefaultRules.
type Rules struct {
	// HeartbeatTTL is how long after its last heartbeat a machine counts
	// as offline (default three heartbeat intervals).
	HeartbeatTTL time.Duration
	// IdleWindow is how long a machine without an AVS may go without a
	// running job before it counts as idle (default 10 minutes).
	IdleWindow time.Duration
	// WarnPercent: memory or a disk used above it is a warning (default 90).
	WarnPercent float64
	// CriticalPercent: memory or a disk used above it is an error
	// (default 95).
	CriticalPercent float64
	// AgentLatestVersion is a release the operator announces as the
	// latest agent version. The latest agent version is the highest of it,
	// the catalogue's and the coordinator's own release (wired by the
	// coordinator). Versions agents report are never taken: they are
	// whatever an agent says, and one team's agent must not be able to make
	// every other team's machines "updateable".
	AgentLatestVersion string
}

// Defaults of Rules.
const (
	DefaultIdleWindow      = 10 * time.Minute
	DefaultWarnPercent     = 90
	DefaultCriticalPercent = 95
	// DefaultTTLIntervals is the default TTL in heartbeat intervals: two
	// heartbeats may be lost before a machine counts as offline.
	DefaultTTLIntervals = 3
)

// DefaultRules returns the default rules for agents heartbeating every
// heartbeatInterval (15 s when zero).
func DefaultRules(heartbeatInterval time.Duration) Rules {
	return Rules{}.withDefaults(heartbeatInterval)
}

func (r Rules) withDefaults(heartbeatInterval time.Duration) Rules {
	if heartbeatInterval <= 0 {
		heartbeatInterval = 15 * time.Second
	}
	if r.HeartbeatTTL <= 0 {
		r.HeartbeatTTL = DefaultTTLIntervals * heartbeatInterval
	}
	if r.IdleWindow <= 0 {
		r.IdleWindow = DefaultIdleWindow
	}
	if r.WarnPercent <= 0 {
		r.WarnPercent = DefaultWarnPercent
	}
	if r.CriticalPercent <= 0 {
		r.CriticalPercent = DefaultCriticalPercent
	}
	return r
}

// Registration is whether an operator is registered with an AVS, with
// where that came from and when it held. Registered is nil when nobody
// said.
type Registration struct {
	Registered *bool      `json:"registered"`
	Source     string     `json:"source"`
	AsOf       *time.Time `json:"as_of"`
}

// ResolveRegistration combines what the agent reported for a deployment
// with what an admin recorded for its AVS, chain and operator: the newer
// statement wins, the agent on a tie, since it checked the live node.
func ResolveRegistration(d storage.AVSDeployment) Registration {
	var out Registration
	out.Source = SourceNone
	if d.Registered != nil {
		v, at := *d.Registered, d.ReportedAt
		out = Registration{Registered: &v, Source: SourceAgent, AsOf: &at}
	}
	if r := d.Recorded; r != nil && (out.AsOf == nil || r.AsOf.After(*out.AsOf)) {
		v, at := r.Registered, r.AsOf
		out = Registration{Registered: &v, Source: SourceAdmin, AsOf: &at}
	}
	return out
}

// Deployment is one AVS deployment of a machine as health reads it.
type Deployment struct {
	AVSID           string
	Chain           string
	Version         string
	OperatorAddress string
	Healthy         bool
	Error           string
	ReportedAt      time.Time
	Registration    Registration
}

// deploymentOf converts a stored deployment, resolving its registration.
func deploymentOf(d storage.AVSDeployment) Deployment {
	return Deployment{
		AVSID: d.AVSID, Chain: d.Chain, Version: d.Version, OperatorAddress: d.OperatorAddress,
		Healthy: d.Healthy, Error: d.Error, ReportedAt: d.ReportedAt, Registration: ResolveRegistration(d),
	}
}

// Input is what Assess knows of one machine: its agent version, its last
// heartbeat, and the Observation that Observe condensed from that
// heartbeat's sample and status.
type Input struct {
	AgentVersion string
	// EnrolledAt is when the machine enrolled: a machine that has run no
	// job yet becomes idle an idle window after it.
	EnrolledAt time.Time
	LastSeenAt *time.Time
	// Observation is nil before the first heartbeat.
	Observation *storage.Observation
	Deployments []Deployment
}

// Health is a machine's derived health.
type Health struct {
	// State is the worst state that applies.
	State      string `json:"state"`
	Offline    bool   `json:"offline"`
	Erroring   bool   `json:"erroring"`
	Updateable bool   `json:"updateable"`
	// AgentUpdateable and AVSUpdateable say which part is behind: the
	// agent itself (a client update, /v1/client/updateable) or an AVS it
	// runs (/v1/avs/updateable/).
	AgentUpdateable bool `json:"agent_updateable"`
	AVSUpdateable   bool `json:"avs_updateable"`
	Idle            bool `json:"idle"`
	// HasAVS reports an AVS deployment in the machine's last report.
	HasAVS bool `json:"has_avs"`
	// Errors are the agent's reported errors and the codes health derived.
	Errors []string `json:"errors"`
	// Warnings are codes of conditions worth a look (above WarnPercent).
	Warnings []string `json:"warnings"`
	// Reasons explain, in words, every condition that keeps the machine
	// from being healthy.
	Reasons []string `json:"reasons"`
}

// Unhealthy reports whether the machine is erroring, updateable, or
// offline with an AVS deployed: the Ivynet draft counts "offline machines
// with AVS registered status", so an offline machine without an AVS (a
// prover) is offline but not in the unhealthy list. An idle machine is
// neither healthy nor unhealthy.
func (h Health) Unhealthy() bool { return unhealthy(h.Offline, h.HasAVS, h.Erroring, h.Updateable) }

func unhealthy(offline, hasAVS, erroring, updateable bool) bool {
	return (offline && hasAVS) || erroring || updateable
}

// Healthy reports whether no condition applies.
func (h Health) Healthy() bool { return h.State == StateHealthy }

// Reason joins Reasons into one line.
func (h Health) Reason() string {
	if len(h.Reasons) == 0 {
		return "all checks pass"
	}
	return strings.Join(h.Reasons, "; ")
}

// Assess derives a machine's health at now. It is the one place the health
// rules live; surfaces and the heartbeat sweep both call it.
//
//   - offline: no heartbeat yet, or none for longer than the TTL. Nothing
//     else is judged from a stale report, except versions, which do not go
//     stale.
//   - erroring: the agent reported errors; an AVS is unhealthy or its
//     operator is known to be unregistered; memory or any disk is above
//     CriticalPercent; a GPU had XID errors. Above WarnPercent is a warning.
//   - updateable: the agent, or an AVS it runs, is behind the latest
//     release (rules, then catalogue). Unknown versions are never behind.
//   - idle: no AVS deployed, and no job running now or within IdleWindow.
func Assess(in Input, now time.Time, rules Rules, cat *Catalogue) Health {
	rules = rules.withDefaults(0)
	h := Health{Errors: []string{}, Warnings: []string{}, Reasons: []string{}}
	reason := func(format string, args ...any) { h.Reasons = append(h.Reasons, fmt.Sprintf(format, args...)) }

	switch {
	case in.LastSeenAt == nil:
		h.Offline = true
		reason("no heartbeat yet")
	case now.Sub(*in.LastSeenAt) > rules.HeartbeatTTL:
		h.Offline = true
		reason("no heartbeat since %s (TTL %s)", in.LastSeenAt.UTC().Format(time.RFC3339), rules.HeartbeatTTL)
	}

	if o := in.Observation; o != nil && !h.Offline {
		for _, e := range o.Errors {
			h.Errors = appendNew(h.Errors, e)
			reason("agent reports: %s", e)
		}
		for _, d := range in.Deployments {
			switch {
			case d.Error != "":
				if !contains(h.Errors, d.Error) {
					reason("%s on %s: %s", d.AVSID, d.Chain, d.Error)
				}
				h.Errors = appendNew(h.Errors, d.Error)
			case !d.Healthy:
				h.Errors = appendNew(h.Errors, CodeAVSUnhealthy)
				reason("%s on %s: the AVS node reports unhealthy", d.AVSID, d.Chain)
			}
			if r := d.Registration; r.Registered != nil && !*r.Registered {
				h.Errors = appendNew(h.Errors, CodeUnregisteredOperator)
				reason("operator %s is not registered with %s on %s (source %s)", d.OperatorAddress, d.AVSID, d.Chain, r.Source)
			}
		}
		switch {
		case o.MemoryPercent > rules.CriticalPercent:
			h.Errors = append(h.Errors, CodeMemoryCritical)
			reason("memory %.1f%% used (above %g%%)", o.MemoryPercent, rules.CriticalPercent)
		case o.MemoryPercent > rules.WarnPercent:
			h.Warnings = append(h.Warnings, CodeMemoryHigh)
		}
		switch {
		case o.DiskMaxPercent > rules.CriticalPercent:
			h.Errors = append(h.Errors, CodeDiskCritical)
			reason("disk %s %.1f%% used (above %g%%)", o.DiskMaxMount, o.DiskMaxPercent, rules.CriticalPercent)
		case o.DiskMaxPercent > rules.WarnPercent:
			h.Warnings = append(h.Warnings, CodeDiskHigh)
		}
		if o.GPUXIDErrors > 0 {
			h.Errors = append(h.Errors, CodeGPUXIDErrors)
			reason("%d GPU XID errors", o.GPUXIDErrors)
		}
		h.Erroring = len(h.Errors) > 0

		since := in.activeSince()
		if len(in.Deployments) == 0 && o.RunningJobs == 0 &&
			(since == nil || now.Sub(*since) > rules.IdleWindow) {
			h.Idle = true
			if o.LastActiveAt == nil {
				reason("no AVS deployed and no job run yet")
			} else {
				reason("no AVS deployed and no job since %s", o.LastActiveAt.UTC().Format(time.RFC3339))
			}
		}
	}

	h.HasAVS = len(in.Deployments) > 0
	agentLatest := rules.AgentLatestVersion
	if cat != nil {
		agentLatest = LatestVersion(agentLatest, cat.Agent.LatestVersion)
	}
	if Behind(in.AgentVersion, agentLatest) {
		h.Updateable, h.AgentUpdateable = true, true
		reason("agent %s is behind %s", in.AgentVersion, agentLatest)
	}
	for _, d := range in.Deployments {
		if latest := cat.latestAVSVersion(d.AVSID, d.Chain); Behind(d.Version, latest) {
			h.Updateable, h.AVSUpdateable = true, true
			reason("%s %s on %s is behind %s", d.AVSID, d.Version, d.Chain, latest)
		}
	}

	h.State = stateOf(h.Offline, h.Erroring, h.Updateable, h.Idle)
	return h
}

// stateOf names the state of a machine with these conditions: the first
// that holds of offline, erroring, updateable and idle, else healthy.
// Assess and the stored judgements (verdictAt) share it.
func stateOf(offline, erroring, updateable, idle bool) string {
	switch {
	case offline:
		return StateOffline
	case erroring:
		return StateErroring
	case updateable:
		return StateUpdateable
	case idle:
		return StateIdle
	default:
		return StateHealthy
	}
}

// activeSince is when the machine was last active, which the idle window
// counts from: its last job, or its enrolment when it has run none; nil
// when neither is known.
func (in Input) activeSince() *time.Time {
	if in.Observation != nil && in.Observation.LastActiveAt != nil {
		return in.Observation.LastActiveAt
	}
	if !in.EnrolledAt.IsZero() {
		return &in.EnrolledAt
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func appendNew(list []string, s string) []string {
	if contains(list, s) {
		return list
	}
	return append(list, s)
}
