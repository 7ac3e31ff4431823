package coordinator

import "context"

// wireIvynet mounts the Ivynet fleet-monitoring surface at /v1.
func (c *Coordinator) wireIvynet(ctx context.Context, w *wiring) error {
	return nil
}
