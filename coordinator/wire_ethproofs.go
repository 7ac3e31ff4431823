package coordinator

import "context"

// wireEthproofs mounts the Ethproofs surface at /api/v0 and its task
// handlers.
func (c *Coordinator) wireEthproofs(ctx context.Context, w *wiring) error {
	return nil
}
