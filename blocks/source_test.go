package blocks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/blocks"
)

// node is a small JSON-RPC server with a chain of blocks 0..head.
type node struct {
	mu    sync.Mutex
	head  int64
	calls map[string]int
}

func (n *node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params []any           `json:"params"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.calls == nil {
		n.calls = map[string]int{}
	}
	n.calls[req.Method]++
	var result any
	switch req.Method {
	case "eth_blockNumber":
		result = "0x" + strconv.FormatInt(n.head, 16)
	case "eth_getBlockByNumber":
		num, _ := strconv.ParseInt(strings.TrimPrefix(req.Params[0].(string), "0x"), 16, 64)
		if num > n.head {
			result = nil
			break
		}
		txs := make([]string, num%5)
		for i := range txs {
			txs[i] = fmt.Sprintf("0x%064x", i)
		}
		result = map[string]any{
			"number":       "0x" + strconv.FormatInt(num, 16),
			"hash":         fmt.Sprintf("0x%064X", num+0xabc),
			"timestamp":    "0x" + strconv.FormatInt(1700000000+num*12, 16),
			"gasUsed":      "0x" + strconv.FormatInt(num*1000, 16),
			"transactions": txs,
		}
	default:
		json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "error": map[string]any{"code": -32601, "message": "method not found"}})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result})
}

type recorder struct {
	mu     sync.Mutex
	blocks []blocks.Block
}

func (r *recorder) RecordBlock(_ context.Context, b blocks.Block) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blocks = append(r.blocks, b)
	return nil
}

func (r *recorder) LatestBlock(context.Context) (int64, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.blocks) == 0 {
		return 0, false, nil
	}
	return r.blocks[len(r.blocks)-1].Number, true, nil
}

func TestPoll(t *testing.T) {
	nd := &node{head: 100}
	srv := httptest.NewServer(nd)
	defer srv.Close()
	rec := &recorder{}
	src, err := blocks.New(blocks.Config{RPCURL: srv.URL, MaxBlocksPerPoll: 3}, rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Nothing recorded: start at the head, not at genesis.
	if n, err := src.Poll(ctx); err != nil || n != 1 || rec.blocks[0].Number != 100 {
		t.Fatalf("first poll = %d %v %+v", n, err, rec.blocks)
	}
	b := rec.blocks[0]
	if b.Hash != fmt.Sprintf("0x%064x", 100+0xabc) || b.GasUsed != 100000 || b.TransactionCount != 0 ||
		!b.Timestamp.Equal(time.Unix(1700000000+1200, 0)) {
		t.Fatalf("block 100 = %+v", b)
	}
	if n, err := src.Poll(ctx); err != nil || n != 0 {
		t.Fatalf("poll without new blocks = %d %v", n, err)
	}
	nd.mu.Lock()
	nd.head = 105
	nd.mu.Unlock()
	// Catch-up is bounded per poll and resumes where it stopped.
	if n, err := src.Poll(ctx); err != nil || n != 3 {
		t.Fatalf("catch-up poll = %d %v", n, err)
	}
	if n, err := src.Poll(ctx); err != nil || n != 2 {
		t.Fatalf("second catch-up poll = %d %v", n, err)
	}
	for i, b := range rec.blocks {
		if b.Number != int64(100+i) {
			t.Fatalf("blocks out of order: %+v", rec.blocks)
		}
	}
	if rec.blocks[4].TransactionCount != 104%5 {
		t.Fatalf("transaction count = %d", rec.blocks[4].TransactionCount)
	}
}

func TestStartBlockAndConfirmations(t *testing.T) {
	nd := &node{head: 50}
	srv := httptest.NewServer(nd)
	defer srv.Close()
	rec := &recorder{}
	src, _ := blocks.New(blocks.Config{RPCURL: srv.URL, StartBlock: 40, Confirmations: 5}, rec)
	if n, err := src.Poll(context.Background()); err != nil || n != 6 || rec.blocks[0].Number != 40 || rec.blocks[5].Number != 45 {
		t.Fatalf("poll = %d %v %+v", n, err, rec.blocks)
	}
}

func TestNodeErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"rate limited"}}`))
	}))
	defer srv.Close()
	src, _ := blocks.New(blocks.Config{RPCURL: srv.URL}, &recorder{})
	if _, err := src.Poll(context.Background()); err == nil || !strings.Contains(err.Error(), "rate limited") {
		t.Fatalf("poll against a failing node: %v", err)
	}
	if _, err := blocks.New(blocks.Config{RPCURL: "ftp://x"}, &recorder{}); err == nil {
		t.Fatal("non-HTTP URL accepted")
	}
}
