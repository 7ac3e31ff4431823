// Package blocks follows an Ethereum execution node over JSON-RPC and
// hands each new block, with its hash, timestamp, gas used and transaction
// count, to a Recorder (the Ethproofs pipeline, which schedules proving).
//
// The source resumes after the highest block the recorder has, so a
// restart neither skips nor repeats blocks; with nothing recorded it
// starts at the node's head (or a configured block) rather than replaying
// the chain. Several coordinator replicas may poll at once: recording a
// block twice is harmless.
package blocks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Block is what the source learns about one block.
type Block struct {
	Number           int64
	Hash             string
	Timestamp        time.Time
	GasUsed          int64
	TransactionCount int64
}

// Recorder receives blocks in increasing order.
type Recorder interface {
	// RecordBlock records one block.
	RecordBlock(ctx context.Context, b Block) error
	// LatestBlock returns the highest block recorded so far, and false
	// when there is none.
	LatestBlock(ctx context.Context) (int64, bool, error)
}

// Config configures a Source. Zero values mean defaults.
type Config struct {
	// RPCURL is the node's JSON-RPC endpoint (http or https). Required.
	RPCURL string
	// PollInterval is the time between polls (default 12 s, one slot).
	PollInterval time.Duration
	// StartBlock, when positive, is the first block to record when the
	// recorder has none; otherwise the source starts at the head.
	StartBlock int64
	// Confirmations keeps the source that many blocks behind the head,
	// away from blocks likely to be reorganised (default 0).
	Confirmations int64
	// MaxBlocksPerPoll bounds the catch-up work of one poll (default 32).
	MaxBlocksPerPoll int
	// HTTPClient sends the requests (default: a client with a 10 s
	// timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Source polls a node and records new blocks.
type Source struct {
	cfg Config
	rec Recorder
	id  atomic.Int64
}

// New returns a Source recording into rec.
func New(cfg Config, rec Recorder) (*Source, error) {
	if !strings.HasPrefix(cfg.RPCURL, "http://") && !strings.HasPrefix(cfg.RPCURL, "https://") {
		return nil, fmt.Errorf("blocks: RPC URL %q must be http or https", cfg.RPCURL)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 12 * time.Second
	}
	if cfg.MaxBlocksPerPoll <= 0 {
		cfg.MaxBlocksPerPoll = 32
	}
	if cfg.Confirmations < 0 {
		cfg.Confirmations = 0
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Source{cfg: cfg, rec: rec}, nil
}

// Run polls until ctx is done. A failing poll is logged and retried at
// the next interval.
func (s *Source) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		if n, err := s.Poll(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("block source poll failed", "rpc_url", redact(s.cfg.RPCURL), "error", err)
		} else if n > 0 {
			s.cfg.Logger.Info("blocks recorded", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll records the blocks after the latest recorded one, up to the head
// less Confirmations and at most MaxBlocksPerPoll of them, and returns how
// many it recorded.
func (s *Source) Poll(ctx context.Context) (int, error) {
	var headHex string
	if err := s.call(ctx, "eth_blockNumber", nil, &headHex); err != nil {
		return 0, err
	}
	head, err := parseQuantity(headHex)
	if err != nil {
		return 0, fmt.Errorf("blocks: eth_blockNumber: %w", err)
	}
	head -= s.cfg.Confirmations
	latest, ok, err := s.rec.LatestBlock(ctx)
	if err != nil {
		return 0, err
	}
	from := latest + 1
	if !ok {
		from = head
		if s.cfg.StartBlock > 0 {
			from = s.cfg.StartBlock
		}
	}
	to := min(head, from+int64(s.cfg.MaxBlocksPerPoll)-1)
	n := 0
	for num := from; num <= to; num++ {
		b, err := s.Block(ctx, num)
		if err != nil {
			return n, err
		}
		if err := s.rec.RecordBlock(ctx, b); err != nil {
			return n, fmt.Errorf("blocks: record block %d: %w", num, err)
		}
		n++
	}
	return n, nil
}

// rpcBlock is the part of eth_getBlockByNumber's answer the source reads.
type rpcBlock struct {
	Number       string            `json:"number"`
	Hash         string            `json:"hash"`
	Timestamp    string            `json:"timestamp"`
	GasUsed      string            `json:"gasUsed"`
	Transactions []json.RawMessage `json:"transactions"`
}

// Block fetches block number from the node.
func (s *Source) Block(ctx context.Context, number int64) (Block, error) {
	var rb *rpcBlock
	if err := s.call(ctx, "eth_getBlockByNumber", []any{"0x" + strconv.FormatInt(number, 16), false}, &rb); err != nil {
		return Block{}, err
	}
	if rb == nil {
		return Block{}, fmt.Errorf("blocks: node has no block %d", number)
	}
	got, err := parseQuantity(rb.Number)
	if err != nil || got != number {
		return Block{}, fmt.Errorf("blocks: asked for block %d, node answered block %q", number, rb.Number)
	}
	ts, err1 := parseQuantity(rb.Timestamp)
	gas, err2 := parseQuantity(rb.GasUsed)
	if err := errors.Join(err1, err2); err != nil {
		return Block{}, fmt.Errorf("blocks: block %d: %w", number, err)
	}
	if len(rb.Hash) != 66 || !strings.HasPrefix(rb.Hash, "0x") {
		return Block{}, fmt.Errorf("blocks: block %d: malformed hash %q", number, rb.Hash)
	}
	return Block{
		Number:           number,
		Hash:             strings.ToLower(rb.Hash),
		Timestamp:        time.Unix(ts, 0).UTC(),
		GasUsed:          gas,
		TransactionCount: int64(len(rb.Transactions)),
	}, nil
}

// parseQuantity reads a JSON-RPC quantity: 0x and hex digits.
func parseQuantity(s string) (int64, error) {
	h, ok := strings.CutPrefix(s, "0x")
	if !ok || h == "" {
		return 0, fmt.Errorf("quantity %q is not 0x-prefixed hex", s)
	}
	n, err := strconv.ParseUint(h, 16, 64)
	if err != nil || n > math.MaxInt64 {
		return 0, fmt.Errorf("quantity %q is not a 63-bit hex number", s)
	}
	return int64(n), nil
}

// maxRPCResponse bounds a node's answer: a block without transaction
// bodies is a few KiB, even with thousands of transaction hashes.
const maxRPCResponse = 8 << 20

func (s *Source) call(ctx context.Context, method string, params []any, out any) error {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": s.id.Add(1), "method": method, "params": params})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.RPCURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("blocks: %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("blocks: %s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRPCResponse+1))
	if err != nil {
		return fmt.Errorf("blocks: %s: read answer: %w", method, err)
	}
	if len(data) > maxRPCResponse {
		return fmt.Errorf("blocks: %s: answer larger than %d bytes", method, maxRPCResponse)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("blocks: %s: node answered HTTP %d", method, resp.StatusCode)
	}
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("blocks: %s: malformed answer: %w", method, err)
	}
	if r.Error != nil {
		return fmt.Errorf("blocks: %s: node error %d: %s", method, r.Error.Code, r.Error.Message)
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		return fmt.Errorf("blocks: %s: malformed result: %w", method, err)
	}
	return nil
}

// redact drops credentials and paths (node URLs often carry an API key)
// from a URL for logs.
func redact(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return "?"
	}
	host, _, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	return scheme + "://" + host
}
