package ethproofs

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/proofs"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/zkvm"
)

func (a *API) listClusters(c *fiber.Ctx) error {
	cl := callerOf(c)
	list, err := a.Proofs.Clusters(c.UserContext(), cl.teamID)
	if err != nil {
		return err
	}
	out := make([]client.Cluster, 0, len(list))
	for _, cv := range list {
		item := client.Cluster{
			ID:                  cv.Cluster.Index,
			Name:                cv.Cluster.Name,
			HardwareDescription: cv.Cluster.HardwareDescription,
			UUID:                cv.Cluster.ID,
			NumGPUs:             cv.Cluster.NumGPUs,
			DeploymentType:      cv.Cluster.DeploymentType,
			IsActive:            cv.Cluster.IsActive,
			CreatedAt:           timestamp(cv.Cluster.CreatedAt),
		}
		if v := cv.Version; v.ID != 0 {
			item.ClusterVersion = &client.ActiveClusterVersion{ID: v.ID, Index: v.Index, ZKVMVersionID: v.ZKVMVersionID, VKPath: v.VKPath, CreatedAt: timestamp(v.CreatedAt)}
		}
		out = append(out, item)
	}
	return c.JSON(out)
}

func (a *API) createCluster(c *fiber.Ctx) error {
	f, err := decodeObject(c, maxJSONBody)
	if err != nil {
		return err
	}
	var nc proofs.NewCluster
	if nc.Name, _, err = f.str("name", true, proofs.MaxClusterName); err != nil {
		return err
	}
	if nc.ZKVMVersionID, _, err = f.integer("zkvm_version_id", true, 1, maxID); err != nil {
		return err
	}
	if nc.NumGPUs, _, err = f.integer("num_gpus", false, 1, maxGPUs); err != nil {
		return err
	}
	if hw, ok, err := f.str("hardware_description", false, proofs.MaxHardwareDescription); err != nil {
		return err
	} else if ok {
		nc.HardwareDescription = &hw
	}
	if nc.DeploymentType, _, err = f.str("deployment_type", false, 0); err != nil {
		return err
	}
	if nc.DeploymentType != "" && nc.DeploymentType != storage.DeploymentCloudHosted && nc.DeploymentType != storage.DeploymentOnPrem {
		return invalid("deployment_type", "must be one of cloud-hosted, on-prem; got %q", nc.DeploymentType)
	}
	cl, _, err := a.Proofs.CreateCluster(c.UserContext(), callerOf(c).teamID, nc)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": cl.Index})
}

// Bounds on integers in bodies: ids are positive 63-bit numbers, and no
// cluster has more GPUs than this.
const (
	maxID   = 1<<63 - 1
	maxGPUs = 1 << 20
)

func (a *API) updateCluster(c *fiber.Ctx) error {
	index, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return proofgrid.Errorf(proofgrid.EINVALID, "Invalid cluster ID: %q is not an integer", c.Params("id"))
	}
	f, err := decodeObject(c, maxJSONBody)
	if err != nil {
		return err
	}
	var upd storage.ClusterUpdate
	if v, ok, err := f.str("name", false, proofs.MaxClusterName); err != nil {
		return err
	} else if ok {
		upd.Name = &v
	}
	if v, ok, err := f.integer("num_gpus", false, 1, maxGPUs); err != nil {
		return err
	} else if ok {
		upd.NumGPUs = &v
	}
	if v, ok, err := f.str("hardware_description", false, proofs.MaxHardwareDescription); err != nil {
		return err
	} else if ok {
		upd.HardwareDescription = &v
	}
	if v, ok, err := f.boolean("is_active", false); err != nil {
		return err
	} else if ok {
		upd.IsActive = &v
	}
	if v, ok, err := f.integer("zkvm_version_id", false, 1, maxID); err != nil {
		return err
	} else if ok {
		upd.ZKVMVersionID = &v
	}
	if v, ok, err := f.str("vk_path", false, proofs.MaxVKPath); err != nil {
		return err
	} else if ok {
		// The agents hand vk_path to their prover commands.
		if err := zkvm.CheckVKPath(v); err != nil {
			return err
		}
		upd.VKPath = &v
	}
	if _, err := a.Proofs.UpdateCluster(c.UserContext(), callerOf(c).teamID, index, upd); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}
