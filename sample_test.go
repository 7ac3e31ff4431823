package proofgrid_test

import (
	"testing"

	"github.com/proofgrid/proofgrid"
)

func TestMemoryPercent(t *testing.T) {
	for _, tt := range []struct {
		name string
		m    proofgrid.Memory
		want float64
	}{
		{"reported", proofgrid.Memory{TotalBytes: 1000, UsedBytes: 500, UsedPercent: 30}, 30},
		{"from bytes", proofgrid.Memory{TotalBytes: 1000, UsedBytes: 250}, 25},
		{"nothing known", proofgrid.Memory{}, 0},
	} {
		if got := tt.m.Percent(); got != tt.want {
			t.Errorf("%s: Percent() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestFullestDisk(t *testing.T) {
	s := proofgrid.Sample{Disks: []proofgrid.Disk{
		{Mountpoint: "/", UsedPercent: 10},
		{Mountpoint: "/data", TotalBytes: 100, UsedBytes: 80}, // 80 from the byte counts
		{Mountpoint: "/scratch", UsedPercent: 80},             // equal: the first one wins
		{Mountpoint: "/boot", UsedPercent: 5},
	}}
	if mount, pct := s.FullestDisk(); mount != "/data" || pct != 80 {
		t.Errorf("FullestDisk() = %q, %v; want /data, 80", mount, pct)
	}
	s.Disks = []proofgrid.Disk{{Mountpoint: "/empty"}}
	if mount, pct := s.FullestDisk(); mount != "/empty" || pct != 0 {
		t.Errorf("FullestDisk() of an empty disk = %q, %v; want /empty, 0", mount, pct)
	}
	if mount, pct := (proofgrid.Sample{}).FullestDisk(); mount != "" || pct != 0 {
		t.Errorf("FullestDisk() without disks = %q, %v; want \"\", 0", mount, pct)
	}
}
