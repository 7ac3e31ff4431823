package collector

import "testing"

func TestMemoryUsed(t *testing.T) {
	tests := []struct {
		name                       string
		total, available, fallback uint64
		want                       uint64
	}{
		{"from available", 16 << 30, 12 << 30, 1 << 30, 4 << 30},
		{"nothing available", 16 << 30, 0, 15 << 30, 15 << 30},
		{"bogus available", 1 << 30, 2 << 30, 512 << 20, 512 << 20},
	}
	for _, tt := range tests {
		if got := memoryUsed(tt.total, tt.available, tt.fallback); got != tt.want {
			t.Errorf("%s: memoryUsed = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestPercent(t *testing.T) {
	tests := []struct {
		part, whole uint64
		want        float64
	}{
		{0, 0, 0},
		{5, 0, 0},
		{1, 4, 25},
		{4, 4, 100},
	}
	for _, tt := range tests {
		if got := percent(tt.part, tt.whole); got != tt.want {
			t.Errorf("percent(%d, %d) = %v, want %v", tt.part, tt.whole, got, tt.want)
		}
	}
}
