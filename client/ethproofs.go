package client

import "time"

// This file holds the bodies of the Ethproofs calls a prover agent makes
// (below /api/v0, signed with the agent's key). The coordinator decodes
// and answers with these same types, so the agent and the coordinator
// cannot drift apart on a member's name or type.

// Paths of the Ethproofs calls a prover agent makes. PathBlocks is
// followed by a block number or hash.
const (
	PathClusters      = "/api/v0/clusters"
	PathProofs        = "/api/v0/proofs"
	PathBlocks        = "/api/v0/blocks/"
	PathProofsQueued  = "/api/v0/proofs/queued"
	PathProofsProving = "/api/v0/proofs/proving"
	PathProofsProved  = "/api/v0/proofs/proved"
	PathWorkerEvents  = "/api/v0/worker-events"
)

// ProofReport is the body of POST /api/v0/proofs/queued and
// /api/v0/proofs/proving: a cluster announces that it will prove, or has
// started proving, a block.
type ProofReport struct {
	BlockNumber uint64 `json:"block_number"`
	// ClusterID is Ethproofs' cluster id: the cluster's index within its
	// team (Cluster.ID), not its UUID.
	ClusterID int64 `json:"cluster_id"`
}

// ProvedReport is the body of POST /api/v0/proofs/proved.
type ProvedReport struct {
	BlockNumber uint64 `json:"block_number"`
	ClusterID   int64  `json:"cluster_id"`
	// ProvingTime is the time to generate the proof in milliseconds;
	// it must be greater than zero.
	ProvingTime float64 `json:"proving_time"`
	// ProvingCycles is the zkVM's cycle count; zero means unknown and is
	// left out.
	ProvingCycles uint64 `json:"proving_cycles,omitempty"`
	// Proof is the proof's bytes, sent as standard base64.
	Proof []byte `json:"proof"`
	// VerifierID is the vkey or image id of the program; empty is left
	// out.
	VerifierID string `json:"verifier_id,omitempty"`
}

// ReportResponse answers a proof report.
type ReportResponse struct {
	ProofID int64 `json:"proof_id"`
}

// Statuses of a FailureReport.
const (
	JobFailed    = "Failed"
	JobCancelled = "Cancelled"
)

