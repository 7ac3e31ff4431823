//go:build !unix

package verifier

import (
	"fmt"
	"io"
)

// SandboxMain needs a Unix system (setrlimit and exec).
func SandboxMain(_ []string, stderr io.Writer) int {
	fmt.Fprintln(stderr, "sandbox: needs a Unix system")
	return 126
}
