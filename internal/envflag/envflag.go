// Package envflag binds command-line flags to environment variables, the
// one scheme of both binaries: a flag given on the command line wins,
// otherwise the first non-empty variable bound to it, otherwise the
// flag's default. Variables are applied after parsing, through the flag's
// own parser, so a malformed value (PROOFGRID_WORKER_CONCURRENCY=ten) is
// an error naming the variable instead of a silent default, and -h never
// prints a secret taken from the environment as a default.
package envflag

import (
	"flag"
	"fmt"
	"strings"
	"time"
)

// Set is a flag set with environment bindings.
type Set struct {
	*flag.FlagSet
	bindings []binding
}

// binding is either variables feeding a flag's own parser, or one
// variable with a parser of its own (fn), applied unless flag (which may
// be empty) was set.
type binding struct {
	flag string
	vars []string
	fn   func(string) error
}

// New returns an empty Set; errors are returned, not fatal.
func New(name string) *Set {
	return &Set{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
}

// Env binds the variables vars, in order of precedence, to the flag name
// already defined on s.
func (s *Set) Env(name string, vars ...string) {
	s.bindings = append(s.bindings, binding{flag: name, vars: vars})
}

// EnvFunc binds variable v to fn, for settings whose variable is written
// differently from their flag, or that have no flag (name ""): fn gets
// the value unless the flag name was set on the command line or by an
// earlier binding.
func (s *Set) EnvFunc(name, v string, fn func(string) error) {
	s.bindings = append(s.bindings, binding{flag: name, vars: []string{v}, fn: fn})
}

func withEnv(usage string, vars []string) string {
	return usage + " (" + strings.Join(vars, ", or ") + ")"
}

// String defines a string flag bound to vars.
func (s *Set) String(p *string, name, def, usage string, vars ...string) {
	s.StringVar(p, name, def, withEnv(usage, vars))
	s.Env(name, vars...)
}

// Int defines an int flag bound to vars.
func (s *Set) Int(p *int, name string, def int, usage string, vars ...string) {
	s.IntVar(p, name, def, withEnv(usage, vars))
	s.Env(name, vars...)
}

// Int64 defines an int64 flag bound to vars.
func (s *Set) Int64(p *int64, name string, def int64, usage string, vars ...string) {
	s.Int64Var(p, name, def, withEnv(usage, vars))
	s.Env(name, vars...)
}

// Uint64 defines a uint64 flag bound to vars.
func (s *Set) Uint64(p *uint64, name string, def uint64, usage string, vars ...string) {
	s.Uint64Var(p, name, def, withEnv(usage, vars))
	s.Env(name, vars...)
}

// Bool defines a bool flag bound to vars; the variable takes the values
// strconv.ParseBool accepts.
func (s *Set) Bool(p *bool, name string, def bool, usage string, vars ...string) {
	s.BoolVar(p, name, def, withEnv(usage, vars))
	s.Env(name, vars...)
}

// Duration defines a time.Duration flag bound to vars.
func (s *Set) Duration(p *time.Duration, name string, def time.Duration, usage string, vars ...string) {
	s.DurationVar(p, name, def, withEnv(usage, vars))
	s.Env(name, vars...)
}

// Parse parses args, then applies the environment, read through getenv,
// to every bound flag that args did not set. Errors name the flag or the
// variable at fault.
func (s *Set) Parse(args []string, getenv func(string) string) error {
	if err := s.FlagSet.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	s.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, b := range s.bindings {
		if b.flag != "" && set[b.flag] {
			continue
		}
		for _, v := range b.vars {
			val := getenv(v)
			if val == "" {
				continue
			}
			var err error
			if b.fn != nil {
				err = b.fn(val)
			} else {
				err = s.Set(b.flag, val)
			}
			if err != nil {
				return fmt.Errorf("invalid value %q for %s: %v%s", val, v, err, s.want(b.flag))
			}
			if b.flag != "" {
				set[b.flag] = true
			}
			break
		}
	}
	return nil
}

// want describes the values flag name takes, for error messages.
func (s *Set) want(name string) string {
	f := s.Lookup(name)
	if f == nil {
		return ""
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case int, int64, uint, uint64:
		return "; want an integer"
	case time.Duration:
		return "; want a duration such as 30s or 5m"
	case bool:
		return "; want true or false"
	}
	return ""
}
