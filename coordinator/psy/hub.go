package psy

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/redis/go-redis/v9"
)

// TPSChannel is the Redis pub/sub channel of TPS messages. The broadcast
// task runs on whichever replica's worker picks it up, while WebSocket
// clients are spread over every replica: each replica subscribes and fans
// the messages out to its own clients.
const TPSChannel = "proofgrid:psy:tps"

// Hub limits.
const (
	// clientBuffer is how many messages may wait for a slow client; a
	// client whose buffer is full is dropped, so it never holds up others.
	clientBuffer = 4
	// maxClientMessage bounds what a client may send (it need send
	// nothing; pings and close frames are small).
	maxClientMessage = 512
	// writeTimeout bounds one write to a client.
	writeTimeout = 10 * time.Second
)

// Hub fans TPS messages out to the WebSocket clients of this replica.
type Hub struct {
	logger *slog.Logger

	mu      sync.Mutex
	clients map[*client]struct{}
	last    []byte
	closed  bool
}

type client struct {
	ch   chan []byte
	done chan struct{}
	once sync.Once
}

func (c *client) stop() { c.once.Do(func() { close(c.done) }) }

// NewHub returns an empty hub.
func NewHub(logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.Default()
	}
	return &Hub{logger: logger, clients: map[*client]struct{}{}}
}

// Broadcast queues msg for every client without blocking: a client whose
// buffer is full is dropped.
func (h *Hub) Broadcast(msg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = msg
	for c := range h.clients {
		select {
		case c.ch <- msg:
		default:
			delete(h.clients, c)
			c.stop()
			h.logger.Info("tps client dropped: too slow")
		}
	}
}

// Clients returns how many clients are connected.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

func (h *Hub) add() (*client, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	c := &client{ch: make(chan []byte, clientBuffer), done: make(chan struct{})}
	if h.last != nil {
		c.ch <- h.last // a new client need not wait for the next broadcast
	}
	h.clients[c] = struct{}{}
	return c, true
}

func (h *Hub) remove(c *client) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	c.stop()
}

// Serve runs one WebSocket connection until the client leaves, is
// dropped, or the hub closes.
func (h *Hub) Serve(conn *websocket.Conn) {
	c, ok := h.add()
	if !ok {
		return
	}
	defer h.remove(c)
	conn.SetReadLimit(maxClientMessage)
	// The reader only notices the client leaving (or sending too much);
	// what clients send is ignored.
	go func() {
		defer c.stop()
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for {
		select {
		case <-c.done:
			return
		case msg := <-c.ch:
			_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				return
			}
		}
	}
}

// Subscribe relays the messages published on TPSChannel to the hub until
// ctx is done. It reconnects by itself (go-redis resubscribes).
func (h *Hub) Subscribe(ctx context.Context, rdb redis.UniversalClient) {
	sub := rdb.Subscribe(ctx, TPSChannel)
	defer sub.Close()
	// Wait for the subscription to be confirmed, so that messages
	// published after Subscribe's caller saw it start are not missed.
	if _, err := sub.Receive(ctx); err != nil && ctx.Err() == nil {
		h.logger.Warn("tps subscription", "error", err)
	}
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			h.Broadcast([]byte(m.Payload))
		}
	}
}

// Publish sends msg to the hubs of every replica.
func Publish(ctx context.Context, rdb redis.UniversalClient, msg []byte) error {
	return rdb.Publish(ctx, TPSChannel, msg).Err()
}

// Close disconnects every client and refuses new ones.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for c := range h.clients {
		delete(h.clients, c)
		c.stop()
	}
}
