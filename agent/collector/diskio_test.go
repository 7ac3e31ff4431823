package collector

import "testing"

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
