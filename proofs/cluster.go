package proofs

import (
	"context"

	"github.com/google/uuid"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
)

// Limits on cluster fields, as the Ethproofs document gives them.
const (
	MaxClusterName         = 50
	MaxHardwareDescription = 200
	MaxVKPath              = 512
)

// NewCluster is what a team asks for when it creates a cluster.
type NewCluster struct {
	Name          string
	ZKVMVersionID int64
	// NumGPUs is at least 1.
	NumGPUs             int64
	HardwareDescription *string
	DeploymentType      string
}

// CreateCluster creates a team's cluster, active, with its first version
// running the given zkVM version, and returns it with its team index. An
// unknown zkVM version is EINVALID, as Ethproofs answers 400.
func (s *Service) CreateCluster(ctx context.Context, teamID int64, nc NewCluster) (storage.Cluster, storage.ClusterVersion, error) {
	if teamID == 0 {
		return storage.Cluster{}, storage.ClusterVersion{}, proofgrid.Errorf(proofgrid.EFORBIDDEN, "clusters belong to teams: use a team API key")
	}
	if nc.DeploymentType == "" {
		nc.DeploymentType = storage.DeploymentCloudHosted
	}
	if nc.NumGPUs == 0 {
		nc.NumGPUs = 1
	}
	if err := checkCluster(&nc.Name, &nc.NumGPUs, nc.HardwareDescription); err != nil {
		return storage.Cluster{}, storage.ClusterVersion{}, err
	}
	if nc.DeploymentType != storage.DeploymentCloudHosted && nc.DeploymentType != storage.DeploymentOnPrem {
		return storage.Cluster{}, storage.ClusterVersion{}, proofgrid.Errorf(proofgrid.EINVALID, "deployment_type must be cloud-hosted or on-prem")
	}
	if _, _, err := s.db.ZKVMVersionByID(ctx, nc.ZKVMVersionID); proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
		return storage.Cluster{}, storage.ClusterVersion{}, proofgrid.Errorf(proofgrid.EINVALID, "Invalid zkvm version: %d is not a known zkvm_version_id", nc.ZKVMVersionID)
	} else if err != nil {
		return storage.Cluster{}, storage.ClusterVersion{}, err
	}
	return s.db.CreateCluster(ctx, storage.Cluster{
		ID:                  uuid.NewString(),
		TeamID:              teamID,
		Name:                nc.Name,
		NumGPUs:             nc.NumGPUs,
		HardwareDescription: nc.HardwareDescription,
		DeploymentType:      nc.DeploymentType,
		IsActive:            true,
	}, nc.ZKVMVersionID, nil, s.now())
}

func checkCluster(name *string, numGPUs *int64, hw *string) error {
	switch {
	case name != nil && (*name == "" || len([]rune(*name)) > MaxClusterName):
		return proofgrid.Errorf(proofgrid.EINVALID, "name must be 1..%d characters", MaxClusterName)
	case numGPUs != nil && *numGPUs <= 0:
		return proofgrid.Errorf(proofgrid.EINVALID, "num_gpus must be greater than 0")
	case hw != nil && len([]rune(*hw)) > MaxHardwareDescription:
		return proofgrid.Errorf(proofgrid.EINVALID, "hardware_description must be at most %d characters", MaxHardwareDescription)
	}
	return nil
}

// Clusters returns the team's clusters, each with its active version.
func (s *Service) Clusters(ctx context.Context, teamID int64) ([]storage.ClusterWithVersion, error) {
	return s.db.ListClusters(ctx, teamID)
}

// UpdateCluster changes the team's cluster of the given index. Changing
// the zkVM version or the verification key path makes a new cluster
// version, which new proofs attach to; the result tells whether it did.
// An update without fields is EINVALID, an unknown cluster ENOTFOUND and
// an unknown zkVM version EINVALID.
func (s *Service) UpdateCluster(ctx context.Context, teamID, index int64, upd storage.ClusterUpdate) (newVersion bool, _ error) {
	if upd == (storage.ClusterUpdate{}) {
		return false, proofgrid.Errorf(proofgrid.EINVALID, "No fields to update")
	}
	if err := checkCluster(upd.Name, upd.NumGPUs, upd.HardwareDescription); err != nil {
		return false, err
	}
	if upd.VKPath != nil && len(*upd.VKPath) > MaxVKPath {
		return false, proofgrid.Errorf(proofgrid.EINVALID, "vk_path must be at most %d characters", MaxVKPath)
	}
	if upd.ZKVMVersionID != nil {
		if _, _, err := s.db.ZKVMVersionByID(ctx, *upd.ZKVMVersionID); proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
			return false, proofgrid.Errorf(proofgrid.EINVALID, "Invalid zkvm_version_id: %d is not a known zkVM version", *upd.ZKVMVersionID)
		} else if err != nil {
			return false, err
		}
	}
	_, _, newVersion, err := s.db.UpdateCluster(ctx, teamID, index, upd, s.now())
	return newVersion, err
}
