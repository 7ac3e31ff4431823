package activity_test

import (
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/activity"
)

func TestBucketStart(t *testing.T) {
	at := time.Date(2024, 3, 3, 23, 59, 59, 999_999_000, time.FixedZone("x", 3600)) // 22:59:59 UTC, a Sunday
	tests := map[string]time.Time{
		activity.Bucket2Min:    time.Date(2024, 3, 3, 22, 58, 0, 0, time.UTC),
		activity.BucketHour:    time.Date(2024, 3, 3, 22, 0, 0, 0, time.UTC),
		activity.BucketDay:     time.Date(2024, 3, 3, 0, 0, 0, 0, time.UTC),
		activity.BucketWeek:    time.Date(2024, 2, 26, 0, 0, 0, 0, time.UTC), // Monday
		activity.BucketMonth:   time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
		activity.BucketAllTime: time.Unix(0, 0).UTC(),
	}
	for b, want := range tests {
		got, err := activity.BucketStart(b, at)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s: got %v, %v; want %v", b, got, err, want)
		}
	}
	monday := time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)
	if got, _ := activity.BucketStart(activity.BucketWeek, monday); !got.Equal(monday) {
		t.Errorf("a Monday is its own week start, got %v", got)
	}
	if got, _ := activity.BucketStart(activity.Bucket2Min, time.Unix(-1, 0)); got.Unix() != -120 {
		t.Errorf("2min before the epoch: %v", got.Unix())
	}
	if _, err := activity.BucketStart("5min", at); err == nil {
		t.Error("unknown bucket accepted")
	}
}
