package zkvm

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/proofgrid/proofgrid"
)

// DefaultPassEnv lists the variables of the calling process's environment
// that an exec prover or verifier receives without being asked for: what
// a program needs to find its tools, libraries, locale, temporary files
// and GPUs. A name ending in "*" is a prefix. Everything else in the
// environment stays out of the command's reach, because the agent's and
// the coordinator's environments hold credentials (the agent's enrolment
// token and Redis URL, the coordinator's JWT secret and database URL) that
// a prover, a third-party program printing what it likes, must not see.
var DefaultPassEnv = []string{
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "TZ",
	"LANG", "LANGUAGE", "LC_*",
	"TMPDIR", "TMP", "TEMP",
	"XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR",
	"LD_LIBRARY_PATH",
	"CUDA_*", "NVIDIA_*", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
	"RUST_LOG", "RUST_BACKTRACE",
	// Windows cannot start most programs without these.
	"SYSTEMROOT", "WINDIR", "COMSPEC", "PATHEXT", "USERPROFILE",
}

// reservedEnvPrefix is the prefix of proofgrid's own variables. The
// command gets the job's PROOFGRID_* variables; those of the process that
// runs it (PROOFGRID_AGENT_TOKEN among them) are never passed on.
const reservedEnvPrefix = "PROOFGRID_"

// checkPassEnv checks the names of a PassEnv list.
func checkPassEnv(pass []string) error {
	for _, name := range pass {
		base := strings.TrimSuffix(name, "*")
		switch {
		case base == "":
			return fmt.Errorf("pass env %q: name a variable or a prefix, not everything", name)
		case strings.ContainsAny(base, "=*") || strings.IndexFunc(base, unicode.IsSpace) >= 0:
			return fmt.Errorf("pass env %q: want a variable name, optionally ending in *", name)
		case strings.HasPrefix(strings.ToUpper(base), reservedEnvPrefix):
			return fmt.Errorf("pass env %q: proofgrid's own variables are not passed on", name)
		}
	}
	return nil
}

// passes reports whether the variable name matches one of the patterns.
func passes(name string, patterns []string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(name, prefix) {
				return true
			}
		} else if name == p {
			return true
		}
	}
	return false
}

// childEnv builds a command's environment: the variables of environ that
// DefaultPassEnv or pass name, then the job's own entries, which win over
// inherited ones of the same name.
func childEnv(environ, pass, job []string) []string {
	out := make([]string, 0, len(job)+16)
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || strings.HasPrefix(strings.ToUpper(name), reservedEnvPrefix) {
			continue
		}
		if passes(name, DefaultPassEnv) || passes(name, pass) {
			out = append(out, kv)
		}
	}
	// exec.Cmd keeps the last value of a duplicated name.
	return append(out, job...)
}

// CheckVKPath reports whether a cluster version's vk_path may reach a
// prover command through {vk_path}: the empty path (no key) or a relative
// name. A path starting with "-" would read as an option of the command,
// an absolute one or one with ".." segments would point the command at
// files outside its keys, and control characters (NUL among them) cut or
// forge arguments and log lines. The error is EINVALID.
func CheckVKPath(p string) error {
	bad := func(why string) error {
		return proofgrid.Errorf(proofgrid.EINVALID, "Invalid vk_path: %s", why)
	}
	switch {
	case p == "":
		return nil
	case !utf8.ValidString(p):
		return bad("must be UTF-8")
	case strings.IndexFunc(p, unicode.IsControl) >= 0:
		return bad("must not contain control characters")
	case strings.HasPrefix(p, "-"):
		return bad(`must not start with "-"`)
	case strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`):
		return bad("must be a relative path")
	}
	for _, seg := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return bad(`must not contain ".." segments`)
		}
	}
	return nil
}
