-- The reward ledger and its Merkle epochs. Every reward source (Pool
-- windows, Psy checkpoints, admin grants) writes ledger_entries once per
-- entry_key. An epoch publishes the cumulative amount of every account up
-- to its cut-off as an OpenZeppelin StandardMerkleTree: its leaves, and its
-- nodes in chunks so that a proof reads O(log n) small rows. Amounts are
-- base units as decimal TEXT (they exceed 64 bits); sums are made in Go.

-- +goose Up
CREATE TABLE ledger_entries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_key     TEXT    NOT NULL UNIQUE,
    source        TEXT    NOT NULL,
    account       TEXT    NOT NULL,
    account_bytes BLOB    NOT NULL CHECK (length(account_bytes) = 32),
    amount        TEXT    NOT NULL,
    reason        TEXT    NOT NULL DEFAULT '',
    created_at    TEXT    NOT NULL
) STRICT;
CREATE INDEX ledger_entries_account_idx ON ledger_entries (account_bytes, created_at);
CREATE INDEX ledger_entries_created_idx ON ledger_entries (created_at);

CREATE TABLE ledger_epochs (
    id           INTEGER PRIMARY KEY,
    cutoff       TEXT    NOT NULL UNIQUE,
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'published')),
    root         BLOB,
    leaf_count   INTEGER NOT NULL DEFAULT 0,
    entry_count  INTEGER NOT NULL DEFAULT 0,
    total_units  TEXT    NOT NULL DEFAULT '0',
    new_units    TEXT    NOT NULL DEFAULT '0',
    node_count   INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT    NOT NULL,
    published_at TEXT
) STRICT;

CREATE TABLE ledger_epoch_leaves (
    epoch_id        INTEGER NOT NULL REFERENCES ledger_epochs (id),
    account_bytes   BLOB    NOT NULL,
    account         TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    recipient_bytes BLOB    NOT NULL,
    amount          TEXT    NOT NULL,
    tree_index      INTEGER NOT NULL,
    PRIMARY KEY (epoch_id, account_bytes)
) STRICT, WITHOUT ROWID;

CREATE TABLE ledger_epoch_nodes (
    epoch_id INTEGER NOT NULL REFERENCES ledger_epochs (id),
    chunk    INTEGER NOT NULL,
    nodes    BLOB    NOT NULL,
    PRIMARY KEY (epoch_id, chunk)
) STRICT;

CREATE TABLE ledger_claims (
    account_bytes BLOB    PRIMARY KEY,
    claimed       TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
) STRICT;

CREATE TABLE ledger_claim_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    epoch_id      INTEGER NOT NULL REFERENCES ledger_epochs (id),
    account       TEXT    NOT NULL,
    account_bytes BLOB    NOT NULL,
    recipient     TEXT    NOT NULL,
    amount        TEXT    NOT NULL,
    paid          TEXT    NOT NULL,
    created_at    TEXT    NOT NULL
) STRICT;
CREATE INDEX ledger_claim_events_epoch_idx ON ledger_claim_events (epoch_id, id);

-- +goose Down
DROP TABLE ledger_claim_events;
DROP TABLE ledger_claims;
DROP TABLE ledger_epoch_nodes;
DROP TABLE ledger_epoch_leaves;
DROP TABLE ledger_epochs;
DROP TABLE ledger_entries;
