package activity

import (
	"context"
	"time"
)

// TPS is the network's throughput at one moment.
type TPS struct {
	At time.Time
	// PerSecond is user transactions per second over the last minute.
	PerSecond       float64
	BlockHeight     int64
	Transactions24h int64
}

// tpsWindow is the window TPS averages over: a minute smooths the bursts
// of a 12 s broadcast.
const tpsWindow = time.Minute

// CurrentTPS returns the user transactions per second over the last
// minute, the block height and the last 24 hours' transactions.
func (s *Service) CurrentTPS(ctx context.Context) (TPS, error) {
	now := s.now()
	out := TPS{At: now}
	n, err := s.db.PsyUserEventsSince(ctx, now.Add(-tpsWindow))
	if err != nil {
		return out, err
	}
	out.PerSecond = round(float64(n) / tpsWindow.Seconds())
	if out.Transactions24h, err = s.db.PsyUserEventsSince(ctx, now.Add(-day)); err != nil {
		return out, err
	}
	out.BlockHeight, err = s.db.LatestClosedPsyCheckpoint(ctx)
	return out, err
}
