package storage_test

import (
	"context"
	"strings"
	"testing"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

func TestGolfSubmissionLifecycle(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		alice, err := db.EnsureGolfUser(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if again, err := db.EnsureGolfUser(ctx, "alice"); err != nil || again.ID != alice.ID {
			t.Fatalf("EnsureGolfUser twice = %+v, %v", again, err)
		}
		tok, err := db.CreateGolfToken(ctx, storage.GolfToken{UserID: alice.ID, Prefix: "cmp_abcdef", Hash: tokenHash("cmp_x")})
		if err != nil || tok.UserName != "alice" {
			t.Fatalf("CreateGolfToken = %+v, %v", tok, err)
		}
		if got, err := db.GolfTokenByHash(ctx, tokenHash("cmp_x")); err != nil || got.UserID != alice.ID {
			t.Fatalf("GolfTokenByHash = %+v, %v", got, err)
		}
		_, err = db.GolfTokenByHash(ctx, tokenHash("cmp_y"))
		wantCode(t, err, proofgrid.ENOTFOUND)
		_, err = db.CreateGolfToken(ctx, storage.GolfToken{UserID: alice.ID + 100, Prefix: "p", Hash: tokenHash("cmp_z")})
		wantCode(t, err, proofgrid.ENOTFOUND)

		proj, err := db.ImportGolfChallenges(ctx, []storage.GolfChallenge{
			{Slug: "b-two", BaselineScore: 20, Doc: []byte(`{"slug":"b-two"}`)},
			{Slug: "a-one", BaselineScore: 10, Doc: []byte(`{"slug":"a-one"}`)},
		}, []byte("tarball-1"))
		if err != nil || proj.SizeBytes != 9 || len(proj.SHA256) != 64 {
			t.Fatalf("ImportGolfChallenges = %+v, %v", proj, err)
		}
		cs, err := db.GolfChallenges(ctx)
		if err != nil || len(cs) != 2 || cs[0].Slug != "b-two" || cs[1].BaselineScore != 10 {
			t.Fatalf("GolfChallenges = %+v, %v", cs, err)
		}
		latest, err := db.LatestGolfProject(ctx, true)
		if err != nil || string(latest.Tarball) != "tarball-1" || latest.ID != proj.ID {
			t.Fatalf("LatestGolfProject = %+v, %v", latest, err)
		}

		sub := storage.GolfSubmission{ID: "00000000-0000-4000-8000-000000000001", ChallengeSlug: "a-one", UserID: alice.ID,
			Allocations: 3, Constraints: 4, AssistedBy: "model-x", Description: "**fast**", CreatedAt: base}
		files := []storage.GolfFile{{Name: "Main.lean", Content: []byte("def x := 1\n")}, {Name: "A.lean", Content: []byte("a")}}
		if err := db.CreateGolfSubmission(ctx, sub, files); err != nil {
			t.Fatal(err)
		}
		sub2 := sub
		sub2.ID, sub2.CreatedAt = "00000000-0000-4000-8000-000000000002", base.Add(1)
		if err := db.CreateGolfSubmission(ctx, sub2, files[:1]); err != nil {
			t.Fatal(err)
		}
		bad := sub
		bad.ID, bad.ChallengeSlug = "00000000-0000-4000-8000-000000000009", "nope"
		wantCode(t, db.CreateGolfSubmission(ctx, bad, files), proofgrid.ENOTFOUND)
		total, mine, err := db.GolfActiveCounts(ctx, alice.ID)
		if err != nil || total != 2 || mine != 2 {
			t.Fatalf("GolfActiveCounts = %d, %d, %v", total, mine, err)
		}
		got, err := db.GolfSubmission(ctx, sub2.ID)
		if err != nil || got.Status != storage.GolfPending || got.UserName != "alice" || got.SizeBytes != 11 || got.Score != nil {
			t.Fatalf("GolfSubmission = %+v, %v", got, err)
		}
		if n, err := db.GolfQueueAhead(ctx, got); err != nil || n != 1 {
			t.Fatalf("GolfQueueAhead = %d, %v", n, err)
		}
		fs, err := db.GolfSubmissionFiles(ctx, sub.ID)
		if err != nil || len(fs) != 2 || fs[0].Name != "A.lean" || string(fs[1].Content) != "def x := 1\n" || len(fs[1].SHA256) != 64 {
			t.Fatalf("GolfSubmissionFiles = %+v, %v", fs, err)
		}
		mineList, err := db.GolfSubmissionsByUser(ctx, alice.ID, "", 10)
		if err != nil || len(mineList) != 2 || mineList[0].ID != sub2.ID {
			t.Fatalf("GolfSubmissionsByUser = %+v, %v", mineList, err)
		}

		// Attempt 1 starts, logs, and is superseded by attempt 2.
		header := func(a int64) string { return "== attempt " + string(rune('0'+a)) + "\n" }
		s, started, err := db.StartGolfVerification(ctx, sub.ID, "m-1", header)
		if err != nil || !started || s.Status != storage.GolfVerifying || s.Attempt != 1 || s.LogSize != 13 {
			t.Fatalf("Start = %+v, %v, %v", s, started, err)
		}
		if _, err := db.AppendGolfLog(ctx, sub.ID, 1, 0, "hello ", 100); err != nil {
			t.Fatal(err)
		}
		// A retried chunk, and one overlapping it, append only what is new.
		if _, err := db.AppendGolfLog(ctx, sub.ID, 1, 0, "hello ", 100); err != nil {
			t.Fatal(err)
		}
		if s, err = db.AppendGolfLog(ctx, sub.ID, 1, 3, "lo world\n", 100); err != nil || s.LogSize != 13+12 {
			t.Fatalf("append overlap = %+v, %v", s, err)
		}
		_, err = db.AppendGolfLog(ctx, sub.ID, 1, 50, "gap", 100)
		wantCode(t, err, proofgrid.ECONFLICT)
		if s, _, err = db.StartGolfVerification(ctx, sub.ID, "m-2", header); err != nil || s.Attempt != 2 || s.VerifierID != "m-2" {
			t.Fatalf("restart = %+v, %v", s, err)
		}
		_, err = db.AppendGolfLog(ctx, sub.ID, 1, 12, "late", 100)
		wantCode(t, err, proofgrid.ECONFLICT)
		_, err = db.FinishGolfVerification(ctx, sub.ID, 1, storage.GolfVerified, "", "")
		wantCode(t, err, proofgrid.ECONFLICT)
		// The cap keeps the first bytes and marks the log truncated.
		if s, err = db.AppendGolfLog(ctx, sub.ID, 2, 0, strings.Repeat("x", 100), 60); err != nil || s.LogSize != 60 || !s.LogTruncated {
			t.Fatalf("capped append = %+v, %v", s, err)
		}
		s, err = db.FinishGolfVerification(ctx, sub.ID, 2, storage.GolfVerified, "checker exited 0", "== verified\n")
		if err != nil || s.Status != storage.GolfVerified || s.Score == nil || *s.Score != 7 || s.FinishedAt == nil || s.LogSize != 72 {
			t.Fatalf("Finish = %+v, %v", s, err)
		}
		if again, err := db.FinishGolfVerification(ctx, sub.ID, 2, storage.GolfVerified, "", "x"); err != nil || again.LogSize != 72 {
			t.Fatalf("repeated finish = %+v, %v", again, err)
		}
		_, err = db.FinishGolfVerification(ctx, sub.ID, 2, storage.GolfFailed, "", "")
		wantCode(t, err, proofgrid.ECONFLICT)
		if s, started, err = db.StartGolfVerification(ctx, sub.ID, "m-3", header); err != nil || started || s.Attempt != 2 {
			t.Fatalf("start after verdict = %+v, %v, %v", s, started, err)
		}

		text, next, err := db.GolfLog(ctx, sub.ID, 0, 1<<20)
		if err != nil || next != 72 || !strings.HasPrefix(text, "== attempt 1\nhello world\n== attempt 2\nxxx") || !strings.HasSuffix(text, "x== verified\n") {
			t.Fatalf("GolfLog = %q, %d, %v", text, next, err)
		}
		part, next, err := db.GolfLog(ctx, sub.ID, 5, 10)
		if err != nil || part != "tempt 1\nhe" || next != 15 {
			t.Fatalf("GolfLog(5, 10) = %q, %d, %v", part, next, err)
		}
		if rest, next2, _ := db.GolfLog(ctx, sub.ID, 72, 10); rest != "" || next2 != 72 {
			t.Fatalf("GolfLog at end = %q, %d", rest, next2)
		}

		verified, err := db.GolfVerified(ctx, "a-one")
		if err != nil || len(verified) != 1 || verified[0].ID != sub.ID {
			t.Fatalf("GolfVerified = %+v, %v", verified, err)
		}
		st, err := db.GolfStats(ctx, "a-one")
		if err != nil || st.ByStatus[storage.GolfVerified] != 1 || st.ByStatus[storage.GolfPending] != 1 || st.Submitters != 1 || st.Solvers != 1 {
			t.Fatalf("GolfStats = %+v, %v", st, err)
		}
		// A later import without a-one hides it but keeps its submissions.
		if _, err := db.ImportGolfChallenges(ctx, []storage.GolfChallenge{{Slug: "b-two", BaselineScore: 20, Doc: []byte(`{}`)}}, []byte("t2")); err != nil {
			t.Fatal(err)
		}
		if cs, _ := db.GolfChallenges(ctx); len(cs) != 1 {
			t.Fatalf("after re-import: %+v", cs)
		}
		if ch, err := db.GolfChallenge(ctx, "a-one"); err != nil || ch.Active {
			t.Fatalf("inactive challenge = %+v, %v", ch, err)
		}
		wantCode(t, db.CreateGolfSubmission(ctx, storage.GolfSubmission{ID: "x", ChallengeSlug: "a-one", UserID: alice.ID, CreatedAt: base}, nil), proofgrid.ENOTFOUND)
	})
}
