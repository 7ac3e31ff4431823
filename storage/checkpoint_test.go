package storage

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/internal/logtest"
)

// TestCheckpointFailureLoggedOnce checks that checkpoints failing on every
// wake are reported once, not once per commit.
func TestCheckpointFailureLoggedOnce(t *testing.T) {
	var logs logtest.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(prev)

	c, err := newWALCheckpointer(filepath.Join(t.TempDir(), "ckpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	c.db.Close() // every checkpoint now fails
	for range 3 {
		c.committed()
		time.Sleep(checkpointEvery + 100*time.Millisecond)
	}
	c.close()
	if n := strings.Count(logs.String(), "WAL checkpoints are failing"); n != 1 {
		t.Fatalf("3 failed checkpoints logged %d warnings, want 1:\n%s", n, logs.String())
	}
}
