package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
)

// Psy user event transaction types, spelled as the Psy API spells them.
const (
	PsyTxRegisterUser    = "RegisterUser"
	PsyTxDeployContract  = "DeployContract"
	PsyTxUserTransaction = "UserTransaction"
)

// PsyUser is a user (worker) registered on the Psy surface with a signed
// registration.
type PsyUser struct {
	ID int64 `json:"id"`
	// PublicKey is the key as registered, lower-case 0x hex.
	PublicKey string `json:"public_key"`
	// KeyType is "ed25519" or "secp256k1".
	KeyType string `json:"key_type"`
	// Address is the Ethereum address of a secp256k1 key, else empty.
	Address       string    `json:"address,omitempty"`
	TwitterHandle string    `json:"twitter_handle"`
	Label         string    `json:"label"`
	CreatedAt     time.Time `json:"created_at"`
}

type psyUserRow struct {
	ID            int64  `db:"id"`
	PublicKey     string `db:"public_key"`
	KeyType       string `db:"key_type"`
	Address       string `db:"address"`
	TwitterHandle string `db:"twitter_handle"`
	Label         string `db:"label"`
	CreatedAt     dbTime `db:"created_at"`
}

func (r psyUserRow) user() PsyUser {
	return PsyUser{ID: r.ID, PublicKey: r.PublicKey, KeyType: r.KeyType, Address: r.Address,
		TwitterHandle: r.TwitterHandle, Label: r.Label, CreatedAt: r.CreatedAt.Time}
}

const psyUserColumns = `id, public_key, key_type, address, twitter_handle, label, created_at`

