package fleet

import (
	"strings"

	"github.com/proofgrid/proofgrid"
)

// ParseOperatorAddress checks that s is an Ethereum address (0x and 40 hex
// digits) and returns it in lower case, the form addresses are stored and
// compared in. Mixed-case checksums are accepted without being verified:
// the address identifies a record here, it does not receive funds.
func ParseOperatorAddress(s string) (string, error) {
	if !proofgrid.ValidAddress(s) {
		return "", proofgrid.Errorf(proofgrid.EINVALID, "operator address must be 0x followed by 40 hex digits, got %q", s)
	}
	return strings.ToLower(s), nil
}
