package coordinator

import (
	"context"

	"github.com/proofgrid/proofgrid/coordinator/console"
	"github.com/proofgrid/proofgrid/coordinator/web"
)

// wireConsole mounts the web console at /ui. It runs last: it reads what
// the other surfaces built (the fleet monitor, zkGolf). Its sessions live
// in Redis, so every replica serves every visitor.
func (c *Coordinator) wireConsole(ctx context.Context, w *wiring) error {
	con, err := console.New(console.Config{
		DB: c.DB, Monitor: w.tasks.monitor, Auth: c.Auth, Redis: c.Redis, Golf: c.Golf,
		MonitorPath: MonitorPath, Now: c.cfg.Now, Logger: c.cfg.Logger.With("surface", "console"),
	})
	if err != nil {
		return err
	}
	con.Mount(w.app)
	w.styles.Add(console.Prefix, web.StylePlain)
	return nil
}
