package psy_test

import (
	"testing"

	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
)

// TestAdminRoutesNeedAnOperator checks that the global Psy admin routes
// (reward calculation, user event and contract ingest, processing status)
// refuse a team's admin token.
func TestAdminRoutesNeedAnOperator(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{Configure: fastPsy()})
	c := client{t: t, base: env.URL}
	teamAdmin := map[string]string{"Authorization": "Bearer " + env.Token("psy-admins", auth.ModeAdmin)}
	c.expectError(c.get("/admin/checkpoint-processing-status", teamAdmin), 403)
	c.expectError(c.do("POST", "/checkpoint/calculate-rewards/1", nil, teamAdmin), 403)
	c.expectError(c.do("POST", "/ingest/user_events", []byte(`[]`), teamAdmin), 403)
	c.expectError(c.do("POST", "/ingest/contracts", []byte(`[]`), teamAdmin), 403)
	jwt := map[string]string{"Authorization": "Bearer " + env.AdminJWT()}
	c.expect(c.get("/admin/checkpoint-processing-status", jwt), 200)
}
