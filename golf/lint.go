package golf

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Lint rules, in the order they run. Each writes one line per outcome:
// "PASS <rule>: ..." or "FAIL <rule>: ...".
const (
	RuleMainPresent   = "main_present"
	RuleFlatNames     = "flat_names"
	RuleFileSize      = "file_size"
	RuleNativeDecide  = "no_native_decide"
	RuleSorry         = "no_sorry"
	RuleAxioms        = "permitted_axioms"
	lintMaxViolations = 20
)

// LintConfig configures Lint.
type LintConfig struct {
	// PermittedAxioms are the fully qualified axiom names the challenge's
	// comparator config permits.
	PermittedAxioms []string
	// MaxFileBytes caps each file; zero means DefaultMaxFileBytes.
	MaxFileBytes int64
}

// LintResult is the outcome of Lint: OK when every rule passed, and the
// rules that failed.
type LintResult struct {
	OK     bool
	Failed []string
}

// Lint checks the submission in dir without Lean: Main.lean is there,
// every entry is a flat .lean file within the size limit, and no file
// uses native_decide, sorry or admit, or declares an axiom the config does
// not permit. It reads code as Lean does, so comments and strings that
// mention a banned word are no violation. Each rule's outcome is a line on
// w. The error is for a directory that cannot be read, never for a
// violation.
func Lint(dir string, cfg LintConfig, w io.Writer) (LintResult, error) {
	if cfg.MaxFileBytes <= 0 {
		cfg.MaxFileBytes = DefaultMaxFileBytes
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return LintResult{}, fmt.Errorf("golf: lint: %w", err)
	}
	var res LintResult
	report := func(rule string, violations []string, pass string) {
		if len(violations) == 0 {
			fmt.Fprintf(w, "PASS %s: %s\n", rule, pass)
			return
		}
		res.Failed = append(res.Failed, rule)
		shown := violations
		if len(shown) > lintMaxViolations {
			shown = shown[:lintMaxViolations]
		}
		fmt.Fprintf(w, "FAIL %s: %s\n", rule, strings.Join(shown, "; "))
		if n := len(violations) - len(shown); n > 0 {
			fmt.Fprintf(w, "FAIL %s: ... and %d more\n", rule, n)
		}
	}

	var files []string
	var badNames, tooLarge []string
	main := false
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() {
			badNames = append(badNames, fmt.Sprintf("%s is not a regular file", name))
			continue
		}
		if err := CheckFileName(name); err != nil {
			badNames = append(badNames, fmt.Sprintf("%s is not a flat .lean module file name", name))
			continue
		}
		info, err := e.Info()
		if err != nil {
			return LintResult{}, fmt.Errorf("golf: lint: %w", err)
		}
		if info.Size() > cfg.MaxFileBytes {
			tooLarge = append(tooLarge, fmt.Sprintf("%s is %d bytes (limit %d)", name, info.Size(), cfg.MaxFileBytes))
			continue
		}
		main = main || name == MainFile
		files = append(files, name)
	}
	sort.Strings(files)
	if main {
		report(RuleMainPresent, nil, MainFile+" found")
	} else {
		report(RuleMainPresent, []string{MainFile + " is missing"}, "")
	}
	report(RuleFlatNames, badNames, fmt.Sprintf("%d flat .lean files", len(files)))
	report(RuleFileSize, tooLarge, fmt.Sprintf("every file is at most %d bytes", cfg.MaxFileBytes))

	var native, sorry, axioms []string
	for _, name := range files {
		src, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return LintResult{}, fmt.Errorf("golf: lint: %w", err)
		}
		if !utf8.Valid(src) {
			badNames = append(badNames, name+" is not UTF-8")
			continue
		}
		f := ScanLean(string(src))
		for _, v := range f.NativeDecide {
			native = append(native, fmt.Sprintf("%s:%d: %s", name, v.Line, v.Text))
		}
		for _, v := range f.Sorry {
			sorry = append(sorry, fmt.Sprintf("%s:%d: %s", name, v.Line, v.Text))
		}
		for _, v := range f.Axioms {
			if !axiomPermitted(v.Text, cfg.PermittedAxioms) {
				axioms = append(axioms, fmt.Sprintf("%s:%d: axiom %s is not permitted", name, v.Line, v.Text))
			}
		}
	}
	report(RuleNativeDecide, native, "no native_decide")
	report(RuleSorry, sorry, "no sorry or admit")
	permitted := "none"
	if len(cfg.PermittedAxioms) > 0 {
		permitted = strings.Join(cfg.PermittedAxioms, ", ")
	}
	report(RuleAxioms, axioms, "no axiom declared beyond the permitted ("+permitted+")")
	res.OK = len(res.Failed) == 0
	return res, nil
}

// axiomPermitted reports whether the declared axiom name (qualified by its
// namespace) is one the config permits.
func axiomPermitted(name string, permitted []string) bool {
	return slices.Contains(permitted, name)
}

// Occurrence is a place in a Lean file: its line (from 1) and the token.
type Occurrence struct {
	Line int
	Text string
}

// LeanFindings is what ScanLean found in one file.
type LeanFindings struct {
	NativeDecide []Occurrence
	Sorry        []Occurrence
	// Axioms are declared axioms with their fully qualified names.
	Axioms []Occurrence
}

