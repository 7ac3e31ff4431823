package verifier

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/client"
)

// Defaults of the log stream.
const (
	DefaultFlushInterval = time.Second
	DefaultFlushBytes    = 16 << 10
	// maxChunk caps one append request (the coordinator takes up to
	// 256 KiB).
	maxChunk = 64 << 10
	// maxPending bounds the output held while the coordinator does not
	// answer; the coordinator keeps only the first MiB of a log anyway.
	maxPending = 1 << 20
)

// logStream sends what a checker writes to the coordinator as it comes:
// every flush interval, or as soon as flushBytes are waiting. It sends
// valid UTF-8 only (invalid bytes and NUL become U+FFFD, a rune split
// across writes waits for its end), so offsets count the bytes the
// coordinator stores. Offsets make a resent chunk harmless.
type logStream struct {
	rep      Reporter
	path     string
	attempt  int64
	interval time.Duration
	bytes    int
	// superseded is called once when the coordinator says another attempt
	// took over: the checker is stopped.
	superseded func()

	mu      sync.Mutex
	pending []byte // sanitized, not yet sent
	partial []byte // the start of a rune split across writes
	sent    int64  // bytes of this attempt the coordinator has
	dropped int64
	stale   bool

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newLogStream(rep Reporter, id string, attempt int64, interval time.Duration, flushBytes int, superseded func()) *logStream {
	s := &logStream{
		rep: rep, path: client.GolfSubmissionPath(id, client.GolfLog), attempt: attempt, interval: interval, bytes: flushBytes,
		superseded: superseded, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go s.run()
	return s
}

// Write implements io.Writer; it never blocks on the network.
func (s *logStream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := append(s.partial, p...)
	// Hold back an incomplete rune at the end, at most 3 bytes.
	cut := len(data)
	for i := len(data) - 1; i >= 0 && i >= len(data)-3; i-- {
		if utf8.RuneStart(data[i]) {
			if !utf8.FullRune(data[i:]) {
				cut = i
			}
			break
		}
	}
	s.partial = append([]byte(nil), data[cut:]...)
	s.add(data[:cut])
	if len(s.pending) >= s.bytes {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// add appends sanitized b to pending, dropping what exceeds maxPending.
func (s *logStream) add(b []byte) {
	text := strings.ReplaceAll(strings.ToValidUTF8(string(b), "\uFFFD"), "\x00", "\uFFFD")
	if room := maxPending - len(s.pending); len(text) > room {
		s.dropped += int64(len(text) - max(room, 0))
		text = text[:max(room, 0)]
		for len(text) > 0 && !utf8.ValidString(text) {
			text = text[:len(text)-1]
		}
	}
	s.pending = append(s.pending, text...)
}

func (s *logStream) run() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.wake:
		}
		s.flush(context.Background(), false)
	}
}

// flush sends pending output in chunks until it is all sent or a request
// fails; a failed request is tried again at the next flush.
func (s *logStream) flush(ctx context.Context, final bool) {
	for {
		s.mu.Lock()
		if final && len(s.partial) > 0 {
			s.add(s.partial)
			s.partial = nil
		}
		if s.dropped > 0 && !s.stale {
			note := fmt.Sprintf("\n[%d bytes of checker output dropped while the coordinator could not keep up]\n", s.dropped)
			s.dropped = 0
			s.pending = append(s.pending, note...)
		}
		if s.stale || len(s.pending) == 0 {
			s.mu.Unlock()
			return
		}
		n := min(len(s.pending), maxChunk)
		for n < len(s.pending) && n > 0 && !utf8.RuneStart(s.pending[n]) {
			n--
		}
		chunk := client.GolfLogChunk{Attempt: s.attempt, Offset: s.sent, Text: string(s.pending[:n])}
		s.mu.Unlock()

		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		var ack client.GolfLogAck
		err := s.rep.DoSigned(rctx, http.MethodPost, s.path, chunk, &ack)
		cancel()

		s.mu.Lock()
		switch {
		case err == nil:
			s.pending = s.pending[n:]
			s.sent += int64(n)
		case proofgrid.ErrorCode(err) == proofgrid.ECONFLICT:
			s.stale = true
		}
		stale := s.stale
		s.mu.Unlock()
		if stale && err != nil {
			s.superseded()
			return
		}
		if err != nil {
			return
		}
	}
}

// Close stops the background flushes and sends what is left, trying for
// up to wait. It reports whether the attempt was superseded.
func (s *logStream) Close(wait time.Duration) (superseded bool) {
	close(s.stop)
	<-s.done
	deadline := time.Now().Add(wait)
	for {
		s.flush(context.Background(), true)
		s.mu.Lock()
		left, stale := len(s.pending), s.stale
		s.mu.Unlock()
		if stale || left == 0 || time.Now().After(deadline) {
			return stale
		}
		time.Sleep(200 * time.Millisecond)
	}
}
