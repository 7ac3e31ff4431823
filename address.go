package proofgrid

// ValidAddress reports whether s is an Ethereum address: 0x and 40 hex
// digits in any case. Mixed-case checksums are not verified: here an
// address names an operator, it does not receive funds.
func ValidAddress(s string) bool {
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
