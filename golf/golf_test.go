package golf_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/golf"
)

func TestLoadRegistryFixture(t *testing.T) {
	cs, err := golf.LoadRegistry("testdata/challenges")
	if err != nil {
		t.Fatal(err)
	}
	var slugs []string
	for _, c := range cs {
		slugs = append(slugs, c.Slug)
	}
	if got := strings.Join(slugs, ","); got != "assert-bytes,poseidon2-hash,sha256-compression,keccak-f1600" {
		t.Fatalf("slugs = %s (registry order expected)", got)
	}
	sha := cs[2]
	if sha.Instance != "SHA256Compression" || sha.Baseline != (golf.Cost{Allocations: 29760, Constraints: 30464}) ||
		sha.Baseline.Score() != 60224 || sha.Title != "SHA-256 Compression" || len(sha.Comparison) != 2 ||
		sha.Comparison[0].Score != 61113 || sha.Config.SolutionModule != "Solution.SHA256Compression.Main" ||
		sha.SolutionDir() != "Solution/SHA256Compression" || sha.Namespace != "Solution.SHA256Compression" {
		t.Fatalf("sha256-compression = %+v", sha)
	}
	want := []string{"propext", "Quot.sound", "Classical.choice", "Challenge.Instances.SHA256Compression.Interface.hPrime"}
	if strings.Join(sha.Config.PermittedAxioms, ",") != strings.Join(want, ",") {
		t.Fatalf("permitted axioms = %v", sha.Config.PermittedAxioms)
	}
	if len(cs[0].Config.PermittedAxioms) != 3 || len(cs[0].Comparison) != 0 {
		t.Fatalf("assert-bytes = %+v", cs[0])
	}
}

