package envflag_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/internal/envflag"
)

type config struct {
	addr    string
	workers int
	wait    time.Duration
	prod    bool
	secret  string
}

func newSet(c *config) *envflag.Set {
	s := envflag.New("test")
	s.SetOutput(io.Discard)
	s.String(&c.addr, "addr", ":8080", "listen address", "PG_ADDR")
	s.EnvFunc("addr", "PORT", func(v string) error { c.addr = ":" + v; return nil })
	s.Int(&c.workers, "workers", 10, "workers", "PG_WORKERS", "WORKERS")
	s.Duration(&c.wait, "wait", time.Second, "wait", "PG_WAIT")
	s.Bool(&c.prod, "production", false, "production", "PG_PRODUCTION")
	s.EnvFunc("", "SECRET", func(v string) error { c.secret = v; return nil })
	return s
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPrecedence(t *testing.T) {
	var c config
	err := newSet(&c).Parse([]string{"--workers", "3"}, getenv(map[string]string{
		"PG_WORKERS": "7", "WORKERS": "8", "PORT": "9000", "PG_WAIT": "2m", "PG_PRODUCTION": "true", "SECRET": "s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c != (config{addr: ":9000", workers: 3, wait: 2 * time.Minute, prod: true, secret: "s"}) {
		t.Fatalf("config = %+v", c)
	}
	// The first variable wins over the second, and PG_ADDR over PORT.
	c = config{}
	if err := newSet(&c).Parse(nil, getenv(map[string]string{"WORKERS": "8", "PG_ADDR": "1.2.3.4:1", "PORT": "9000"})); err != nil {
		t.Fatal(err)
	}
	if c.workers != 8 || c.addr != "1.2.3.4:1" || c.wait != time.Second {
		t.Fatalf("config = %+v", c)
	}
	// A flag wins over the variable of an EnvFunc.
	c = config{}
	if err := newSet(&c).Parse([]string{"--addr", ":1"}, getenv(map[string]string{"PORT": "9000"})); err != nil || c.addr != ":1" {
		t.Fatalf("config = %+v, %v", c, err)
	}
}

func TestMalformedValuesNameTheirSource(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{nil, map[string]string{"PG_WORKERS": "ten"}, []string{"PG_WORKERS", `"ten"`, "integer"}},
		{nil, map[string]string{"WORKERS": "ten"}, []string{"WORKERS", "integer"}},
		{nil, map[string]string{"PG_WAIT": "soon"}, []string{"PG_WAIT", "duration"}},
		{nil, map[string]string{"PG_PRODUCTION": "yes"}, []string{"PG_PRODUCTION", "true or false"}},
		{[]string{"--workers", "ten"}, nil, []string{"-workers", `"ten"`}},
		{[]string{"--wait=soon"}, nil, []string{"-wait", `"soon"`}},
	} {
		var c config
		err := newSet(&c).Parse(tc.args, getenv(tc.env))
		if err == nil {
			t.Errorf("%v %v: accepted", tc.args, tc.env)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v %v: error %q does not name %s", tc.args, tc.env, err, w)
			}
		}
	}
}

func TestUsageNamesTheVariables(t *testing.T) {
	var c config
	s := newSet(&c)
	var b strings.Builder
	s.SetOutput(&b)
	s.PrintDefaults()
	if !strings.Contains(b.String(), "workers (PG_WORKERS, or WORKERS)") {
		t.Fatalf("usage:\n%s", b.String())
	}
}
