package storage

import (
	"context"
	"database/sql"
	"sync"

	"github.com/jmoiron/sqlx"
)

// preparedStmts holds the statements of hot paths (the heartbeat write,
// the agent's identity read) prepared once, for SQLite only: modernc's
// driver caches no statements, and parsing a statement cost more than
// running it (about a fifth of a heartbeat's CPU). pgx caches prepared
// statements on each connection itself, so PostgreSQL needs none of this.
//
// A statement cannot be prepared inside a transaction for later ones (it
// would belong to that transaction), and preparing on SQLite's one writer
// connection from inside a transaction would wait for that connection
// forever. So a statement first runs unprepared and is noted as wanted;
// prepareWanted, called outside any transaction (by Batcher before each
// batch), prepares what was noted.
type preparedStmts struct {
	mu     sync.Mutex
	stmts  map[string]*sqlx.Stmt // rebound query → statement on the writer pool
	reads  map[string]*sqlx.Stmt // rebound query → statement on the read pool
	wanted map[string]bool
}

// writeStmt returns query prepared on the writer pool, or nil if it is not
// yet (then noting it as wanted).
func (p *preparedStmts) writeStmt(query string) *sqlx.Stmt {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.stmts[query]; s != nil {
		return s
	}
	if p.wanted == nil {
		p.wanted = map[string]bool{}
	}
	p.wanted[query] = true
	return nil
}

// prepareWanted prepares on d's writer pool the statements noted as
// wanted. It must not run inside a transaction of d. A statement that
// fails to prepare stays unprepared.
func (d *DB) prepareWanted(ctx context.Context) {
	p := &d.prepared
	p.mu.Lock()
	wanted := p.wanted
	p.wanted = nil
	p.mu.Unlock()
	for q := range wanted {
		s, err := d.wdb.PreparexContext(ctx, q)
		if err != nil {
			continue
		}
		p.mu.Lock()
		if p.stmts == nil {
			p.stmts = map[string]*sqlx.Stmt{}
		}
		if p.stmts[q] == nil {
			p.stmts[q] = s
			s = nil
		}
		p.mu.Unlock()
		if s != nil {
			s.Close()
		}
	}
}

// closePrepared closes the prepared statements.
func (d *DB) closePrepared() {
	p := &d.prepared
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.stmts {
		s.Close()
	}
	for _, s := range p.reads {
		s.Close()
	}
	p.stmts, p.reads = nil, nil
}

// execHot runs a statement of a hot write path: on a SQLite transaction
// through its prepared form once there is one, otherwise as execContext
// does.
func (c *conn) execHot(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if c.dialect != DialectSQLite || c.tx == nil {
		return execContext(ctx, c.w, query, args...)
	}
	q := c.w.Rebind(query)
	s := c.db.prepared.writeStmt(q)
	if s == nil {
		return c.w.ExecContext(ctx, q, bindArgs(c.w.DriverName(), args)...)
	}
	// The writer pool has one connection, the one this transaction holds,
	// on which s is prepared: StmtxContext reuses it without preparing.
	return c.tx.sqlTx.StmtxContext(ctx, s).ExecContext(ctx, bindArgs(c.w.DriverName(), args)...)
}

// queryHot runs a query of a hot path: inside a SQLite transaction
// through its prepared form once there is one (as execHot), otherwise on
// the conn's read executor.
func (c *conn) queryHot(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	if c.dialect != DialectSQLite || c.tx == nil {
		return c.r.QueryxContext(ctx, c.r.Rebind(query), bindArgs(c.r.DriverName(), args)...)
	}
	q := c.w.Rebind(query)
	s := c.db.prepared.writeStmt(q)
	if s == nil {
		return c.w.QueryxContext(ctx, q, bindArgs(c.w.DriverName(), args)...)
	}
	return c.tx.sqlTx.StmtxContext(ctx, s).QueryxContext(ctx, bindArgs(c.w.DriverName(), args)...)
}

// getHot runs a query of a hot read path outside a transaction: on SQLite
// through a statement prepared on the read pool, otherwise as getContext
// does.
func (c *conn) getHot(ctx context.Context, dest any, query string, args ...any) error {
	if c.dialect != DialectSQLite || c.tx != nil || c.db.ro == c.db.wdb {
		return getContext(ctx, c.r, dest, query, args...)
	}
	q := c.r.Rebind(query)
	p := &c.db.prepared
	p.mu.Lock()
	s := p.reads[q]
	p.mu.Unlock()
	if s == nil {
		// Reads need no care: the read pool's connections are not held
		// by a transaction of this DB.
		var err error
		if s, err = c.db.ro.PreparexContext(ctx, q); err != nil {
			return getContext(ctx, c.r, dest, query, args...)
		}
		p.mu.Lock()
		if p.reads == nil {
			p.reads = map[string]*sqlx.Stmt{}
		}
		if old := p.reads[q]; old != nil {
			s.Close()
			s = old
		} else {
			p.reads[q] = s
		}
		p.mu.Unlock()
	}
	return s.GetContext(ctx, dest, bindArgs(c.r.DriverName(), args)...)
}
