package pool

import (
	"context"
	"math/big"
	"strconv"
	"sync"
	"time"
)

// Ledger receives the credits of each reward window. The claims ledger
// implements it; Credit must be idempotent by Credit.Key, because a window
// whose hand-over failed is handed over again, whole.
type Ledger interface {
	Credit(ctx context.Context, credits []Credit) error
}

// Credit is one amount owed to one account.
type Credit struct {
	// Key makes crediting idempotent: "pool:window:<start unix>:<hotkey>".
	Key string
	// Account is the SS58 hotkey credited.
	Account string
	// Amount is in base units, positive.
	Amount *big.Int
	// Reason says what the credit pays for, e.g. "pool window 2024-01-01T10:00:00Z".
	Reason string
}

// CreditKey is the idempotency key of a miner's credit for the window
// starting at start.
func CreditKey(start time.Time, hotkey string) string {
	return "pool:window:" + strconv.FormatInt(start.Unix(), 10) + ":" + hotkey
}

// MemoryLedger is a Ledger in memory, for tests: it keeps the first credit
// of each key.
type MemoryLedger struct {
	mu      sync.Mutex
	credits []Credit
	keys    map[string]bool
	// Fail, when set, is returned by Credit instead of crediting.
	Fail error
}

// Credit implements Ledger.
func (l *MemoryLedger) Credit(_ context.Context, credits []Credit) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Fail != nil {
		return l.Fail
	}
	if l.keys == nil {
		l.keys = map[string]bool{}
	}
	for _, c := range credits {
		if l.keys[c.Key] {
			continue
		}
		l.keys[c.Key] = true
		c.Amount = new(big.Int).Set(c.Amount)
		l.credits = append(l.credits, c)
	}
	return nil
}

// Credits returns what was credited, in order.
func (l *MemoryLedger) Credits() []Credit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Credit(nil), l.credits...)
}
