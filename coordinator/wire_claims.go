package coordinator

import (
	"context"

	"github.com/proofgrid/proofgrid/claims"
	claimsapi "github.com/proofgrid/proofgrid/coordinator/claims"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/queue"
)

// wireClaims mounts the Merkle claim routes (unless disabled) at their
// prefix, the ledger's admin routes and the root OpenAPI document, hands
// the epochs to the merkle:epoch handler and schedules one epoch close per
// epoch length across replicas.
func (c *Coordinator) wireClaims(_ context.Context, w *wiring) error {
	cfg := c.cfg.Claims
	epochs := claims.NewEpochs(c.DB, claims.EpochConfig{Length: cfg.EpochLength, Recipients: w.recipients,
		Now: c.cfg.Now, Logger: c.cfg.Logger.With("surface", "claims")})
	api := &claimsapi.API{Claims: claims.New(c.DB, c.cfg.Now), Ledger: c.Ledger, Epochs: epochs, Auth: c.Auth,
		Simulation: cfg.Simulation, Now: c.cfg.Now}
	if !cfg.Disabled {
		api.MountClaims(w.app.Group(cfg.PathPrefix))
		w.styles.Add(cfg.PathPrefix, web.StyleDetail)
	}
	api.MountAdmin(w.app)
	w.styles.Add(claimsapi.AdminPrefix, web.StyleDetail)
	claimsapi.MountDocs(w.app)
	w.tasks.epochs = epochs
	w.periodic = append(w.periodic, queue.Periodic{Type: queue.TypeMerkleEpoch, Every: wholeSeconds(cfg.EpochLength)})
	return nil
}