// CreatePsyUser stores u together with its RegisterUser user event (in
// checkpoint checkpointID) and returns it with its id. A public key or
// address registered already is ECONFLICT.
func (c *conn) CreatePsyUser(ctx context.Context, u PsyUser, checkpointID int64) (PsyUser, error) {
	err := c.inTx(ctx, func(tx *Tx) error {
		if u.Address != "" {
			taken, err := exists(ctx, tx.w, `SELECT 1 FROM psy_users WHERE address = ?`, u.Address)
			if err != nil {
				return fmt.Errorf("storage: look up psy user address: %w", err)
			} else if taken {
				return proofgrid.Errorf(proofgrid.ECONFLICT, "address %s is registered already", u.Address)
			}
		}
		err := getContext(ctx, tx.w, &u.ID,
			`INSERT INTO psy_users (public_key, key_type, address, twitter_handle, label, created_at)
			 VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			u.PublicKey, u.KeyType, u.Address, u.TwitterHandle, u.Label, u.CreatedAt)
		if isUniqueViolation(err) {
			return proofgrid.Errorf(proofgrid.ECONFLICT, "public key %s (or its address) is registered already", u.PublicKey)
		} else if err != nil {
			return fmt.Errorf("storage: insert psy user: %w", err)
		}
		id := strconv.FormatInt(u.ID, 10)
		_, err = tx.InsertPsyUserEvent(ctx, PsyUserEvent{
			Key: "register:" + id, UserID: id, PublicKey: u.PublicKey, TxType: PsyTxRegisterUser,
			CheckpointID: checkpointID, Timestamp: u.CreatedAt, CreatedAt: u.CreatedAt,
		})
		return err
	})
	u.CreatedAt = u.CreatedAt.UTC().Truncate(time.Microsecond)
	return u, err
}

// PsyUserByKey returns the user registered with publicKey (or, for
// secp256k1 users, with that address), or ENOTFOUND.
func (c *conn) PsyUserByKey(ctx context.Context, publicKey string) (PsyUser, error) {
	var r psyUserRow
	err := getContext(ctx, c.r, &r, `SELECT `+psyUserColumns+` FROM psy_users WHERE public_key = ?
		UNION ALL SELECT `+psyUserColumns+` FROM psy_users WHERE address = ? AND address <> '' LIMIT 1`, publicKey, publicKey)
	if errors.Is(err, sql.ErrNoRows) {
		return PsyUser{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "no user with public key %s", publicKey)
	} else if err != nil {
		return PsyUser{}, fmt.Errorf("storage: psy user: %w", err)
	}
	return r.user(), nil
}

// PsyUserEvent is one user transaction on the Psy network: a registration,
// a contract deployment or a plain transaction.
type PsyUserEvent struct {
	ID int64 `json:"id"`
	// Key makes recording idempotent: a second event with the same key is
	// not stored.
	Key          string    `json:"-"`
	UserID       string    `json:"user_id"`
	PublicKey    string    `json:"public_key"`
	TxType       string    `json:"tx_type"`
	CheckpointID int64     `json:"checkpoint_id"`
	Timestamp    time.Time `json:"timestamp"`
	CreatedAt    time.Time `json:"-"`
}

type psyUserEventRow struct {
	ID           int64  `db:"id"`
	Key          string `db:"event_key"`
	UserID       string `db:"user_id"`
	PublicKey    string `db:"public_key"`
	TxType       string `db:"tx_type"`
	CheckpointID int64  `db:"checkpoint_id"`
	Timestamp    dbTime `db:"timestamp"`
	CreatedAt    dbTime `db:"created_at"`
}

// ValidPsyTxType reports whether t is a known user event type.
func ValidPsyTxType(t string) bool {
	return t == PsyTxRegisterUser || t == PsyTxDeployContract || t == PsyTxUserTransaction
}

// InsertPsyUserEvent stores ev and tells whether it was new.
func (c *conn) InsertPsyUserEvent(ctx context.Context, ev PsyUserEvent) (bool, error) {
	switch {
	case strings.TrimSpace(ev.Key) == "":
		return false, proofgrid.Errorf(proofgrid.EINVALID, "user event has no key")
	case !ValidPsyTxType(ev.TxType):
		return false, proofgrid.Errorf(proofgrid.EINVALID, "user event %s: unknown tx_type %q", ev.Key, ev.TxType)
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = c.now()
	}
	res, err := execContext(ctx, c.w,
		`INSERT INTO psy_user_events (event_key, user_id, public_key, tx_type, checkpoint_id, timestamp, created_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_key) DO NOTHING`,
		ev.Key, ev.UserID, ev.PublicKey, ev.TxType, ev.CheckpointID, ev.Timestamp, ev.CreatedAt)
	if err != nil {
		return false, fmt.Errorf("storage: insert user event: %w", err)
	}
	n, err := rowsAffected(res)
	return n == 1, err
}

// PsyUserEventFilter selects user events. Zero fields select all.
type PsyUserEventFilter struct {
	UserID     string
	TxType     string
	Start, End *time.Time // inclusive bounds on timestamp
	Limit      int
	Offset     int
	Ascending  bool
}

// PsyUserEvents returns the user events f selects, by timestamp (newest
// first unless Ascending), then id.
func (c *conn) PsyUserEvents(ctx context.Context, f PsyUserEventFilter) ([]PsyUserEvent, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	if f.UserID != "" {
		add("user_id = ?", f.UserID)
	}
	if f.TxType != "" {
		add("tx_type = ?", f.TxType)
	}
	if f.Start != nil {
		add("timestamp >= ?", *f.Start)
	}
	if f.End != nil {
		add("timestamp <= ?", *f.End)
	}
	q := `SELECT id, event_key, user_id, public_key, tx_type, checkpoint_id, timestamp, created_at FROM psy_user_events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	order := "DESC"
	if f.Ascending {
		order = "ASC"
	}
	q += " ORDER BY timestamp " + order + ", id " + order + " LIMIT ? OFFSET ?"
	args = append(args, listLimit(f.Limit), max(f.Offset, 0))
	var rows []psyUserEventRow
	if err := selectContext(ctx, c.r, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("storage: list user events: %w", err)
	}
	out := make([]PsyUserEvent, 0, len(rows))
	for _, r := range rows {
		out = append(out, PsyUserEvent{ID: r.ID, Key: r.Key, UserID: r.UserID, PublicKey: r.PublicKey, TxType: r.TxType,
			CheckpointID: r.CheckpointID, Timestamp: r.Timestamp.Time, CreatedAt: r.CreatedAt.Time})
	}
	return out, nil
}

// listLimit is the row cap of list queries: 300 when unset.
func listLimit(n int) int {
	if n <= 0 {
		return 300
	}
	return n
}

// PsyContractFunction is one callable function of a deployed contract.
type PsyContractFunction struct {
	Name        string `json:"name"`
	MethodID    int64  `json:"method_id"`
	Description string `json:"description"`
}

// PsyContract is a contract deployed on the Psy network.
type PsyContract struct {
	UUID            string                `json:"uuid"`
	Deployer        string                `json:"deployer"`
	StateTreeHeight int64                 `json:"state_tree_height"`
	Functions       []PsyContractFunction `json:"functions"`
	Description     string                `json:"description"`
	DeployedAt      time.Time             `json:"deployed_at"`
	CreatedAt       time.Time             `json:"created_at"`
}

type psyContractRow struct {
	UUID            string `db:"uuid"`
	Deployer        string `db:"deployer"`
	StateTreeHeight int64  `db:"state_tree_height"`
	Functions       string `db:"functions"`
	Description     string `db:"description"`
	DeployedAt      dbTime `db:"deployed_at"`
	CreatedAt       dbTime `db:"created_at"`
}

func (r psyContractRow) contract() (PsyContract, error) {
	c := PsyContract{UUID: r.UUID, Deployer: r.Deployer, StateTreeHeight: r.StateTreeHeight, Description: r.Description,
		DeployedAt: r.DeployedAt.Time, CreatedAt: r.CreatedAt.Time}
	if err := json.Unmarshal([]byte(r.Functions), &c.Functions); err != nil {
		return c, fmt.Errorf("storage: contract %s functions: %w", r.UUID, err)
	}
	if c.Functions == nil {
		c.Functions = []PsyContractFunction{}
	}
	return c, nil
}

const psyContractColumns = `uuid, deployer, state_tree_height, functions, description, deployed_at, created_at`

// UpsertPsyContract stores pc, replacing the metadata of a contract with
// the same UUID, and tells whether it was new.
func (c *conn) UpsertPsyContract(ctx context.Context, pc PsyContract) (created bool, _ error) {
	fns := pc.Functions
	if fns == nil {
		fns = []PsyContractFunction{}
	}
	b, err := json.Marshal(fns)
	if err != nil {
		return false, fmt.Errorf("storage: encode contract functions: %w", err)
	}
	err = c.inTx(ctx, func(tx *Tx) error {
		known, err := exists(ctx, tx.w, `SELECT 1 FROM psy_contracts WHERE uuid = ?`, pc.UUID)
		if err != nil {
			return fmt.Errorf("storage: look up contract: %w", err)
		}
		_, err = execContext(ctx, tx.w,
			`INSERT INTO psy_contracts (uuid, deployer, state_tree_height, functions, description, deployed_at, created_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (uuid) DO UPDATE SET deployer = excluded.deployer, state_tree_height = excluded.state_tree_height,
			   functions = excluded.functions, description = excluded.description, deployed_at = excluded.deployed_at`,
			pc.UUID, pc.Deployer, pc.StateTreeHeight, string(b), pc.Description, pc.DeployedAt, pc.CreatedAt)
		if err != nil {
			return fmt.Errorf("storage: upsert contract: %w", err)
		}
		created = !known
		return nil
	})
	return created, err
}

// PsyContracts returns contracts, newest deployment first, optionally of
// one deployer.
func (c *conn) PsyContracts(ctx context.Context, deployer string, limit, offset int) ([]PsyContract, error) {
	q := `SELECT ` + psyContractColumns + ` FROM psy_contracts`
	var args []any
	if deployer != "" {
		q += ` WHERE deployer = ?`
		args = append(args, deployer)
	}
	q += ` ORDER BY deployed_at DESC, uuid LIMIT ? OFFSET ?`
	args = append(args, listLimit(limit), max(offset, 0))
	var rows []psyContractRow
	if err := selectContext(ctx, c.r, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("storage: list contracts: %w", err)
	}
	out := make([]PsyContract, 0, len(rows))
	for _, r := range rows {
		pc, err := r.contract()
		if err != nil {
			return nil, err
		}
		out = append(out, pc)
	}
	return out, nil
}

// PsyContract returns the contract uuid, or ENOTFOUND.
func (c *conn) PsyContract(ctx context.Context, uuid string) (PsyContract, error) {
	var r psyContractRow
	err := getContext(ctx, c.r, &r, `SELECT `+psyContractColumns+` FROM psy_contracts WHERE uuid = ?`, uuid)
	if errors.Is(err, sql.ErrNoRows) {
		return PsyContract{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "no contract %q", uuid)
	} else if err != nil {
		return PsyContract{}, fmt.Errorf("storage: contract: %w", err)
	}
	return r.contract()
}
