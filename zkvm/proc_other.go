//go:build !unix

package zkvm

import "os/exec"

// setProcessGroup leaves cmd alone where process groups do not exist: the
// default cancellation kills the command itself.
func setProcessGroup(*exec.Cmd) {}

// killProcessGroup has no group to kill here.
func killProcessGroup(int) error { return nil }
