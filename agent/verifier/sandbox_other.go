//go:build unix && !linux

package verifier

import "errors"

// setLimits is implemented on Linux only.
func setLimits(l Limits) error {
	if l == (Limits{}) {
		return nil
	}
	return errors.New("resource limits need Linux; run the checker without --verifier-cpu-seconds, --verifier-memory-bytes and --verifier-file-bytes")
}
