package collector

import (
	"context"

	"github.com/proofgrid/proofgrid"
	"github.com/shirou/gopsutil/v3/host"
)

// hostCollector reports the operating system, kernel and uptime.
type hostCollector struct{}

func newHostCollector() *hostCollector { return &hostCollector{} }

func (*hostCollector) Name() string { return "host" }

func (*hostCollector) Update(ctx context.Context, s *proofgrid.Sample) error {
	info, err := host.InfoWithContext(ctx)
	if err != nil {
		return err
	}
	s.Host = proofgrid.Host{
		Hostname:        info.Hostname,
		OS:              info.OS,
		Platform:        info.Platform,
		PlatformVersion: info.PlatformVersion,
		KernelVersion:   info.KernelVersion,
		KernelArch:      info.KernelArch,
		UptimeSeconds:   info.Uptime,
		BootTime:        info.BootTime,
	}
	return nil
}
