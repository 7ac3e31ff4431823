package collector

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/shirou/gopsutil/v3/disk"
)

func TestRealFS(t *testing.T) {
	tests := []struct {
		fstype, mountpoint string
		want               bool
	}{
		{"ext4", "/", true},
		{"xfs", "/data", true},
		{"btrfs", "/home", true},
		{"zfs", "/tank", true},
		{"vfat", "/boot/efi", true},
		{"fuseblk", "/mnt/windows", true},
		{"overlay", "/", true},
		{"tmpfs", "/", true},
		{"overlay", "/var/lib/docker/overlay2/abc/merged", false},
		{"tmpfs", "/dev/shm", false},
		{"devtmpfs", "/dev", false},
		{"proc", "/proc", false},
		{"sysfs", "/sys", false},
		{"cgroup2", "/sys/fs/cgroup", false},
		{"squashfs", "/snap/core/1", false},
		{"nfs4", "/mnt/shared", false},
		{"fuse.lxcfs", "/proc/cpuinfo", false},
		{"fuse.sshfs", "/mnt/remote", false},
	}
	for _, tt := range tests {
		if got := realFS(tt.fstype, tt.mountpoint); got != tt.want {
			t.Errorf("realFS(%q, %q) = %v, want %v", tt.fstype, tt.mountpoint, got, tt.want)
		}
	}
}

func TestRealMounts(t *testing.T) {
	p := func(dev, mp, fs string) disk.PartitionStat {
		return disk.PartitionStat{Device: dev, Mountpoint: mp, Fstype: fs}
	}
	tests := []struct {
		name  string
		parts []disk.PartitionStat
		want  []string // mountpoints
	}{
		{"empty", nil, []string{}},
		{"host", []disk.PartitionStat{
			p("/dev/nvme0n1p2", "/", "ext4"),
			p("proc", "/proc", "proc"),
			p("tmpfs", "/run", "tmpfs"),
			p("/dev/nvme0n1p1", "/boot/efi", "vfat"),
			p("/dev/sdb1", "/data", "xfs"),
			p("/dev/loop3", "/snap/core/1", "squashfs"),
		}, []string{"/", "/boot/efi", "/data"}},
		{"container", []disk.PartitionStat{
			p("overlay", "/", "overlay"),
			p("proc", "/proc", "proc"),
			p("/dev/sda1", "/etc/resolv.conf", "ext4"),
			p("/dev/sda1", "/etc/hostname", "ext4"),
			p("/dev/sda1", "/etc/hosts", "ext4"),
			p("shm", "/dev/shm", "tmpfs"),
		}, []string{"/", "/etc/hosts"}},
		{"bind mounts and subvolumes", []disk.PartitionStat{
			p("/dev/sda2", "/home", "btrfs"),
			p("/dev/sda2", "/", "btrfs"),
			p("/dev/sda2", "/var/lib/x", "btrfs"),
		}, []string{"/"}},
		{"hidden rootfs", []disk.PartitionStat{
			p("rootfs", "/", "rootfs"),
			p("/dev/vda1", "/", "ext4"),
		}, []string{"/"}},
	}
	for _, tt := range tests {
		got := []string{}
		for _, m := range realMounts(tt.parts) {
			got = append(got, m.Mountpoint)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: realMounts = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := realMounts([]disk.PartitionStat{p("rootfs", "/", "rootfs"), p("/dev/vda1", "/", "ext4")}); got[0].Device != "/dev/vda1" {
		t.Errorf("hidden rootfs: kept device %q, want the visible /dev/vda1", got[0].Device)
	}
}

// The mount table is read once a minute, and again at once after a
// filesystem's usage could not be read; usage is read every sample.
func TestDiskCollectorKeepsMountTable(t *testing.T) {
	ctx := context.Background()
	gone := t.TempDir() + "/unmounted"
	mounts := []disk.PartitionStat{{Device: "/dev/root", Mountpoint: "/", Fstype: "ext4"}}
	reads := 0
	clock := time.Unix(1_800_000_000, 0)
	c := newDiskCollector()
	c.now = func() time.Time { return clock }
	c.partitions = func(context.Context, bool) ([]disk.PartitionStat, error) {
		reads++
		return slices.Clone(mounts), nil
	}
	update := func() proofgrid.Sample {
		t.Helper()
		var s proofgrid.Sample
		c.Update(ctx, &s)
		return s
	}

	for range 3 {
		if s := update(); len(s.Disks) != 1 || s.Disks[0].Mountpoint != "/" || s.Disks[0].TotalBytes == 0 {
			t.Fatalf("disks %+v, want / with its usage", s.Disks)
		}
	}
	if reads != 1 {
		t.Fatalf("mount table read %d times in three samples within a minute, want 1", reads)
	}
	// A filesystem mounted since shows up once the table is a minute old.
	mounts = append(mounts, disk.PartitionStat{Device: "/dev/vdb", Mountpoint: gone, Fstype: "ext4"})
	clock = clock.Add(mountsMaxAge - time.Second)
	if s := update(); len(s.Disks) != 1 || reads != 1 {
		t.Fatalf("before a minute: %d disks after %d reads, want 1 after 1", len(s.Disks), reads)
	}
	clock = clock.Add(time.Second)
	var s proofgrid.Sample
	err := c.Update(ctx, &s)
	if reads != 2 || err == nil || !strings.Contains(err.Error(), gone) {
		t.Fatalf("after a minute: %d reads, error %v; want 2 reads and %s's usage failing", reads, err, gone)
	}
	// That failure makes the next sample read the table again.
	mounts = mounts[:1]
	if s := update(); len(s.Disks) != 1 || reads != 3 {
		t.Fatalf("after a failed usage: %d disks after %d reads, want 1 after 3", len(s.Disks), reads)
	}
}
