package collector

import (
	"context"
	"regexp"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/shirou/gopsutil/v3/net"
)

// networkCollector reports received and sent bytes, summed over every
// interface but loopback, whose traffic never leaves the machine.
type networkCollector struct {
	now   func() time.Time
	rates rateTracker
}

func newNetworkCollector(now func() time.Time) *networkCollector {
	return &networkCollector{now: now}
}

func (*networkCollector) Name() string { return "network" }

func (c *networkCollector) Update(ctx context.Context, s *proofgrid.Sample) error {
	stats, err := net.IOCountersWithContext(ctx, true)
	if err != nil {
		return err
	}
	cur := map[string]counterPair{}
	for _, st := range stats {
		if !loopback(st.Name) {
			cur[st.Name] = counterPair{st.BytesRecv, st.BytesSent}
		}
	}
	n := &s.Network
	n.RxBytesPerSec, n.TxBytesPerSec, n.RxBytesTotal, n.TxBytesTotal = c.rates.update(c.now(), cur)
	return nil
}

var loopbackName = regexp.MustCompile(`^lo\d*$`)

// loopback reports whether an interface name is the loopback device: lo on
// Linux, lo0 on the BSDs and macOS.
func loopback(name string) bool { return loopbackName.MatchString(name) }
