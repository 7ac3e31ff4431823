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

// Defaults of HubConfig.
const (
	DefaultMaxClients   = 10_000
	DefaultMaxPerIP     = 20
	DefaultPingInterval = 30 * time.Second
	DefaultIdleTimeout  = 75 * time.Second
)

// HubConfig bounds what WebSocket clients may hold. Zero values mean the
// defaults.
type HubConfig struct {
	// MaxClients caps the connections of this replica, MaxPerIP those of
	// one client address: an idle connection costs a goroutine pair and
	// buffers, so one address must not be able to hold thousands.
	MaxClients int
	MaxPerIP   int
	// PingInterval is how often the hub pings each client; a client that
	// answers nothing (no pong, no message) for IdleTimeout is dropped, so
	// dead peers and half-open connections do not stay for minutes.
	PingInterval time.Duration
	IdleTimeout  time.Duration
}

func (c *HubConfig) resolve() {
	if c.MaxClients <= 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.MaxPerIP <= 0 {
		c.MaxPerIP = DefaultMaxPerIP
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.IdleTimeout <= c.PingInterval {
		c.IdleTimeout = 2 * c.PingInterval
	}
}

// Hub fans TPS messages out to the WebSocket clients of this replica.
type Hub struct {
	logger *slog.Logger
	cfg    HubConfig

	mu      sync.Mutex
	clients map[*client]struct{}
	perIP   map[string]int
	last    []byte
	closed  bool
}

type client struct {
	ip   string
	ch   chan []byte
	done chan struct{}
	once sync.Once
}

func (c *client) stop() { c.once.Do(func() { close(c.done) }) }

// NewHub returns an empty hub.
func NewHub(logger *slog.Logger, cfg HubConfig) *Hub {
	if logger == nil {
		logger = slog.Default()
	}
	cfg.resolve()
	return &Hub{logger: logger, cfg: cfg, clients: map[*client]struct{}{}, perIP: map[string]int{}}
}

// Admits tells whether a new client from ip would be accepted now. The
// upgrade handler asks before upgrading, so a refused client gets a plain
// HTTP 429 instead of a WebSocket that closes at once; add enforces the
// caps again, exactly, when the connection starts.
func (h *Hub) Admits(ip string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.closed && len(h.clients) < h.cfg.MaxClients && h.perIP[ip] < h.cfg.MaxPerIP
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
			h.forget(c)
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

func (h *Hub) add(ip string) (*client, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || len(h.clients) >= h.cfg.MaxClients || h.perIP[ip] >= h.cfg.MaxPerIP {
		return nil, false
	}
	c := &client{ip: ip, ch: make(chan []byte, clientBuffer), done: make(chan struct{})}
	h.perIP[ip]++
	if h.last != nil {
		c.ch <- h.last // a new client need not wait for the next broadcast
	}
	h.clients[c] = struct{}{}
	return c, true
}

func (h *Hub) remove(c *client) {
	h.mu.Lock()
	h.forget(c)
	h.mu.Unlock()
}

// forget drops c from the hub; h.mu is held. It is safe to call twice.
func (h *Hub) forget(c *client) {
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		if h.perIP[c.ip]--; h.perIP[c.ip] <= 0 {
			delete(h.perIP, c.ip)
		}
	}
	c.stop()
}

// Serve runs one WebSocket connection until the client leaves, is
// dropped, or the hub closes.
func (h *Hub) Serve(conn *websocket.Conn) {
	c, ok := h.add(conn.IP())
	if !ok {
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "too many connections"), time.Now().Add(writeTimeout))
		return
	}
	defer h.remove(c)
	conn.SetReadLimit(maxClientMessage)
	// Any frame from the client, pongs included, proves it is alive.
	alive := func() { _ = conn.SetReadDeadline(time.Now().Add(h.cfg.IdleTimeout)) }
	alive()
	conn.SetPongHandler(func(string) error { alive(); return nil })
	// The reader only notices the client leaving, going idle or sending
	// too much; what clients send is ignored.
	go func() {
		defer c.stop()
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
			alive()
		}
	}()
	ping := time.NewTicker(h.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				return
			}
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
		h.forget(c)
	}
}
