package proofgrid_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestMakeTestInstallsItsDependencies checks that make test installs what
// the tests need (scripts/ensure-deps.sh) before it starts the throwaway
// servers, as make run does, so that the README's two commands are the
// whole set-up of a fresh machine.
func TestMakeTestInstallsItsDependencies(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	for _, target := range []string{"test", "bench"} {
		out, err := exec.Command("make", "--no-print-directory", "-n", target).CombinedOutput()
		if err != nil {
			t.Fatalf("make -n %s: %v\n%s", target, err, out)
		}
		s := string(out)
		deps, env := strings.Index(s, "scripts/ensure-deps.sh"), strings.Index(s, "scripts/testenv.sh")
		if deps < 0 || env < 0 || deps > env {
			t.Fatalf("make %s does not run scripts/ensure-deps.sh before scripts/testenv.sh:\n%s", target, s)
		}
	}
}
