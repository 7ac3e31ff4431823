package collector

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
)

func TestPhysicalBlockDevice(t *testing.T) {
	tests := map[string]bool{
		// whole disks
		"sda": true, "sdaa": true, "vda": true, "xvdb": true, "hda": true,
		"nvme0n1": true, "nvme12n3": true, "mmcblk0": true,
		// partitions
		"sda1": false, "sdaa12": false, "vda2": false, "xvdb1": false,
		"nvme0n1p1": false, "mmcblk0p2": false, "mmcblk0boot0": false, "mmcblk0rpmb": false,
		// multipath NVMe path nodes
		"nvme0c0n1": false,
		// virtual or stacked
		"loop0": false, "ram3": false, "zram0": false, "dm-0": false, "md127": false,
		"nbd1": false, "zd16": false, "sr0": false, "fd0": false,
	}
	for name, want := range tests {
		if got := physicalBlockDevice(name); got != want {
			t.Errorf("physicalBlockDevice(%q) = %v, want %v", name, got, want)
		}
	}
}

// diskstatsFixture is /proc/diskstats of a host with NVMe and SATA disks,
// partitions, device-mapper, loop and zram devices, and a kernel that lists
// fewer counters (a line of 14 fields) beside newer ones (20 fields).
const diskstatsFixture = `   7       0 loop0 52 0 2174 10 0 0 0 0 0 28 10 0 0 0 0 0 0
 259       0 nvme0n1 1000 10 200000 300 4000 20 800000 900 0 700 1200 0 0 0 0 50 6
 259       1 nvme0n1p1 900 10 190000 290 3900 20 790000 890 0 690 1180 0 0 0 0 0 0
 259       2 nvme1n1 7 0 8 1 9 0 10 2 0 3 3
   8       0 sda 500 5 1000 40 600 6 3000 70 0 80 110 0 0 0 0
   8       1 sda1 400 5 900 30 500 6 2900 60 0 70 90 0 0 0 0
 253       0 dm-0 1200 0 210000 500 4100 0 820000 1000 0 800 1500 0 0 0 0
 252       0 zram0 10 0 80 0 20 0 160 0 0 0 0 0 0 0 0

`

func TestParseDiskstats(t *testing.T) {
	got, err := parseDiskstats([]byte(diskstatsFixture))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]counterPair{
		"nvme0n1": {200000 * 512, 800000 * 512},
		"nvme1n1": {8 * 512, 10 * 512},
		"sda":     {1000 * 512, 3000 * 512},
	}
	if len(got) != len(want) {
		t.Errorf("devices %v, want %v", got, want)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: read, written = %d, %d; want %d, %d", name, got[name].a, got[name].b, w.a, w.b)
		}
	}

	if _, err := parseDiskstats([]byte(" 8 0 sda 1 2 x 4 5 6 7 8 9 10 11\n")); err == nil ||
		!strings.Contains(err.Error(), "sectors read of sda") {
		t.Errorf("unparsable counter: error %v, want one naming the field and device", err)
	}
}

// TestDiskIOMatchesGopsutil reads this machine's /proc/diskstats between two
// readings of gopsutil's IOCounters and finds every physical device's bytes
// between them: the counters only grow.
func TestDiskIOMatchesGopsutil(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/diskstats")
	}
	ctx := context.Background()
	before, err := ioCounters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := newDiskIOCollector(time.Now).readDiskstats()
	if err != nil {
		t.Fatal(err)
	}
	after, err := ioCounters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range ours {
		b, a := before[name], after[name]
		if o.a < b.a || o.a > a.a || o.b < b.b || o.b > a.b {
			t.Errorf("%s: read %d written %d, want between gopsutil's %+v and %+v", name, o.a, o.b, b, a)
		}
	}
	// gopsutil leaves out devices whose counters are all zero.
	for name := range after {
		if _, ok := ours[name]; !ok {
			t.Errorf("gopsutil lists %s, the collector does not", name)
		}
	}
}

// TestDiskIOUpdateFromHostProc points HOST_PROC at a directory holding a
// diskstats file and checks the totals and rates of two samples 2 s apart.
func TestDiskIOUpdateFromHostProc(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads diskstats on Linux only")
	}
	dir := t.TempDir()
	t.Setenv("HOST_PROC", dir)
	write := func(nvmeRead, sdaWritten int) {
		text := strings.NewReplacer("200000", strconv.Itoa(nvmeRead), "3000", strconv.Itoa(sdaWritten)).Replace(diskstatsFixture)
		if err := os.WriteFile(filepath.Join(dir, "diskstats"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newDiskIOCollector(func() time.Time { return now })

	write(200000, 3000)
	var first proofgrid.Sample
	if err := c.Update(context.Background(), &first); err != nil {
		t.Fatal(err)
	}
	wantRead, wantWritten := uint64(200000+8+1000)*512, uint64(800000+10+3000)*512
	if first.DiskIO.ReadBytesTotal != wantRead || first.DiskIO.WriteBytesTotal != wantWritten {
		t.Errorf("first totals %d, %d; want %d, %d", first.DiskIO.ReadBytesTotal, first.DiskIO.WriteBytesTotal, wantRead, wantWritten)
	}

	write(200100, 3400) // 100 sectors more read on nvme0n1, 400 more written on sda
	now = now.Add(2 * time.Second)
	var second proofgrid.Sample
	if err := c.Update(context.Background(), &second); err != nil {
		t.Fatal(err)
	}
	if second.DiskIO.ReadBytesPerSec != 100*512/2 || second.DiskIO.WriteBytesPerSec != 400*512/2 {
		t.Errorf("rates %v, %v bytes/s; want %v, %v", second.DiskIO.ReadBytesPerSec, second.DiskIO.WriteBytesPerSec, 100*512/2, 400*512/2)
	}
}
