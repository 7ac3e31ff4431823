package zkvm

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestExpandArgs(t *testing.T) {
	values := map[string]string{
		PlaceholderBlockNumber: "21000000",
		PlaceholderBlockHash:   "0xabc",
		PlaceholderOutput:      "/tmp/out dir/proof.bin",
		PlaceholderRPCURL:      "http://rpc:8545/?a={output}", // braces in a value stay literal
	}
	tests := []struct {
		name     string
		template []string
		want     []string
		missing  string // placeholder reported missing
		unknown  bool
	}{
		{name: "plain", template: []string{"prover", "--fast"}, want: []string{"prover", "--fast"}},
		{name: "whole argument", template: []string{"p", "{block_number}"}, want: []string{"p", "21000000"}},
		{name: "inside argument", template: []string{"p", "--block={block_number}", "--out={output}"}, want: []string{"p", "--block=21000000", "--out=/tmp/out dir/proof.bin"}},
		{name: "twice in one", template: []string{"{block_number}-{block_number}"}, want: []string{"21000000-21000000"}},
		{name: "value not re-expanded", template: []string{"{rpc_url}"}, want: []string{"http://rpc:8545/?a={output}"}},
		{name: "non-placeholder braces kept", template: []string{`{"a":1}`, "{}", "{Block}", "{ x }", "{", "}{", "a{b"}, want: []string{`{"a":1}`, "{}", "{Block}", "{ x }", "{", "}{", "a{b"}},
		{name: "brace before placeholder", template: []string{"{{block_number}}"}, want: []string{"{21000000}"}},
		{name: "shell syntax is data", template: []string{"$(rm -rf /){block_hash};`x`"}, want: []string{"$(rm -rf /)0xabc;`x`"}},
		{name: "missing value", template: []string{"p", "--vk={vk_path}"}, missing: PlaceholderVKPath},
		{name: "unknown placeholder", template: []string{"p", "{block_numbr}"}, unknown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := slices.Clone(tt.template)
			got, err := ExpandArgs(tt.template, values)
			if !slices.Equal(tt.template, orig) {
				t.Errorf("template modified: %q", tt.template)
			}
			var me *MissingValueError
			switch {
			case tt.missing != "":
				if !errors.As(err, &me) || me.Placeholder != tt.missing {
					t.Fatalf("err = %v, want missing {%s}", err, tt.missing)
				}
			case tt.unknown:
				if err == nil || !strings.Contains(err.Error(), "unknown placeholder") {
					t.Fatalf("err = %v, want unknown placeholder", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			}
		})
	}
}

func TestBlockHashFormat(t *testing.T) {
	h := testHash(0xe0)
	s := FormatBlockHash(h)
	if s != "0xe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff" {
		t.Fatalf("FormatBlockHash = %s", s)
	}
	for _, in := range []string{s, strings.ToUpper(s[2:]), "0X" + s[2:]} {
		got, err := ParseBlockHash(in)
		if err != nil || got != h {
			t.Errorf("ParseBlockHash(%q) = %x, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0x", s[:65], s + "00", "0x" + strings.Repeat("g", 64)} {
		if _, err := ParseBlockHash(in); err == nil {
			t.Errorf("ParseBlockHash(%q) accepted", in)
		}
	}
	if FormatBlockHash([32]byte{}) != "" {
		t.Error("zero hash should format as unknown")
	}
}

func TestJobValuesAndEnv(t *testing.T) {
	v := jobValues(7, [32]byte{}, "", "/out", "", "")
	if _, ok := v[PlaceholderBlockHash]; ok {
		t.Error("unknown block hash given a value")
	}
	env := jobEnv(v)
	want := []string{"PROOFGRID_BLOCK_NUMBER=7", "PROOFGRID_OUTPUT=/out"}
	if !slices.Equal(env, want) {
		t.Errorf("env = %q, want %q", env, want)
	}
}

func TestValidateCommand(t *testing.T) {
	tests := []struct {
		p  ExecProver
		ok bool
	}{
		{ExecProver{Command: []string{"prover", "{block_number}", "{output}", "{vk_path}", "{rpc_url}", "{block_hash}"}}, true},
		{ExecProver{Command: []string{"prover"}, Env: []string{"A=b", "OUT={output}", "EMPTY="}}, true},
		{ExecProver{}, false},
		{ExecProver{Command: []string{""}}, false},
		{ExecProver{Command: []string{"prover", "{outptu}"}}, false},
		{ExecProver{Command: []string{"prover"}, Env: []string{"NOEQUALS"}}, false},
		{ExecProver{Command: []string{"prover"}, Env: []string{"=x"}}, false},
		{ExecProver{Command: []string{"prover"}, Env: []string{"X={nope}"}}, false},
	}
	for _, tt := range tests {
		if err := tt.p.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: Validate() = %v, want ok=%v", tt.p, err, tt.ok)
		}
	}
	if err := (ExecVerifier{}).Validate(); err != nil {
		t.Errorf("empty verifier: %v", err)
	}
}
