package collector

import (
	"context"
	"regexp"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/shirou/gopsutil/v3/disk"
)

// diskIOCollector reports bytes read and written, summed over physical
// block devices.
type diskIOCollector struct {
	now   func() time.Time
	rates rateTracker
}

func newDiskIOCollector(now func() time.Time) *diskIOCollector {
	return &diskIOCollector{now: now}
}

func (*diskIOCollector) Name() string { return "diskio" }

func (c *diskIOCollector) Update(ctx context.Context, s *proofgrid.Sample) error {
	stats, err := disk.IOCountersWithContext(ctx)
	if err != nil {
		return err
	}
	cur := map[string]counterPair{}
	for name, st := range stats {
		if physicalBlockDevice(name) {
			cur[name] = counterPair{st.ReadBytes, st.WriteBytes}
		}
	}
	d := &s.DiskIO
	d.ReadBytesPerSec, d.WriteBytesPerSec, d.ReadBytesTotal, d.WriteBytesTotal = c.rates.update(c.now(), cur)
	return nil
}

var (
	// virtualBlockDevice matches devices with no hardware of their own, or
	// whose I/O is already counted on the disks beneath them: loop files,
	// RAM disks, device-mapper (LVM, dm-crypt), software RAID, network block
	// devices, ZFS volumes, optical and floppy drives.
	virtualBlockDevice = regexp.MustCompile(`^(loop|ram|zram|dm-|md|nbd|zd|sr|fd)\d+$`)
	// partitionBlockDevice matches partitions, whose I/O is also counted on
	// their whole disk, and the per-path nodes of multipath NVMe, which
	// duplicate the namespace device nvmeXnY.
	partitionBlockDevice = regexp.MustCompile(`^((h|s|v|xv)d[a-z]+\d+|(nvme\d+n\d+|mmcblk\d+)p\d+|nvme\d+c\d+n\d+|mmcblk\d+(boot\d+|rpmb))$`)
)

// physicalBlockDevice reports whether a kernel block device name is a whole
// physical disk (sda, nvme0n1, vda, mmcblk0), so that summing over such
// devices counts every byte once.
func physicalBlockDevice(name string) bool {
	return !virtualBlockDevice.MatchString(name) && !partitionBlockDevice.MatchString(name)
}