// ScanLean reads Lean source as the lexer would for what the lint rules
// need: identifiers outside comments (nested /- -/ and --) and string
// and character literals, with the namespace each declaration is in.
func ScanLean(src string) LeanFindings {
	var f LeanFindings
	toks := leanTokens(src)
	var namespaces []string
	for i, t := range toks {
		switch t.text {
		case "native_decide", "ofReduceBool", "Lean.ofReduceBool":
			f.NativeDecide = append(f.NativeDecide, Occurrence{t.line, t.text})
		case "decide":
			// decide +native is native_decide written as a config flag.
			if i+1 < len(toks) && toks[i+1].text == "+native" {
				f.NativeDecide = append(f.NativeDecide, Occurrence{t.line, "decide +native"})
			}
		case "sorry", "admit", "sorryAx", "Lean.sorryAx":
			f.Sorry = append(f.Sorry, Occurrence{t.line, t.text})
		case "namespace":
			if i+1 < len(toks) && toks[i+1].ident {
				namespaces = append(namespaces, toks[i+1].text)
			}
		case "end":
			if i+1 < len(toks) && toks[i+1].ident && toks[i+1].line == t.line && len(namespaces) > 0 &&
				namespaces[len(namespaces)-1] == toks[i+1].text {
				namespaces = namespaces[:len(namespaces)-1]
			}
		case "axiom":
			if i+1 < len(toks) && toks[i+1].ident {
				name := toks[i+1].text
				if n, ok := strings.CutPrefix(name, "_root_."); ok {
					name = n
				} else if len(namespaces) > 0 {
					name = strings.Join(namespaces, ".") + "." + name
				}
				f.Axioms = append(f.Axioms, Occurrence{t.line, name})
			}
		}
	}
	return f
}

type leanToken struct {
	text  string
	line  int
	ident bool
}

// leanTokens splits src into identifiers (dotted names included, «»
// quoting removed) and single symbol characters, dropping comments,
// strings, characters and whitespace. A "+" directly followed by an
// identifier stays attached to it ("+native").
func leanTokens(src string) []leanToken {
	var out []leanToken
	line := 1
	i := 0
	n := len(src)
	for i < n {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case strings.HasPrefix(src[i:], "--"):
			for i < n && src[i] != '\n' {
				i++
			}
		case strings.HasPrefix(src[i:], "/-"):
			depth := 0
			for i < n {
				if strings.HasPrefix(src[i:], "/-") {
					depth++
					i += 2
				} else if strings.HasPrefix(src[i:], "-/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					if src[i] == '\n' {
						line++
					}
					i++
				}
			}
		case c == '"':
			i++
			for i < n && src[i] != '"' {
				if src[i] == '\\' && i+1 < n {
					i++
				}
				if src[i] == '\n' {
					line++
				}
				i++
			}
			i++
		case c == '\'' && charLiteral(src[i:]) > 0:
			i += charLiteral(src[i:])
		case identStart(src[i:]):
			var text strings.Builder
			for i < n {
				r, size := utf8.DecodeRuneInString(src[i:])
				if r == '«' {
					end := strings.IndexRune(src[i+size:], '»')
					if end < 0 {
						i = n
						break
					}
					text.WriteString(src[i+size : i+size+end])
					i += size + end + len("»")
					continue
				}
				if !(identRest(r) || (r == '.' && i+1 < n && identStart(src[i+1:]))) {
					break
				}
				text.WriteRune(r)
				i += size
			}
			out = append(out, leanToken{text: text.String(), line: line, ident: true})
		case c == '+' && i+1 < n && identStart(src[i+1:]):
			j := i + 1
			for j < n {
				r, size := utf8.DecodeRuneInString(src[j:])
				if !identRest(r) {
					break
				}
				j += size
			}
			out = append(out, leanToken{text: src[i:j], line: line})
			i = j
		default:
			_, size := utf8.DecodeRuneInString(src[i:])
			out = append(out, leanToken{text: src[i : i+size], line: line})
			i += size
		}
	}
	return out
}

// charLiteral returns the length of a character literal at the start of
// s ('a', '\n', '\x41'), or 0 when the quote is not one (x' is a name).
func charLiteral(s string) int {
	if len(s) < 3 {
		return 0
	}
	if s[1] == '\\' {
		end := strings.IndexByte(s[2:], '\'')
		if end < 0 || end > 8 {
			return 0
		}
		return end + 3
	}
	_, size := utf8.DecodeRuneInString(s[1:])
	if 1+size < len(s) && s[1+size] == '\'' {
		return size + 2
	}
	return 0
}

func identStart(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r == '_' || r == '«' || (unicode.IsLetter(r) && !isLeanSymbolLetter(r))
}

func identRest(r rune) bool {
	return r == '_' || r == '\'' || r == '!' || r == '?' || unicode.IsDigit(r) ||
		(unicode.IsLetter(r) && !isLeanSymbolLetter(r)) || (r >= 'ₐ' && r <= 'ₜ') || (r >= '₀' && r <= '₉')
}

// isLeanSymbolLetter reports the letters Lean treats as symbols (λ, Π,
// Σ), which never start or continue an identifier.
func isLeanSymbolLetter(r rune) bool { return r == 'λ' || r == 'Π' || r == 'Σ' }
