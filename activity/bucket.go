package activity

import (
	"time"

	"github.com/proofgrid/proofgrid"
)

// Aggregation buckets, spelled as the Psy API spells them. Months are
// calendar months ("1m"), weeks start on Monday (ISO 8601), all in UTC.
const (
	Bucket2Min    = "2min"
	BucketHour    = "1h"
	BucketDay     = "1d"
	BucketWeek    = "1w"
	BucketMonth   = "1m"
	BucketAllTime = "all_time"
)

// EventBuckets are the buckets of the event aggregations, and so the
// bucket sizes the rollups keep.
var EventBuckets = []string{Bucket2Min, BucketHour, BucketDay, BucketWeek, BucketMonth, BucketAllTime}

// RewardBuckets are the buckets of /rewards_aggregations (no 2min, no 1h).
var RewardBuckets = []string{BucketDay, BucketWeek, BucketMonth, BucketAllTime}

// TimePeriods are the time_period values of /checkpoint/rewards/{key}
// and the bucket each stands for.
var TimePeriods = map[string]string{"2m": Bucket2Min, "1h": BucketHour, "1d": BucketDay, "1w": BucketWeek, "1m": BucketMonth}

// allTimeStart is the one bucket of all_time.
var allTimeStart = time.Unix(0, 0).UTC()

// BucketStart returns the start of the bucket of size b that holds t, in
// UTC. Buckets are computed here, in Go, for both databases, so SQLite and
// PostgreSQL cannot disagree on a boundary.
func BucketStart(b string, t time.Time) (time.Time, error) {
	t = t.UTC()
	switch b {
	case Bucket2Min:
		u := t.Unix()
		return time.Unix(u-mod(u, 120), 0).UTC(), nil
	case BucketHour:
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, time.UTC), nil
	case BucketDay:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
	case BucketWeek:
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		back := (int(day.Weekday()) + 6) % 7 // days since Monday
		return day.AddDate(0, 0, -back), nil
	case BucketMonth:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC), nil
	case BucketAllTime:
		return allTimeStart, nil
	}
	return time.Time{}, proofgrid.Errorf(proofgrid.EINVALID, "unknown bucket %q", b)
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
