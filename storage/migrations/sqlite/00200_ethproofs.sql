-- Ethproofs pipeline: the zkVM catalogue, prover clusters and their
-- versions, blocks, proofs (one per block and cluster version), verifier
-- programs and CSP benchmark files. Proof bytes and benchmark files live in
-- the blob store; rows keep their keys. Booleans are INTEGER 0/1.

-- +goose Up
CREATE TABLE zkvms (
    id         INTEGER NOT NULL PRIMARY KEY,
    slug       TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    isa        TEXT    NOT NULL,
    team_uuid  TEXT    NOT NULL,
    repo_url   TEXT    NOT NULL DEFAULT '',
    created_at TEXT    NOT NULL
) STRICT;

CREATE TABLE zkvm_versions (
    id         INTEGER NOT NULL PRIMARY KEY,
    zkvm_id    INTEGER NOT NULL REFERENCES zkvms (id),
    version    TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    UNIQUE (zkvm_id, version)
) STRICT;

CREATE TABLE clusters (
    id                   TEXT    NOT NULL PRIMARY KEY,
    team_id              INTEGER NOT NULL REFERENCES teams (id),
    idx                  INTEGER NOT NULL,
    name                 TEXT    NOT NULL,
    num_gpus             INTEGER NOT NULL,
    hardware_description TEXT,
    deployment_type      TEXT    NOT NULL CHECK (deployment_type IN ('cloud-hosted', 'on-prem')),
    is_active            INTEGER NOT NULL CHECK (is_active IN (0, 1)),
    is_open_source       INTEGER NOT NULL DEFAULT 0 CHECK (is_open_source IN (0, 1)),
    software_link        TEXT,
    created_at           TEXT    NOT NULL,
    updated_at           TEXT    NOT NULL,
    UNIQUE (team_id, idx)
) STRICT;

CREATE TABLE cluster_versions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster_id      TEXT    NOT NULL REFERENCES clusters (id),
    idx             INTEGER NOT NULL,
    zkvm_version_id INTEGER NOT NULL REFERENCES zkvm_versions (id),
    vk_path         TEXT,
    is_active       INTEGER NOT NULL CHECK (is_active IN (0, 1)),
    created_at      TEXT    NOT NULL,
    UNIQUE (cluster_id, idx)
) STRICT;

CREATE TABLE blocks (
    block_number      INTEGER NOT NULL PRIMARY KEY,
    hash              TEXT UNIQUE,
    timestamp         TEXT,
    gas_used          INTEGER,
    transaction_count INTEGER,
    -- scheduled_at is set once proving tasks were written for the block;
    -- a block first mentioned by a proof report has none yet.
    scheduled_at      TEXT,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL
) STRICT;

CREATE TABLE programs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    verifier_id TEXT    NOT NULL UNIQUE,
    created_at  TEXT    NOT NULL
) STRICT;

CREATE TABLE proofs (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    block_number        INTEGER NOT NULL REFERENCES blocks (block_number),
    cluster_version_id  INTEGER NOT NULL REFERENCES cluster_versions (id),
    cluster_id          TEXT    NOT NULL REFERENCES clusters (id),
    team_id             INTEGER NOT NULL REFERENCES teams (id),
    status              TEXT    NOT NULL CHECK (status IN ('queued', 'proving', 'proved')),
    proving_cycles      INTEGER,
    proving_time_ms     INTEGER,
    size_bytes          INTEGER,
    verifier_id         TEXT,
    program_id          INTEGER REFERENCES programs (id),
    blob_key            TEXT,
    proof_sha256        TEXT,
    submitted_by        TEXT    NOT NULL DEFAULT '',
    worker_key          TEXT    NOT NULL DEFAULT '',
    queued_at           TEXT,
    proving_at          TEXT,
    proved_at           TEXT,
    verification        TEXT CHECK (verification IN ('valid', 'invalid', 'cannot_verify')),
    verification_reason TEXT    NOT NULL DEFAULT '',
    verification_ms     REAL,
    verified_at         TEXT,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    UNIQUE (block_number, cluster_version_id)
) STRICT;

CREATE INDEX proofs_cluster_id_status_idx ON proofs (cluster_id, status, proved_at);
CREATE INDEX proofs_cluster_version_id_idx ON proofs (cluster_version_id);

CREATE TABLE csp_benchmarks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    blob_key   TEXT    NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256     TEXT    NOT NULL,
    team_id    INTEGER REFERENCES teams (id),
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
) STRICT;

-- +goose Down
DROP TABLE csp_benchmarks;
DROP TABLE proofs;
DROP TABLE programs;
DROP TABLE blocks;
DROP TABLE cluster_versions;
DROP TABLE clusters;
DROP TABLE zkvm_versions;
DROP TABLE zkvms;
