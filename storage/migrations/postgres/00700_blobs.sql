-- The blob store on PostgreSQL (blob.Postgres): replicas that share the
-- database share proofs, verification keys and benchmark files through it.
-- An object is split into chunks so that neither end holds it whole; a
-- Put writes a new generation and switches the object to it in one
-- transaction. SQLite has no such table: one node keeps its blobs in a
-- directory.

-- +goose Up
CREATE SEQUENCE blob_generation_seq;
CREATE TABLE blobs (
    key        text PRIMARY KEY,
    generation bigint NOT NULL,
    size_bytes bigint NOT NULL,
    chunks     integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE blob_chunks (
    key        text NOT NULL,
    generation bigint NOT NULL,
    seq        integer NOT NULL,
    data       bytea NOT NULL,
    PRIMARY KEY (key, generation, seq)
);

-- +goose Down
DROP TABLE blob_chunks;
DROP TABLE blobs;
DROP SEQUENCE blob_generation_seq;
