package psy

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
)

// TestHubDropsSlowClient checks that a client that stops reading is
// dropped once its buffer is full, while a client that reads gets every
// message and Broadcast never blocks.
func TestHubDropsSlowClient(t *testing.T) {
	h := NewHub(slog.New(slog.NewTextHandler(io.Discard, nil)), HubConfig{})
	slow, _ := h.add("192.0.2.1")
	fast, _ := h.add("192.0.2.1")
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
	late, _ := h.add("192.0.2.1")
	if m := <-late.ch; m[0] != byte(clientBuffer*3-1) {
		t.Fatalf("late client got %v", m)
	}
	h.Close()
	select {
	case <-fast.done:
	default:
		t.Fatal("Close left a client connected")
	}
	if _, ok := h.add("192.0.2.1"); ok {
		t.Fatal("a closed hub took a client")
	}
}

// TestHubCapsClients checks the per-address and overall caps, and that a
// client leaving frees its slot.
func TestHubCapsClients(t *testing.T) {
	h := NewHub(slog.New(slog.NewTextHandler(io.Discard, nil)), HubConfig{MaxClients: 3, MaxPerIP: 2})
	a1, ok1 := h.add("192.0.2.1")
	_, ok2 := h.add("192.0.2.1")
	if !ok1 || !ok2 {
		t.Fatal("the first two clients of one address were refused")
	}
	if h.Admits("192.0.2.1") {
		t.Fatal("Admits a third client of one address")
	}
	if _, ok := h.add("192.0.2.1"); ok {
		t.Fatal("a third client of one address was added")
	}
	if _, ok := h.add("192.0.2.2"); !ok {
		t.Fatal("another address was refused below the overall cap")
	}
	if h.Admits("192.0.2.3") {
		t.Fatal("Admits a client above the overall cap")
	}
	h.remove(a1)
	h.remove(a1) // removing twice must not free a second slot
	if !h.Admits("192.0.2.1") || h.Clients() != 2 {
		t.Fatalf("after one left: admits=%v clients=%d", h.Admits("192.0.2.1"), h.Clients())
	}
	if _, ok := h.add("192.0.2.1"); !ok {
		t.Fatal("a freed slot was not reused")
	}
	if h.Admits("192.0.2.1") {
		t.Fatal("removing twice freed two slots")
	}
}

// TestHubDropsIdleClient serves real WebSocket connections: a client that
// never reads (so never answers the hub's pings) is dropped after the idle
// timeout, while one that reads stays.
func TestHubDropsIdleClient(t *testing.T) {
	h := NewHub(slog.New(slog.NewTextHandler(io.Discard, nil)),
		HubConfig{PingInterval: 100 * time.Millisecond, IdleTimeout: 400 * time.Millisecond})
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/ws", websocket.New(h.Serve))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)
	defer app.Shutdown()
	url := "ws://" + ln.Addr().String() + "/ws"

	idle, _, err := fws.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	live, _, err := fws.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	go func() { // reading runs the default ping handler, which answers pong
		for {
			if _, _, err := live.ReadMessage(); err != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for h.Clients() != 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := h.Clients(); n != 2 {
		t.Fatalf("%d clients connected, want 2", n)
	}
	for h.Clients() != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := h.Clients(); n != 1 {
		t.Fatalf("%d clients after the idle timeout, want 1 (the one answering pings)", n)
	}
	time.Sleep(600 * time.Millisecond) // longer than the idle timeout again
	if n := h.Clients(); n != 1 {
		t.Fatalf("the client answering pings was dropped: %d clients", n)
	}
}
