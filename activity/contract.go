package activity

import (
	"context"
	"strconv"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/registry"
	"github.com/proofgrid/proofgrid/storage"
)

// MaxContractFunctions caps the functions of one contract.
const MaxContractFunctions = 1000

// RecordContracts stores contracts (replacing the metadata of known
// UUIDs) and a DeployContract user event for each new one, all or none.
func (s *Service) RecordContracts(ctx context.Context, cs []storage.PsyContract) (IngestResult, error) {
	if err := checkBatch(len(cs), "contracts"); err != nil {
		return IngestResult{}, err
	}
	now := s.now()
	for i, c := range cs {
		if c.UUID == "" || len(c.UUID) > 100 || c.Deployer == "" || len(c.Deployer) > 200 || c.StateTreeHeight < 0 ||
			c.StateTreeHeight > 256 || len(c.Functions) > MaxContractFunctions || c.DeployedAt.IsZero() || len(c.Description) > 10_000 {
			return IngestResult{}, proofgrid.Errorf(proofgrid.EINVALID,
				"contract %d: uuid (1..100), deployer (1..200), deployed_at and state_tree_height (0..256) are required; at most %d functions", i, MaxContractFunctions)
		}
		// Stored as worker keys are, so that the deployer filter can
		// compare in one form.
		cs[i].Deployer = registry.CanonicalWorker(c.Deployer)
		for _, f := range c.Functions {
			if f.Name == "" || len(f.Name) > 200 || len(f.Description) > 1000 {
				return IngestResult{}, proofgrid.Errorf(proofgrid.EINVALID, "contract %d: each function needs a name (1..200)", i)
			}
		}
	}
	var res IngestResult
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		res = IngestResult{}
		for _, c := range cs {
			c.CreatedAt = now
			created, err := tx.UpsertPsyContract(ctx, c)
			if err != nil {
				return err
			}
			res.count(created)
			if !created {
				continue
			}
			user, err := deployerID(ctx, tx, c.Deployer)
			if err != nil {
				return err
			}
			if _, err := tx.InsertPsyUserEvent(ctx, storage.PsyUserEvent{
				Key: "contract:" + c.UUID, UserID: user, PublicKey: c.Deployer, TxType: storage.PsyTxDeployContract,
				CheckpointID: s.rewards.Rule().Of(c.DeployedAt), Timestamp: c.DeployedAt, CreatedAt: now,
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return res, err
}

// deployerID returns the user id a deployment's user event carries: the
// id of the registered user the deployer key (or address) belongs to, so
// that /user_events?user_id= finds the user's deployments as it finds
// the registration; an unregistered deployer is its own id, its key.
func deployerID(ctx context.Context, tx *storage.Tx, deployer string) (string, error) {
	key := registry.CanonicalWorker(deployer)
	u, err := tx.PsyUserByKey(ctx, key)
	switch {
	case err == nil:
		return strconv.FormatInt(u.ID, 10), nil
	case proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND:
		return key, nil
	}
	return "", err
}

// Contracts lists contracts, newest deployment first; deployer, when
// not empty, is compared in its canonical form (registry.CanonicalWorker).
func (s *Service) Contracts(ctx context.Context, deployer string, limit, offset int) ([]storage.PsyContract, error) {
	if deployer != "" {
		deployer = registry.CanonicalWorker(deployer)
	}
	return s.db.PsyContracts(ctx, deployer, limit, offset)
}

// Contract returns one contract, or ENOTFOUND.
func (s *Service) Contract(ctx context.Context, uuid string) (storage.PsyContract, error) {
	return s.db.PsyContract(ctx, uuid)
}
