package collector

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/shirou/gopsutil/v3/disk"
)

// diskIOCollector reports bytes read and written, summed over physical
// block devices.
//
// On Linux it reads /proc/diskstats itself: gopsutil's IOCounters also looks
// up every disk's serial number and label each call (udev's database and
// sysfs, seven system calls a disk), fields nothing here reports and that
// never change.
type diskIOCollector struct {
	now       func() time.Time
	diskstats string // path of /proc/diskstats (under HOST_PROC, as gopsutil reads /proc)
	rates     rateTracker
}

func newDiskIOCollector(now func() time.Time) *diskIOCollector {
	return &diskIOCollector{now: now, diskstats: filepath.Join(procRoot(), "diskstats")}
}

// procRoot is where /proc is mounted for the collectors: HOST_PROC when an
// agent in a container reads its host's, as gopsutil honours it too.
func procRoot() string {
	if p := os.Getenv("HOST_PROC"); p != "" {
		return p
	}
	return "/proc"
}

func (*diskIOCollector) Name() string { return "diskio" }

func (c *diskIOCollector) Update(ctx context.Context, s *proofgrid.Sample) error {
	var cur map[string]counterPair
	var err error
	if runtime.GOOS == "linux" {
		cur, err = c.readDiskstats()
	} else {
		cur, err = ioCounters(ctx)
	}
	if err != nil {
		return err
	}
	d := &s.DiskIO
	d.ReadBytesPerSec, d.WriteBytesPerSec, d.ReadBytesTotal, d.WriteBytesTotal = c.rates.update(c.now(), cur)
	return nil
}

func (c *diskIOCollector) readDiskstats() (map[string]counterPair, error) {
	data, err := os.ReadFile(c.diskstats)
	if err != nil {
		return nil, err
	}
	return parseDiskstats(data)
}

// diskstatsSector is the unit of /proc/diskstats' sector counts, whatever
// the device's own sector size (the kernel's iostats documentation).
const diskstatsSector = 512

// parseDiskstats returns the bytes read and written by each physical block
// device listed in the text of /proc/diskstats. Each line is major, minor,
// name, then the device's counters: reads completed, reads merged, sectors
// read, time reading, writes completed, writes merged, sectors written, and
// more that kernels add over time.
func parseDiskstats(data []byte) (map[string]counterPair, error) {
	cur := map[string]counterPair{}
	for line := range bytes.Lines(data) {
		f := bytes.Fields(line)
		if len(f) < 10 {
			continue // blank, or not a device's line: skipped, as gopsutil does
		}
		name := string(f[2])
		if !physicalBlockDevice(name) {
			continue
		}
		read, err := strconv.ParseUint(string(f[5]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("diskstats: sectors read of %s: %w", name, err)
		}
		written, err := strconv.ParseUint(string(f[9]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("diskstats: sectors written of %s: %w", name, err)
		}
		cur[name] = counterPair{read * diskstatsSector, written * diskstatsSector}
	}
	return cur, nil
}

// ioCounters reads the physical devices' counters through gopsutil, on
// systems without /proc/diskstats.
func ioCounters(ctx context.Context) (map[string]counterPair, error) {
	stats, err := disk.IOCountersWithContext(ctx)
	if err != nil {
		return nil, err
	}
	cur := map[string]counterPair{}
	for name, st := range stats {
		if physicalBlockDevice(name) {
			cur[name] = counterPair{st.ReadBytes, st.WriteBytes}
		}
	}
	return cur, nil
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