func TestParseRegistryRefuses(t *testing.T) {
	read := func(string) ([]byte, error) {
		return []byte(`{"challenge_module":"C","solution_module":"S","permitted_axioms":["propext"]}`), nil
	}
	exists := func(p string) error {
		if p == "missing/File.lean" {
			return os.ErrNotExist
		}
		return nil
	}
	entry := func(extra string) string {
		return "x-1:\n  instance: X\n  config: configs/X.json\n  content:\n    title: X\n  baseline:\n    allocations: 1\n    constraints: 2\n" + extra
	}
	if cs, err := golf.ParseRegistry([]byte(entry("")), read, exists); err != nil || len(cs) != 1 || cs[0].Baseline.Score() != 3 || cs[0].Type != "public" {
		t.Fatalf("valid entry: %+v, %v", cs, err)
	}
	for name, raw := range map[string]string{
		"bad slug":       strings.Replace(entry(""), "x-1:", "X_1:", 1),
		"no baseline":    "x:\n  instance: X\n  config: c.json\n  content:\n    title: X\n",
		"negative cost":  strings.Replace(entry(""), "allocations: 1", "allocations: -1", 1),
		"escaping path":  entry("  files:\n  - ../secret\n"),
		"missing file":   entry("  files:\n  - missing/File.lean\n"),
		"not a mapping":  "- a\n- b\n",
		"duplicate slug": entry("") + strings.TrimPrefix(entry(""), ""),
		"bad instance":   strings.Replace(entry(""), "instance: X", "instance: ../X", 1),
	} {
		if _, err := golf.ParseRegistry([]byte(raw), read, exists); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRules(t *testing.T) {
	for _, ok := range []string{"Main.lean", "Num2Bits.lean", "_Helper.lean", "A1_b.lean"} {
		if err := golf.CheckFileName(ok); err != nil {
			t.Errorf("CheckFileName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "dir/Main.lean", `dir\Main.lean`, "../Main.lean", ".hidden.lean", "Main.txt", "Main", "1st.lean", "a b.lean", "Mäin.lean", strings.Repeat("a", 101) + ".lean"} {
		if err := golf.CheckFileName(bad); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Errorf("CheckFileName(%q) = %v, want EINVALID", bad, err)
		}
	}
	for s, want := range map[string]int64{"0": 0, "42": 42, " 7 ": 7} {
		if got, err := golf.ParseCost("allocations", s); err != nil || got != want {
			t.Errorf("ParseCost(%q) = %d, %v", s, got, err)
		}
	}
	for _, bad := range []string{"", "-1", "+1", "1.5", "1e3", "abc", "0x10", "99999999999999999999"} {
		if _, err := golf.ParseCost("constraints", bad); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Errorf("ParseCost(%q) = %v, want EINVALID", bad, err)
		}
	}
	main := golf.File{Name: "Main.lean", Data: []byte("def x := 1\n")}
	lim := golf.Limits{MaxFileBytes: 100, MaxSubmissionBytes: 150, MaxFiles: 3}
	if err := golf.CheckFiles([]golf.File{main}, lim); err != nil {
		t.Fatal(err)
	}
	for name, files := range map[string][]golf.File{
		"none":       nil,
		"no main":    {{Name: "Other.lean", Data: []byte("x")}},
		"duplicate":  {main, main},
		"too large":  {{Name: "Main.lean", Data: bytes.Repeat([]byte("a"), 101)}},
		"total":      {main, {Name: "A.lean", Data: bytes.Repeat([]byte("a"), 80)}, {Name: "B.lean", Data: bytes.Repeat([]byte("a"), 80)}},
		"count":      {main, {Name: "A.lean"}, {Name: "B.lean"}, {Name: "C.lean"}},
		"not utf8":   {{Name: "Main.lean", Data: []byte{0xff, 0xfe}}},
		"nul":        {{Name: "Main.lean", Data: []byte("a\x00b")}},
		"path":       {main, {Name: "sub/A.lean"}},
		"wrong kind": {main, {Name: "notes.md"}},
	} {
		if err := golf.CheckFiles(files, lim); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Errorf("%s: CheckFiles = %v, want EINVALID", name, err)
		}
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const cleanMain = `import Solution.X.Helper
/- A comment that mentions sorry, native_decide and
   /- nested: axiom bad : False -/ admit -/
namespace Solution.X
-- sorry in a line comment
def msg := "sorry, native_decide, axiom no : False"
def c := 'a'
def x' := 1
theorem t : 1 + 1 = 2 := by decide
axiom hPrime : True
end Solution.X
`

func TestLintPasses(t *testing.T) {
	dir := writeFiles(t, map[string]string{"Main.lean": cleanMain, "Helper.lean": "def helper := 2\n"})
	var log bytes.Buffer
	res, err := golf.Lint(dir, golf.LintConfig{PermittedAxioms: []string{"propext", "Solution.X.hPrime"}}, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || len(res.Failed) != 0 {
		t.Fatalf("lint failed: %+v\n%s", res, log.String())
	}
	for _, rule := range []string{golf.RuleMainPresent, golf.RuleFlatNames, golf.RuleFileSize, golf.RuleNativeDecide, golf.RuleSorry, golf.RuleAxioms} {
		if !strings.Contains(log.String(), "PASS "+rule+":") {
			t.Errorf("no PASS line for %s in\n%s", rule, log.String())
		}
	}
}

func TestLintFailures(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		rule  string
		text  string
	}{
		{"missing main", map[string]string{"Other.lean": "def a := 1\n"}, golf.RuleMainPresent, "Main.lean is missing"},
		{"nested dir", map[string]string{"Main.lean": "def a := 1\n", "sub/A.lean": "x"}, golf.RuleFlatNames, "sub is not a regular file"},
		{"other file", map[string]string{"Main.lean": "def a := 1\n", "notes.txt": "x"}, golf.RuleFlatNames, "notes.txt"},
		{"too large", map[string]string{"Main.lean": strings.Repeat("-- x\n", 100)}, golf.RuleFileSize, "Main.lean is 500 bytes"},
		{"native_decide", map[string]string{"Main.lean": "theorem t : 2 + 2 = 4 := by\n  native_decide\n"}, golf.RuleNativeDecide, "Main.lean:2: native_decide"},
		{"decide +native", map[string]string{"Main.lean": "theorem t : True := by decide +native\n"}, golf.RuleNativeDecide, "decide +native"},
		{"sorry", map[string]string{"Main.lean": "theorem t : False := by\n  sorry\n"}, golf.RuleSorry, "Main.lean:2: sorry"},
		{"admit", map[string]string{"Main.lean": "def a := 1\n", "B.lean": "theorem t : False := by admit\n"}, golf.RuleSorry, "B.lean:1: admit"},
		{"axiom", map[string]string{"Main.lean": "namespace Solution.X\naxiom cheat : False\nend Solution.X\n"}, golf.RuleAxioms, "Main.lean:2: axiom Solution.X.cheat is not permitted"},
		{"root axiom", map[string]string{"Main.lean": "namespace A\naxiom _root_.propext2 : True\nend A\n"}, golf.RuleAxioms, "axiom propext2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			res, err := golf.Lint(writeFiles(t, tc.files), golf.LintConfig{PermittedAxioms: []string{"propext"}, MaxFileBytes: 400}, &log)
			if err != nil {
				t.Fatal(err)
			}
			if res.OK || !strings.Contains(strings.Join(res.Failed, ","), tc.rule) {
				t.Fatalf("result %+v, want %s failed\n%s", res, tc.rule, log.String())
			}
			if !strings.Contains(log.String(), "FAIL "+tc.rule+": ") || !strings.Contains(log.String(), tc.text) {
				t.Fatalf("log lacks FAIL %s with %q:\n%s", tc.rule, tc.text, log.String())
			}
		})
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\nl11\nl12\n"
	b := "l1\nl2\nX3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\nl11\nl12\nl13\n"
	got := golf.UnifiedDiff("a/Main.lean", "b/Main.lean", a, b)
	want := `--- a/Main.lean
+++ b/Main.lean
@@ -1,6 +1,6 @@
 l1
 l2
-l3
+X3
 l4
 l5
 l6
@@ -10,3 +10,4 @@
 l10
 l11
 l12
+l13
`
	if got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}
	if golf.UnifiedDiff("a", "b", a, a) != "" {
		t.Fatal("equal texts give a diff")
	}
	files := golf.DiffFiles(
		[]golf.File{{Name: "Main.lean", Data: []byte("x\n")}, {Name: "Old.lean", Data: []byte("o\n")}, {Name: "Same.lean", Data: []byte("s\n")}},
		[]golf.File{{Name: "Main.lean", Data: []byte("y")}, {Name: "New.lean", Data: []byte("n\n")}, {Name: "Same.lean", Data: []byte("s\n")}})
	wantFiles := "--- a/Main.lean\n+++ b/Main.lean\n@@ -1 +1 @@\n-x\n+y\n\\ No newline at end of file\n" +
		"--- /dev/null\n+++ b/New.lean\n@@ -0,0 +1 @@\n+n\n" +
		"--- a/Old.lean\n+++ /dev/null\n@@ -1 +0,0 @@\n-o\n"
	if files != wantFiles {
		t.Fatalf("DiffFiles:\n%s\nwant:\n%s", files, wantFiles)
	}
}

func TestTarRoundTrip(t *testing.T) {
	files := []golf.File{{Name: "b/Two.lean", Data: []byte("2")}, {Name: "One.lean", Data: []byte("1")}}
	tgz, err := golf.TarGz("sub", files)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := golf.TarGz("sub", []golf.File{files[1], files[0]})
	if !bytes.Equal(tgz, again) {
		t.Fatal("tarball depends on file order")
	}
	dir := t.TempDir()
	if err := golf.Untar(bytes.NewReader(tgz), dir, 0); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "sub", "b", "Two.lean")); string(b) != "2" {
		t.Fatalf("extracted %q", b)
	}
	if err := golf.Untar(bytes.NewReader(tgz), t.TempDir(), 1); err == nil {
		t.Fatal("size cap not enforced")
	}
	if _, err := golf.TarGz("", []golf.File{{Name: "../x"}}); err == nil {
		t.Fatal("escaping name accepted")
	}
	got, err := golf.ReadDirFiles("testdata/challenges", 0)
	if err != nil || len(got) != 25 {
		t.Fatalf("ReadDirFiles = %d files, %v", len(got), err)
	}
}
