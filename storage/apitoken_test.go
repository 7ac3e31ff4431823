package storage_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

func TestAPITokenLifecycle(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "alpha")
		const token = "pg_0123456789abcdef0123456789abcdef"
		created, err := db.CreateAPIToken(ctx, storage.APIToken{
			TeamID: team.ID, Mode: storage.TokenModeWrite, Label: "ci", Prefix: token[:10], Hash: tokenHash(token),
		})
		if err != nil {
			t.Fatalf("CreateAPIToken: %v", err)
		}
		if created.ID <= 0 || created.TeamID != team.ID || created.Mode != "write" || created.Label != "ci" ||
			created.Prefix != "pg_0123456" || created.Hash != tokenHash(token) ||
			created.CreatedAt.IsZero() || created.LastUsedAt != nil || created.RevokedAt != nil {
			t.Fatalf("created = %+v", created)
		}

		got, err := db.APITokenByHash(ctx, tokenHash(token))
		if err != nil || got.ID != created.ID || !got.CreatedAt.Equal(created.CreatedAt) || got.Mode != created.Mode {
			t.Fatalf("APITokenByHash = %+v, %v; want %+v", got, err, created)
		}
		_, err = db.APITokenByHash(ctx, tokenHash("pg_other"))
		wantCode(t, err, proofgrid.ENOTFOUND)

		// Touch moves last_used_at forward only.
		used := base.Add(time.Hour)
		if err := db.TouchAPIToken(ctx, created.ID, used); err != nil {
			t.Fatalf("TouchAPIToken: %v", err)
		}
		if err := db.TouchAPIToken(ctx, created.ID, base); err != nil {
			t.Fatalf("TouchAPIToken (older): %v", err)
		}
		got, _ = db.APITokenByHash(ctx, tokenHash(token))
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(stored(used)) {
			t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, stored(used))
		}
		wantCode(t, db.TouchAPIToken(ctx, created.ID+1000, used), proofgrid.ENOTFOUND)

		// A revoked token no longer authenticates; revoking twice is fine.
		if err := db.RevokeAPIToken(ctx, created.ID); err != nil {
			t.Fatalf("RevokeAPIToken: %v", err)
		}
		_, err = db.APITokenByHash(ctx, tokenHash(token))
		wantCode(t, err, proofgrid.ENOTFOUND)
		if err := db.RevokeAPIToken(ctx, created.ID); err != nil {
			t.Errorf("second RevokeAPIToken: %v", err)
		}
		wantCode(t, db.RevokeAPIToken(ctx, created.ID+1000), proofgrid.ENOTFOUND)
	})
}

func TestCreateAPITokenErrors(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "alpha")
		ok := storage.APIToken{TeamID: team.ID, Mode: storage.TokenModeRead, Prefix: "pg_abc", Hash: tokenHash("pg_abc")}
		if _, err := db.CreateAPIToken(ctx, ok); err != nil {
			t.Fatal(err)
		}
		_, err := db.CreateAPIToken(ctx, ok)
		wantCode(t, err, proofgrid.ECONFLICT)

		bad := ok
		bad.Hash = tokenHash("pg_other")
		bad.Mode = "owner"
		_, err = db.CreateAPIToken(ctx, bad)
		wantCode(t, err, proofgrid.EINVALID)

		for _, hash := range []string{"", "pg_abc", strings.ToUpper(tokenHash("x")), tokenHash("x")[:62]} {
			bad := ok
			bad.Hash = hash
			_, err = db.CreateAPIToken(ctx, bad)
			wantCode(t, err, proofgrid.EINVALID)
		}

		bad = ok
		bad.Hash = tokenHash("pg_other")
		bad.TeamID = team.ID + 1000
		_, err = db.CreateAPIToken(ctx, bad)
		wantCode(t, err, proofgrid.ENOTFOUND)
	})
}

func TestOperatorTokens(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "ops")
		op, err := db.CreateAPIToken(ctx, storage.APIToken{
			TeamID: team.ID, Mode: storage.TokenModeAdmin, Prefix: "pgo_abc", Hash: tokenHash("pgo_abc"), Operator: true,
		})
		if err != nil || !op.Operator {
			t.Fatalf("CreateAPIToken(operator) = %+v, %v", op, err)
		}
		admin, err := db.CreateAPIToken(ctx, storage.APIToken{
			TeamID: team.ID, Mode: storage.TokenModeAdmin, Prefix: "pg_abc", Hash: tokenHash("pg_abc"),
		})
		if err != nil || admin.Operator {
			t.Fatalf("CreateAPIToken(admin) = %+v, %v", admin, err)
		}
		if got, err := db.APITokenByHash(ctx, tokenHash("pgo_abc")); err != nil || !got.Operator || got.ID != op.ID {
			t.Fatalf("APITokenByHash(operator) = %+v, %v", got, err)
		}
		if got, err := db.APITokenByHash(ctx, tokenHash("pg_abc")); err != nil || got.Operator {
			t.Fatalf("APITokenByHash(admin) = %+v, %v", got, err)
		}
		for _, mode := range []string{storage.TokenModeRead, storage.TokenModeWrite} {
			_, err := db.CreateAPIToken(ctx, storage.APIToken{
				TeamID: team.ID, Mode: mode, Prefix: "pgo_" + mode, Hash: tokenHash("pgo_" + mode), Operator: true,
			})
			wantCode(t, err, proofgrid.EINVALID)
		}
	})
}

// TestMigrateAppliesEarlierVersions checks that a migration numbered
// below versions a database already has (00002 after 00300) is applied,
// as the range numbering of the migrations needs.
func TestMigrateAppliesEarlierVersions(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		// Take the database back to before 00002, keeping the later ones.
		err := db.InTx(ctx, func(tx *storage.Tx) error {
			stx := storage.SQLTx(tx)
			if _, err := stx.ExecContext(ctx, `ALTER TABLE api_tokens DROP COLUMN operator`); err != nil {
				return err
			}
			_, err := stx.ExecContext(ctx, `DELETE FROM goose_db_version WHERE version_id = 2`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		team := mustTeam(t, db, "ops")
		tok, err := db.CreateAPIToken(ctx, storage.APIToken{
			TeamID: team.ID, Mode: storage.TokenModeAdmin, Prefix: "pgo_abc", Hash: tokenHash("pgo_abc"), Operator: true,
		})
		if err != nil || !tok.Operator {
			t.Fatalf("CreateAPIToken after migrating again = %+v, %v", tok, err)
		}
	})
}
