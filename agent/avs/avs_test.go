package avs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent/avs"
)

const operator = "0x0a3e3d83c99b27ca7540720b54105c79cd58dbdd"

func healthServer(t *testing.T, status *atomic.Int32) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(ts.Close)
	return ts.URL + "/eigen/node/health"
}

func pidFile(t *testing.T, pid int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "node.pid")
	if err := os.WriteFile(p, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func report(t *testing.T, c *avs.Checker) proofgrid.AgentStatus {
	t.Helper()
	var st proofgrid.AgentStatus
	c.Report(context.Background(), &st)
	return st
}

func TestReportHealthyNode(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusPartialContent) // EigenLayer's "partially healthy" is still 2xx
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c, err := avs.New(avs.Config{Deployments: []avs.Deployment{{
		AVS: "eigenda", Chain: "mainnet", Version: "0.8.6", OperatorAddress: operator,
		ProcessName: filepath.Base(self), PIDFile: pidFile(t, os.Getpid()), HealthURL: healthServer(t, &status),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	st := report(t, c)
	if len(st.Errors) != 0 || len(st.AVS) != 1 {
		t.Fatalf("status = %+v", st)
	}
	want := proofgrid.AVSReport{AVS: "eigenda", Chain: "mainnet", Version: "0.8.6", OperatorAddress: operator, Healthy: true}
	if got := st.AVS[0]; got.AVS != want.AVS || got.Chain != want.Chain || got.Version != want.Version ||
		got.OperatorAddress != want.OperatorAddress || !got.Healthy || got.Error != "" || got.Registered != nil {
		t.Errorf("report = %+v, want %+v", got, want)
	}
}

func TestReportFailures(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusServiceUnavailable)
	tests := []struct {
		name string
		dep  avs.Deployment
		code string
	}{
		{"health URL answers 503", avs.Deployment{HealthURL: healthServer(t, &status)}, avs.CodeHealthCheckFailed},
		{"health URL unreachable", avs.Deployment{HealthURL: "http://127.0.0.1:1/health"}, avs.CodeHealthCheckFailed},
		{"no such process", avs.Deployment{ProcessName: "no-such-avs-node-process"}, avs.CodeNodeDown},
		{"pid file missing", avs.Deployment{PIDFile: filepath.Join(t.TempDir(), "none.pid")}, avs.CodeNodeDown},
		{"pid not running", avs.Deployment{PIDFile: pidFile(t, 1<<22-1)}, avs.CodeNodeDown},
		{"pid file garbage", avs.Deployment{PIDFile: func() string {
			p := filepath.Join(t.TempDir(), "bad.pid")
			os.WriteFile(p, []byte("node"), 0o600)
			return p
		}()}, avs.CodeNodeDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.dep
			d.AVS, d.Chain, d.Version, d.OperatorAddress = "witness_chain", "holesky", "0.2.8", operator
			c, err := avs.New(avs.Config{Deployments: []avs.Deployment{d}, Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			st := report(t, c)
			if len(st.AVS) != 1 || st.AVS[0].Healthy || !strings.HasPrefix(st.AVS[0].Error, tt.code+": witness_chain on holesky: ") {
				t.Fatalf("report = %+v", st.AVS)
			}
			// The same text in the status, so the coordinator counts it once.
			if !slices.Equal(st.Errors, []string{st.AVS[0].Error}) {
				t.Errorf("status errors = %q, want the report's error", st.Errors)
			}
		})
	}
}

func TestRegistrationCheck(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "registered.sh")
	// The script exits with the code stored in a file, so the test can
	// change the answer.
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit $(cat \"$0.code\")\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	setCode := func(code int) {
		if err := os.WriteFile(script+".code", []byte(strconv.Itoa(code)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	clock := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	c, err := avs.New(avs.Config{
		Deployments:           []avs.Deployment{{AVS: "eigenda", Chain: "mainnet", OperatorAddress: operator, RegisteredCommand: []string{script}}},
		RegisterCheckInterval: time.Minute,
		Now:                   func() time.Time { return clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(wantRegistered *bool, wantErrPrefixes ...string) {
		t.Helper()
		st := report(t, c)
		r := st.AVS[0]
		if (r.Registered == nil) != (wantRegistered == nil) || (r.Registered != nil && *r.Registered != *wantRegistered) {
			t.Errorf("registered = %v, want %v", r.Registered, wantRegistered)
		}
		ok := len(st.Errors) == len(wantErrPrefixes)
		for i := 0; ok && i < len(st.Errors); i++ {
			ok = strings.HasPrefix(st.Errors[i], wantErrPrefixes[i])
		}
		if !ok {
			t.Errorf("errors = %q, want ones starting %q", st.Errors, wantErrPrefixes)
		}
		if !r.Healthy {
			t.Error("a registration problem is not a node failure")
		}
	}
	yes, no := true, false
	setCode(0)
	check(&yes)
	setCode(1)
	check(&yes) // answer reused within the interval
	clock = clock.Add(time.Minute)
	check(&no, avs.CodeUnregisteredOperator)
	setCode(3)
	clock = clock.Add(time.Minute)
	// A broken check keeps the last answer and says it is broken.
	check(&no, avs.CodeRegistrationCheckFailed, avs.CodeUnregisteredOperator)
}

func TestNewRefuses(t *testing.T) {
	for name, d := range map[string]avs.Deployment{
		"no chain":       {AVS: "eigenda"},
		"bad operator":   {AVS: "eigenda", Chain: "mainnet", OperatorAddress: "0x12"},
		"bad health URL": {AVS: "eigenda", Chain: "mainnet", HealthURL: "localhost:9090"},
	} {
		if _, err := avs.New(avs.Config{Deployments: []avs.Deployment{d}}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	twice := avs.Deployment{AVS: "eigenda", Chain: "mainnet"}
	if _, err := avs.New(avs.Config{Deployments: []avs.Deployment{twice, twice}}); err == nil {
		t.Error("the same deployment twice: accepted")
	}
}
