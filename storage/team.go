package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
)

// Team owns machines and API tokens.
type Team struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

type teamRow struct {
	ID        int64  `db:"id"`
	Name      string `db:"name"`
	CreatedAt dbTime `db:"created_at"`
}

func (r teamRow) team() Team {
	return Team{ID: r.ID, Name: r.Name, CreatedAt: r.CreatedAt.Time}
}

const teamColumns = `id, name, created_at`

// CreateTeam stores a new team. A name already taken is ECONFLICT.
func (c *conn) CreateTeam(ctx context.Context, name string) (Team, error) {
	if strings.TrimSpace(name) == "" {
		return Team{}, proofgrid.Errorf(proofgrid.EINVALID, "team name is empty")
	}
	var r teamRow
	err := getContext(ctx, c.w, &r,
		`INSERT INTO teams (name, created_at) VALUES (?, ?) RETURNING `+teamColumns,
		name, c.now())
	if isUniqueViolation(err) {
		return Team{}, proofgrid.Errorf(proofgrid.ECONFLICT, "team %q already exists", name)
	} else if err != nil {
		return Team{}, fmt.Errorf("storage: create team: %w", err)
	}
	return r.team(), nil
}

// EnsureTeam returns the team called name, creating it if there is none.
// Concurrent calls with the same name all return the same team.
func (c *conn) EnsureTeam(ctx context.Context, name string) (Team, error) {
	if strings.TrimSpace(name) == "" {
		return Team{}, proofgrid.Errorf(proofgrid.EINVALID, "team name is empty")
	}
	// ON CONFLICT DO NOTHING instead of read-then-insert: a concurrent
	// creator cannot make this fail, and the follow-up read sees its row
	// because the conflict is only reported once that row is committed.
	var r teamRow
	err := getContext(ctx, c.w, &r,
		`INSERT INTO teams (name, created_at) VALUES (?, ?)
		 ON CONFLICT (name) DO NOTHING RETURNING `+teamColumns,
		name, c.now())
	if errors.Is(err, sql.ErrNoRows) {
		return c.TeamByName(ctx, name)
	} else if err != nil {
		return Team{}, fmt.Errorf("storage: ensure team: %w", err)
	}
	return r.team(), nil
}

// TeamByID returns the team with the given id, or ENOTFOUND.
func (c *conn) TeamByID(ctx context.Context, id int64) (Team, error) {
	var r teamRow
	err := getContext(ctx, c.r, &r, `SELECT `+teamColumns+` FROM teams WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Team{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "team %d not found", id)
	} else if err != nil {
		return Team{}, fmt.Errorf("storage: team by id: %w", err)
	}
	return r.team(), nil
}

// TeamByName returns the team called name, or ENOTFOUND.
func (c *conn) TeamByName(ctx context.Context, name string) (Team, error) {
	var r teamRow
	err := getContext(ctx, c.r, &r, `SELECT `+teamColumns+` FROM teams WHERE name = ?`, name)
	if errors.Is(err, sql.ErrNoRows) {
		return Team{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "team %q not found", name)
	} else if err != nil {
		return Team{}, fmt.Errorf("storage: team by name: %w", err)
	}
	return r.team(), nil
}
