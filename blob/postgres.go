package blob

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"

	"github.com/proofgrid/proofgrid"
)

// ChunkSize is how many bytes of an object one row of the PostgreSQL store
// holds.
const ChunkSize = 1 << 20

// Postgres is a Store in the tables blobs and blob_chunks of a PostgreSQL
// database (created by the storage package's migrations), so that every
// coordinator replica of that database sees every object.
//
// An object is stored in chunks of ChunkSize under a generation number. Put
// writes a new generation and points the object at it in one transaction,
// so a reader sees the old object or the new one, never a mix: a reader
// still streaming an object that is replaced under it gets an error
// instead of the rest of the old one.
type Postgres struct {
	db *sql.DB
}

var _ Store = (*Postgres)(nil)

// NewPostgres returns a store on db, a pgx connection pool whose schema
// has been migrated.
func NewPostgres(db *sql.DB) (*Postgres, error) {
	if db == nil {
		return nil, errors.New("blob: no database")
	}
	return &Postgres{db: db}, nil
}

// Put streams r into chunks of a new generation and switches key to it.
func (p *Postgres) Put(ctx context.Context, key string, r io.Reader) (n int64, err error) {
	if !ValidKey(key) {
		return 0, proofgrid.Errorf(proofgrid.EINVALID, "invalid blob key %q", key)
	}
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("blob: put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var gen int64
	if err := tx.QueryRowContext(ctx, `SELECT nextval('blob_generation_seq')`).Scan(&gen); err != nil {
		return 0, fmt.Errorf("blob: put %s: %w", key, err)
	}
	buf := make([]byte, ChunkSize)
	var seq int
	for {
		k, rerr := io.ReadFull(r, buf)
		if k > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO blob_chunks (key, generation, seq, data) VALUES ($1, $2, $3, $4)`,
				key, gen, seq, buf[:k]); err != nil {
				return 0, fmt.Errorf("blob: put %s: %w", key, err)
			}
			seq++
			n += int64(k)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		} else if rerr != nil {
			return 0, fmt.Errorf("blob: put %s: %w", key, rerr)
		}
	}
	// The upsert takes the object's row lock, so concurrent Puts of one
	// key commit one after the other and the last one wins whole.
	if _, err := tx.ExecContext(ctx, `INSERT INTO blobs (key, generation, size_bytes, chunks, updated_at)
		VALUES ($1, $2, $3, $4, now())
		ON CONFLICT (key) DO UPDATE SET generation = excluded.generation, size_bytes = excluded.size_bytes,
			chunks = excluded.chunks, updated_at = excluded.updated_at`, key, gen, n, seq); err != nil {
		return 0, fmt.Errorf("blob: put %s: %w", key, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM blob_chunks WHERE key = $1 AND generation <> $2`, key, gen); err != nil {
		return 0, fmt.Errorf("blob: put %s: %w", key, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("blob: put %s: %w", key, err)
	}
	return n, nil
}

// Open reads the object's first chunk with its header and the others as
// the caller reads on.
func (p *Postgres) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if !ValidKey(key) {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "invalid blob key %q", key)
	}
	r := &pgReader{ctx: ctx, db: p.db, key: key}
	var first []byte
	err := p.db.QueryRowContext(ctx, `SELECT b.generation, b.chunks, c.data FROM blobs b
		LEFT JOIN blob_chunks c ON c.key = b.key AND c.generation = b.generation AND c.seq = 0
		WHERE b.key = $1`, key).Scan(&r.gen, &r.chunks, &first)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, proofgrid.Errorf(proofgrid.ENOTFOUND, "object %s not found", key)
	} else if err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", key, err)
	}
	if r.chunks > 0 {
		if first == nil {
			return nil, fmt.Errorf("blob: open %s: %w", key, errReplaced)
		}
		r.cur.Reset(first)
		r.next = 1
	}
	return r, nil
}

// Delete removes the object and its chunks.
func (p *Postgres) Delete(ctx context.Context, key string) error {
	if !ValidKey(key) {
		return proofgrid.Errorf(proofgrid.EINVALID, "invalid blob key %q", key)
	}
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE key = $1`, key); err != nil {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM blob_chunks WHERE key = $1`, key); err != nil {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	return nil
}

var errReplaced = errors.New("the object was replaced or deleted while being read")

// pgReader streams one generation of an object, a chunk per query.
type pgReader struct {
	ctx    context.Context
	db     *sql.DB
	key    string
	gen    int64
	chunks int
	next   int
	cur    bytes.Reader
}

func (r *pgReader) Read(b []byte) (int, error) {
	for r.cur.Len() == 0 {
		if r.next >= r.chunks {
			return 0, io.EOF
		}
		var data []byte
		err := r.db.QueryRowContext(r.ctx, `SELECT data FROM blob_chunks WHERE key = $1 AND generation = $2 AND seq = $3`,
			r.key, r.gen, r.next).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("blob: read %s: %w", r.key, errReplaced)
		} else if err != nil {
			return 0, fmt.Errorf("blob: read %s: %w", r.key, err)
		}
		r.cur.Reset(data)
		r.next++
	}
	return r.cur.Read(b)
}

func (r *pgReader) Close() error { return nil }
