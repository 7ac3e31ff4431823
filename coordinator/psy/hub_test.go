package psy

import (
	"io"
	"log/slog"
	"testing"
)

// TestHubDropsSlowClient checks that a client that stops reading is
// dropped once its buffer is full, while a client that reads gets every
// message and Broadcast never blocks.
func TestHubDropsSlowClient(t *testing.T) {
	h := NewHub(slog.New(slog.NewTextHandler(io.Discard, nil)))
	slow, _ := h.add()
	fast, _ := h.add()
	got := 0
	for i := range clientBuffer * 3 {
		h.Broadcast([]byte{byte(i)})
		select {
		case m := <-fast.ch:
			if m[0] != byte(i) {
				t.Fatalf("fast client got message %d, want %d", m[0], i)
			}
			got++
		default:
			t.Fatalf("fast client missed message %d", i)
		}
	}
	if got != clientBuffer*3 {
		t.Fatalf("fast client got %d messages", got)
	}
	select {
	case <-slow.done:
	default:
		t.Fatal("slow client was not dropped")
	}
	if n := h.Clients(); n != 1 {
		t.Fatalf("%d clients, want 1", n)
	}
	// A new client gets the last message at once.
	late, _ := h.add()
	if m := <-late.ch; m[0] != byte(clientBuffer*3-1) {
		t.Fatalf("late client got %v", m)
	}
	h.Close()
	select {
	case <-fast.done:
	default:
		t.Fatal("Close left a client connected")
	}
	if _, ok := h.add(); ok {
		t.Fatal("a closed hub took a client")
	}
}
