// Package e2e holds end-to-end tests that build the coordinator and agent
// binaries and run them as separate processes on loopback, the way an
// operator runs them.
package e2e
