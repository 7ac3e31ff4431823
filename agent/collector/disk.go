package collector

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/shirou/gopsutil/v3/disk"
)

// mountsMaxAge is how long the disk collector keeps the mount table it
// parsed: a filesystem mounted since shows up within it.
const mountsMaxAge = time.Minute

// diskCollector reports the usage of every real mounted filesystem. Usage
// is read every sample (one statfs each); the mount table, which parsing
// /proc/self/mountinfo made the dearest part of an idle agent's sample, is
// read again once it is mountsMaxAge old, or at once after a filesystem's
// usage could not be read (it may have been unmounted).
type diskCollector struct {
	// partitions lists the mounts; now is the clock; both are replaced
	// in tests.
	partitions func(ctx context.Context, all bool) ([]disk.PartitionStat, error)
	now        func() time.Time

	mounts []disk.PartitionStat // real mounts, as last read
	readAt time.Time            // when; zero: read again
}

func newDiskCollector() *diskCollector {
	return &diskCollector{partitions: disk.PartitionsWithContext, now: time.Now}
}

func (*diskCollector) Name() string { return "disk" }

// Update is never called concurrently with itself (Set.run).
func (c *diskCollector) Update(ctx context.Context, s *proofgrid.Sample) error {
	if c.readAt.IsZero() || c.now().Sub(c.readAt) >= mountsMaxAge {
		// all=true: the filtered list drops every "nodev" filesystem,
		// overlay included, which would lose the root of a container.
		parts, err := c.partitions(ctx, true)
		if err != nil {
			return err
		}
		c.mounts, c.readAt = realMounts(parts), c.now()
	}
	s.Disks = []proofgrid.Disk{}
	var errs []error
	for _, p := range c.mounts {
		u, err := disk.UsageWithContext(ctx, p.Mountpoint)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Mountpoint, err))
			c.readAt = time.Time{}
			continue
		}
		s.Disks = append(s.Disks, proofgrid.Disk{
			Mountpoint:  p.Mountpoint,
			Device:      p.Device,
			FSType:      p.Fstype,
			TotalBytes:  u.Total,
			UsedBytes:   u.Used,
			FreeBytes:   u.Free,
			UsedPercent: u.UsedPercent,
		})
	}
	return errors.Join(errs...)
}

// ignoredFSTypes are filesystems whose usage says nothing about the
// machine's storage: kernel interfaces, memory-backed mounts, read-only
// images that are always full, and network filesystems, which are shared
// capacity and whose statfs can hang on an unreachable server beyond any
// timeout.
var ignoredFSTypes = map[string]bool{
	// kernel interfaces
	"autofs": true, "binfmt_misc": true, "bpf": true, "cgroup": true, "cgroup2": true,
	"configfs": true, "debugfs": true, "devpts": true, "efivarfs": true, "fusectl": true,
	"hugetlbfs": true, "mqueue": true, "nsfs": true, "proc": true, "pstore": true,
	"rpc_pipefs": true, "securityfs": true, "selinuxfs": true, "sysfs": true, "tracefs": true,
	"nfsd": true,
	// memory-backed
	"devtmpfs": true, "ramfs": true, "tmpfs": true,
	// images and container layers
	"squashfs": true, "erofs": true, "iso9660": true, "overlay": true, "aufs": true,
	// remote
	"nfs": true, "nfs4": true, "cifs": true, "smbfs": true, "smb3": true, "9p": true,
	"ceph": true, "glusterfs": true, "lustre": true, "fuse": true,
}

// realFS reports whether a filesystem of type fstype mounted at mountpoint
// holds the machine's data. The root filesystem always does, whatever backs
// it: overlay in a container, tmpfs on a diskless boot. FUSE mounts are
// skipped (they are mostly remote or virtual: sshfs, lxcfs, portals) except
// fuseblk, which is a local block device such as NTFS.
func realFS(fstype, mountpoint string) bool {
	if mountpoint == "/" {
		return true
	}
	if strings.HasPrefix(fstype, "fuse.") {
		return false
	}
	return !ignoredFSTypes[fstype]
}

// realMounts keeps the mounts of real filesystems, one per device and
// mountpoint. A device repeats under bind mounts and btrfs subvolumes, with
// the same usage everywhere; its shortest mountpoint is kept, so "/" wins
// over a container's bind-mounted /etc/hosts. A mountpoint repeats when a
// mount hides an earlier one (rootfs under the real root on old kernels);
// only the last, visible one is kept. Order follows the mount table.
func realMounts(parts []disk.PartitionStat) []disk.PartitionStat {
	visible := map[string]int{}
	for i, p := range parts {
		visible[p.Mountpoint] = i
	}
	out := []disk.PartitionStat{}
	seen := map[string]int{}
	for i, p := range parts {
		if visible[p.Mountpoint] != i || !realFS(p.Fstype, p.Mountpoint) {
			continue
		}
		if j, ok := seen[p.Device]; ok {
			if len(p.Mountpoint) < len(out[j].Mountpoint) {
				out[j] = p
			}
			continue
		}
		seen[p.Device] = len(out)
		out = append(out, p)
	}
	return out
}
