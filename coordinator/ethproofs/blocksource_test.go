package ethproofs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
)

// TestBlockSource runs a coordinator that follows a small JSON-RPC node:
// new blocks are recorded with their metadata and scheduled for proving.
func TestBlockSource(t *testing.T) {
	var head atomic.Int64
	head.Store(100)
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params []any           `json:"params"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var result any
		switch req.Method {
		case "eth_blockNumber":
			result = "0x" + strconv.FormatInt(head.Load(), 16)
		case "eth_getBlockByNumber":
			n, _ := strconv.ParseInt(strings.TrimPrefix(req.Params[0].(string), "0x"), 16, 64)
			result = map[string]any{
				"number": req.Params[0], "hash": blockHash(int(n)),
				"timestamp": "0x" + strconv.FormatInt(1736942400+n, 16), "gasUsed": "0x" + strconv.FormatInt(n*7, 16),
				"transactions": []string{"0x01", "0x02", "0x03"},
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result})
	}))
	defer node.Close()

	env, c := startCoordinator(t, storage.DialectSQLite, func(cfg *coordinator.Config) {
		cfg.Ethproofs.RPCURL = node.URL
		cfg.Ethproofs.PollInterval = 50 * time.Millisecond
	})
	// With nothing recorded the source starts at the node's head.
	waitFor(t, 10*time.Second, "block 100 recorded", func() bool {
		return c.getJSON("/api/v0/blocks/100", "").status == 200
	})
	if r := c.getJSON("/api/v0/blocks/99", ""); r.status != 404 {
		t.Fatalf("block 99 recorded: the source replayed the chain (%d)", r.status)
	}
	write := env.Token("alpha", "write")
	cl := createCluster(t, c, write, "follower")
	head.Store(102)
	waitFor(t, 10*time.Second, "blocks 101 and 102 recorded", func() bool {
		return c.getJSON("/api/v0/blocks/102", "").status == 200
	})
	var b struct {
		BlockNumber      int64  `json:"block_number"`
		Hash             string `json:"hash"`
		Timestamp        string `json:"timestamp"`
		GasUsed          int64  `json:"gas_used"`
		TransactionCount int64  `json:"transaction_count"`
	}
	c.getJSON("/api/v0/blocks/101", "").json(t, &b)
	if b.Hash != blockHash(101) || b.GasUsed != 707 || b.TransactionCount != 3 || b.Timestamp != time.Unix(1736942400+101, 0).UTC().Format(time.RFC3339Nano) {
		t.Fatalf("block 101 = %+v", b)
	}
	for _, n := range []uint64{101, 102} {
		msg, err := env.Coordinator.DB.OutboxMessage(context.Background(), queue.ProveBlockID(n, cl.Version))
		if err != nil || msg.Queue != queue.ProveQueue(cl.UUID) {
			t.Fatalf("prove task of block %d = %+v %v", n, msg, err)
		}
	}
	if _, err := env.Coordinator.DB.OutboxMessage(context.Background(), queue.ProveBlockID(100, cl.Version)); err == nil {
		t.Fatal("block 100, recorded before the cluster existed, got a task for it")
	}
}