// FailureReport is the body of POST /api/v0/worker-events, proofgrid's
// route for a prover agent to record a prove:block job that failed or was
// cancelled. The coordinator publishes it as a worker event, so Error must
// be a short message that holds nothing the prover printed: the command's
// output may carry secrets and stays in the agent's own log.
type FailureReport struct {
	BlockNumber uint64 `json:"block_number"`
	ClusterID   int64  `json:"cluster_id"`
	// Status is JobFailed or JobCancelled.
	Status string `json:"status"`
	// Attempt is the delivery's retry count, so that a resent report is
	// not a second event.
	Attempt   int       `json:"attempt"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	Error     string    `json:"error,omitempty"`
}

// FailureResponse answers a FailureReport; Recorded is false when the
// same report was recorded before.
type FailureResponse struct {
	Recorded bool `json:"recorded"`
}

// Cluster is one entry of GET /api/v0/clusters: Ethproofs' id (the
// cluster's index within its team), name and hardware description, then
// proofgrid's additions, of which UUID is what agents are configured with
// and what the clusters filter of GET /api/v0/proofs takes.
type Cluster struct {
	ID                  int64   `json:"id"`
	Name                string  `json:"name"`
	HardwareDescription *string `json:"hardware_description"`
	UUID                string  `json:"uuid"`
	NumGPUs             int64   `json:"num_gpus"`
	DeploymentType      string  `json:"deployment_type"`
	IsActive            bool    `json:"is_active"`
	CreatedAt           string  `json:"created_at"`
	// ClusterVersion is the active version; nil when there is none.
	ClusterVersion *ActiveClusterVersion `json:"cluster_version"`
}

// ActiveClusterVersion is the active version of a listed Cluster.
type ActiveClusterVersion struct {
	ID            int64   `json:"id"`
	Index         int64   `json:"index"`
	ZKVMVersionID int64   `json:"zkvm_version_id"`
	VKPath        *string `json:"vk_path"`
	CreatedAt     string  `json:"created_at"`
}

// Block is a block as GET /api/v0/blocks/{block} shows it. Metadata not
// known yet reads as an empty string or zero: the Ethproofs document makes
// every member required and non-null.
type Block struct {
	BlockNumber      int64  `json:"block_number"`
	Hash             string `json:"hash"`
	Timestamp        string `json:"timestamp"`
	GasUsed          int64  `json:"gas_used"`
	TransactionCount int64  `json:"transaction_count"`
	CreatedAt        string `json:"created_at"`
	UpdatedAt        string `json:"updated_at"`
}

// ProofList is the answer of GET /api/v0/proofs.
type ProofList struct {
	Proofs     []Proof `json:"proofs"`
	TotalCount int64   `json:"total_count"`
	Limit      int     `json:"limit"`
	Offset     int     `json:"offset"`
}

// Proof is one proof of GET /api/v0/proofs. Members the Ethproofs document
// types as non-null are left out while unknown (a proof not yet proved has
// no size). Verification is proofgrid's addition.
type Proof struct {
	BlockNumber      int64               `json:"block_number"`
	ClusterID        int64               `json:"cluster_id"`
	ProofID          int64               `json:"proof_id"`
	ProofStatus      string              `json:"proof_status"`
	ProvingCycles    *int64              `json:"proving_cycles,omitempty"`
	TeamID           string              `json:"team_id"`
	CreatedAt        string              `json:"created_at"`
	ProvedTimestamp  *string             `json:"proved_timestamp,omitempty"`
	ProvingTimestamp *string             `json:"proving_timestamp,omitempty"`
	QueuedTimestamp  *string             `json:"queued_timestamp,omitempty"`
	ProvingTime      *int64              `json:"proving_time,omitempty"`
	ProgramID        *int64              `json:"program_id,omitempty"`
	SizeBytes        *int64              `json:"size_bytes,omitempty"`
	VerifierID       *string             `json:"verifier_id,omitempty"`
	Team             Team                `json:"team"`
	Block            Block               `json:"block"`
	ClusterVersion   ProofClusterVersion `json:"cluster_version"`
	Verification     Verification        `json:"proofgrid_verification"`
}

// Team is the team of a listed Proof.
type Team struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Slug      string `json:"slug"`
	CreatedAt string `json:"created_at"`
}

// ProofClusterVersion is the cluster version a listed Proof belongs to,
// with its cluster and zkVM version.
type ProofClusterVersion struct {
	ID            int64        `json:"id"`
	ClusterID     string       `json:"cluster_id"`
	Index         int64        `json:"index"`
	ZKVMVersionID int64        `json:"zkvm_version_id"`
	VKPath        *string      `json:"vk_path"`
	IsActive      bool         `json:"is_active"`
	CreatedAt     string       `json:"created_at"`
	Cluster       ProofCluster `json:"cluster"`
	ZKVMVersion   ZKVMVersion  `json:"zkvm_version"`
}

// ProofCluster is the cluster of a ProofClusterVersion.
type ProofCluster struct {
	ID                  string  `json:"id"`
	Index               int64   `json:"index"`
	Name                string  `json:"name"`
	TeamID              string  `json:"team_id"`
	HardwareDescription *string `json:"hardware_description"`
	IsOpenSource        bool    `json:"is_open_source"`
	NumGPUs             int64   `json:"num_gpus"`
	IsActive            bool    `json:"is_active"`
	SoftwareLink        *string `json:"software_link"`
	DeploymentType      string  `json:"deployment_type"`
	CreatedAt           string  `json:"created_at"`
}

// ZKVMVersion is the zkVM version of a ProofClusterVersion.
type ZKVMVersion struct {
	ID        int64  `json:"id"`
	Version   string `json:"version"`
	ZKVMID    int64  `json:"zkvm_id"`
	CreatedAt string `json:"created_at"`
	ZKVM      ZKVM   `json:"zkvm"`
}

// ZKVM is the zkVM of a ZKVMVersion.
type ZKVM struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Slug      string `json:"slug"`
	ISA       string `json:"isa"`
	TeamID    string `json:"team_id"`
	CreatedAt string `json:"created_at"`
}

// Verification tells what the coordinator's verifier said about a proof.
// Status is not_proved for proofs not proved yet, pending until a verifier
// ran, then valid, invalid or cannot_verify. Flagged marks proofs a
// verifier rejected; they are kept, not deleted.
type Verification struct {
	Status     string   `json:"status"`
	Flagged    bool     `json:"flagged"`
	Reason     string   `json:"reason,omitempty"`
	DurationMS *float64 `json:"duration_ms,omitempty"`
	VerifiedAt *string  `json:"verified_at,omitempty"`
}
