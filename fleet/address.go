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
	if !validAddress(s) {
		return "", proofgrid.Errorf(proofgrid.EINVALID, "operator address must be 0x followed by 40 hex digits, got %q", s)
	}
	return strings.ToLower(s), nil
}

func validAddress(s string) bool {
	if len(s) != 42 || s[:2] != "0x" {
		return false
	}
	for _, c := range s[2:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
