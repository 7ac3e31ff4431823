package proofgrid

import "time"

// Machine roles.
const (
	RoleProver = "prover"
	RoleAVS    = "avs"
	// RoleVerifier machines check zkGolf submissions.
	RoleVerifier = "verifier"
)

// ValidRole reports whether r is a known machine role.
func ValidRole(r string) bool { return r == RoleProver || r == RoleAVS || r == RoleVerifier }

// Machine is an enrolled agent and the last thing it told the coordinator.
type Machine struct {
	ID           string     `json:"machine_id"`
	TeamID       int64      `json:"team_id"`
	Name         string     `json:"name"`
	Role         string     `json:"role"`
	ClusterID    string     `json:"cluster_id,omitempty"`
	PublicKey    string     `json:"public_key"` // base64 (std) Ed25519 public key
	AgentVersion string     `json:"agent_version"`
	EnrolledAt   time.Time  `json:"enrolled_at"`
	LastSeenAt   *time.Time `json:"last_seen_at"`
	// Latest is the most recent sample, nil before the first heartbeat.
	Latest *Sample `json:"latest_sample"`
	// Status is the agent's own report (running jobs, AVS deployment).
	Status *AgentStatus `json:"agent_status,omitempty"`
}

// AgentStatus is what an agent reports about its work next to the sample.
type AgentStatus struct {
	Queues      []string `json:"queues"`
	RunningJobs int      `json:"running_jobs"`
	// LastJobAt is when the agent last finished a job (nil: none since it
	// started), so jobs shorter than the heartbeat interval still count
	// as activity.
	LastJobAt *time.Time  `json:"last_job_at,omitempty"`
	AVS       []AVSReport `json:"avs,omitempty"`
	Errors    []string    `json:"errors,omitempty"`
}

// AVSReport describes one AVS deployment an AVS agent runs.
type AVSReport struct {
	AVS             string `json:"avs"`
	Chain           string `json:"chain"`
	Version         string `json:"version"`
	OperatorAddress string `json:"operator_address"`
	Healthy         bool   `json:"healthy"`
	Error           string `json:"error,omitempty"`
	// Registered is whether the operator is registered with the AVS on
	// its chain, when the agent checked; nil when it did not.
	Registered *bool `json:"registered,omitempty"`
}

// Heartbeat is the body an agent posts every interval.
type Heartbeat struct {
	AgentVersion string      `json:"agent_version"`
	Sample       Sample      `json:"sample"`
	Status       AgentStatus `json:"status"`
}

// EnrollRequest is the body an agent posts, with a team token, to enrol.
// The request is also signed with the key it enrols, proving possession.
type EnrollRequest struct {
	Name         string `json:"name"`
	Role         string `json:"role"`
	ClusterID    string `json:"cluster_id,omitempty"`
	PublicKey    string `json:"public_key"`
	AgentVersion string `json:"agent_version"`
	Host         Host   `json:"host"`
}

// EnrollResponse tells the agent who it is and where to find its jobs.
type EnrollResponse struct {
	MachineID string   `json:"machine_id"`
	Queues    []string `json:"queues"`
	// RedisURL is where the agent's asynq server fetches its jobs; empty
	// means the agent's own configuration decides.
	RedisURL          string `json:"redis_url,omitempty"`
	HeartbeatInterval int    `json:"heartbeat_interval_seconds"`
}
