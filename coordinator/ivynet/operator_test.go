package ivynet_test

import (
	"net/http"
	"testing"

	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
)

// TestAdminRoutesNeedAnOperator checks that stake and AVS registrations,
// which every team's health reads, are recorded by operators only: a
// team's admin token is refused.
func TestAdminRoutesNeedAnOperator(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	teamAdmin := env.Token("team-a", auth.ModeAdmin)
	const operator = "0x1111111111111111111111111111111111111111"
	stake := map[string]any{"operator_address": operator, "eigen": 1, "ethereum": []any{}}
	reg := map[string]any{"avs_id": "eigenda", "network": "mainnet", "operator": operator, "registered": true}
	wantStatus(t, "POST", env.URL+"/v1/admin/operator/stake", teamAdmin, stake, http.StatusForbidden)
	wantStatus(t, "POST", env.URL+"/v1/admin/avs/registered", teamAdmin, reg, http.StatusForbidden)
	wantStatus(t, "GET", env.URL+"/v1/operator/stake/"+operator, teamAdmin, nil, http.StatusNotFound)
	wantStatus(t, "POST", env.URL+"/v1/admin/operator/stake", env.AdminJWT(), stake, http.StatusCreated)
}
