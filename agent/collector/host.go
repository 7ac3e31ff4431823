package collector

import (
	"context"
	"os"
	"runtime"

	"github.com/proofgrid/proofgrid"
	"github.com/shirou/gopsutil/v3/host"
)

// hostCollector reports the operating system, kernel and uptime.
//
// It does not call host.Info each sample: on Debian that runs lsb_release,
// a shell script that starts a dozen processes, about 37ms of CPU every
// heartbeat. What cannot change while the agent runs (OS, platform, kernel)
// is read on the first successful Update and kept, and so is the boot time
// (a parse of /proc/stat); hostname and uptime come from a syscall each
// time, without starting a process.
type hostCollector struct {
	static *proofgrid.Host // nil until read
}

func newHostCollector() *hostCollector { return &hostCollector{} }

func (*hostCollector) Name() string { return "host" }

func (c *hostCollector) Update(ctx context.Context, s *proofgrid.Sample) error {
	if c.static == nil {
		static, err := readStaticHost(ctx)
		if err != nil {
			return err
		}
		c.static = static
	}
	hostname, err := os.Hostname()
	if err != nil {
		return err
	}
	uptime, err := host.UptimeWithContext(ctx)
	if err != nil {
		return err
	}
	s.Host = *c.static
	s.Host.Hostname = hostname
	s.Host.UptimeSeconds = uptime
	return nil
}

// readStaticHost reads the fields of proofgrid.Host that stay the same until
// the machine reboots, boot time included. The platform may start lsb_release once.
func readStaticHost(ctx context.Context) (*proofgrid.Host, error) {
	platform, _, version, err := host.PlatformInformationWithContext(ctx)
	if err != nil {
		return nil, err
	}
	kernel, err := host.KernelVersionWithContext(ctx)
	if err != nil {
		return nil, err
	}
	arch, err := host.KernelArch()
	if err != nil {
		return nil, err
	}
	boot, err := host.BootTimeWithContext(ctx)
	if err != nil {
		return nil, err
	}
	return &proofgrid.Host{
		BootTime:        boot,
		OS:              runtime.GOOS,
		Platform:        platform,
		PlatformVersion: version,
		KernelVersion:   kernel,
		KernelArch:      arch,
	}, nil
}
