package claims

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/merkle"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
)

// RecipientsFunc returns the payout recipient set for each of accounts
// (native text forms), keyed by account; an account it leaves out is paid
// to itself. The Pool provides one that reads miners' recipient coldkeys.
type RecipientsFunc func(ctx context.Context, accounts []string) (map[string]string, error)

// EpochConfig configures Epochs. Zero values mean defaults.
type EpochConfig struct {
	// Length is how often the merkle:epoch periodic task closes an epoch
	// (default 24 h).
	Length time.Duration
	// Recipients fixes each account's recipient when an epoch is
	// published (default: every account is its own recipient).
	Recipients RecipientsFunc
	Now        func() time.Time
	Logger     *slog.Logger
}

// Epochs closes ledger epochs and publishes their trees.
type Epochs struct {
	db  *storage.DB
	cfg EpochConfig
}

// NewEpochs returns Epochs on db.
func NewEpochs(db *storage.DB, cfg EpochConfig) *Epochs {
	if cfg.Length <= 0 {
		cfg.Length = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Epochs{db: db, cfg: cfg}
}

// Config returns the resolved configuration.
func (e *Epochs) Config() EpochConfig { return e.cfg }

// Cut opens the epoch that ends at cutoff and enqueues its merkle:epoch
// task in the same transaction. It reports false, and opens nothing, when
// no entry was made since the latest epoch (an epoch with no new entries
// would publish the same amounts again) or when cutoff is not after it.
// An epoch with this cut-off exists already: Cut returns it, so closers of
// the same cut-off (replicas, a retried task) share one epoch.
func (e *Epochs) Cut(ctx context.Context, cutoff time.Time) (storage.LedgerEpoch, bool, error) {
	cutoff = cutoff.UTC().Truncate(time.Microsecond)
	var out storage.LedgerEpoch
	opened := false
	err := e.db.InTx(ctx, func(tx *storage.Tx) error {
		if err := tx.LockLedgerEpochs(ctx); err != nil {
			return err
		}
		same, err := tx.LedgerEpochByCutoff(ctx, cutoff)
		if err == nil {
			out, opened = same, true
			return nil
		} else if proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			return err
		}
		latest, err := tx.LatestLedgerEpoch(ctx)
		if err != nil && proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			return err
		}
		if latest.ID > 0 && !cutoff.After(latest.Cutoff) {
			return nil
		}
		// Entries are never deleted, so more entries up to the cut-off
		// than the latest epoch covered means new ones, including any that
		// committed late with a time before that epoch's cut-off.
		n, err := tx.LedgerEntryCount(ctx, cutoff)
		if err != nil {
			return err
		}
		if n == 0 || n <= latest.EntryCount {
			return nil
		}
		out = storage.LedgerEpoch{ID: latest.ID + 1, Cutoff: cutoff, EntryCount: n, Status: storage.LedgerEpochPending, CreatedAt: e.cfg.Now()}
		if err := tx.InsertLedgerEpoch(ctx, out); err != nil {
			return err
		}
		opened = true
		return tx.Enqueue(ctx, queue.MerkleEpoch(queue.MerkleEpochPayload{EpochID: out.ID}))
	})
	return out, opened, err
}

// Close cuts the epoch ending at cutoff and publishes it at once (the
// admin route, `coordinator epoch close` and the periodic task). It reports
// false when there was nothing new to publish.
func (e *Epochs) Close(ctx context.Context, cutoff time.Time) (storage.LedgerEpoch, bool, error) {
	ep, ok, err := e.Cut(ctx, cutoff)
	if err != nil || !ok {
		return ep, ok, err
	}
	ep, err = e.Publish(ctx, ep.ID)
	return ep, err == nil, err
}

// Publish builds and stores the tree of epoch id: the cumulative amount of
// every account credited up to its cut-off, paid to the recipient fixed
// now. Publishing an epoch published already returns it unchanged, so the
// task is idempotent and two replicas publish one tree.
func (e *Epochs) Publish(ctx context.Context, id int64) (storage.LedgerEpoch, error) {
	ep, err := e.db.LedgerEpoch(ctx, id)
	if err != nil || ep.Status == storage.LedgerEpochPublished {
		return ep, err
	}
	start := time.Now()
	balances, err := e.db.LedgerBalances(ctx, ep.Cutoff)
	if err != nil {
		return ep, err
	}
	if len(balances) == 0 {
		return ep, proofgrid.Errorf(proofgrid.ECONFLICT, "epoch %d has no ledger entries", id)
	}
	recipients := map[string]string{}
	if e.cfg.Recipients != nil {
		names := make([]string, len(balances))
		for i, b := range balances {
			names[i] = b.Account
		}
		if recipients, err = e.cfg.Recipients(ctx, names); err != nil {
			return ep, fmt.Errorf("recipients of epoch %d: %w", id, err)
		}
	}
	claims := make([]merkle.Claim, len(balances))
	leaves := make([]storage.LedgerLeaf, len(balances))
	total := new(big.Int)
	for i, b := range balances {
		rcpt := Account{Text: b.Account, Bytes: b.AccountBytes}
		if r, ok := recipients[b.Account]; ok && r != "" {
			if a, err := ParseAccount(r); err == nil {
				rcpt = a
			} else {
				e.cfg.Logger.Warn("recipient is not an account; paying the account itself", "account", b.Account, "recipient", r)
			}
		}
		claims[i] = merkle.Claim{Epoch: uint64(id), Account: b.AccountBytes, Recipient: rcpt.Bytes, Amount: b.Amount}
		leaves[i] = storage.LedgerLeaf{EpochID: id, Account: b.Account, AccountBytes: b.AccountBytes, Recipient: rcpt.Text,
			RecipientBytes: rcpt.Bytes, Amount: b.Amount}
		total.Add(total, b.Amount)
	}
	tree, err := merkle.Build(claims)
	if err != nil {
		return ep, err
	}
	for i := range leaves {
		leaves[i].TreeIndex = tree.Index[i]
	}
	added := new(big.Int).Set(total)
	if id > 1 {
		prev, err := e.db.LedgerEpoch(ctx, id-1)
		if err != nil {
			return ep, err
		}
		added.Sub(added, prev.TotalUnits)
	}
	published, err := e.db.PublishLedgerEpoch(ctx, storage.LedgerPublication{EpochID: id, Root: tree.Root(), Leaves: leaves,
		Nodes: tree.Nodes, EntryCount: ep.EntryCount, TotalUnits: total, NewUnits: added, PublishedAt: e.cfg.Now()})
	if err != nil {
		return ep, err
	}
	if published {
		e.cfg.Logger.Info("epoch published", "epoch_id", id, "leaves", len(leaves), "root", merkle.Hex(tree.Root()),
			"total_units", total.String(), "duration_ms", time.Since(start).Milliseconds())
	}
	return e.db.LedgerEpoch(ctx, id)
}

// Run runs one merkle:epoch task: the periodic run of a window closes the
// epoch that ends where the window starts; a run for an epoch id (the
// outbox of Cut) publishes that epoch.
func (e *Epochs) Run(ctx context.Context, epochID int64, window time.Time) (storage.LedgerEpoch, bool, error) {
	if epochID > 0 {
		ep, err := e.Publish(ctx, epochID)
		return ep, err == nil, err
	}
	return e.Close(ctx, window)
}
