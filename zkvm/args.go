package zkvm

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Placeholder names. In a command template, {name} stands for the value of
// the job at hand, for example "--block={block_number}".
const (
	// PlaceholderBlockNumber is the block number in decimal.
	PlaceholderBlockNumber = "block_number"
	// PlaceholderBlockHash is the block hash as 0x and 64 lowercase hex digits.
	PlaceholderBlockHash = "block_hash"
	// PlaceholderRPCURL is the execution-layer RPC endpoint the prover
	// fetches the block and its witness from.
	PlaceholderRPCURL = "rpc_url"
	// PlaceholderOutput is the path the prover writes its proof to.
	PlaceholderOutput = "output"
	// PlaceholderVKPath is the cluster version's verification key path.
	PlaceholderVKPath = "vk_path"
	// PlaceholderProof is the path of the proof file a verifier checks.
	PlaceholderProof = "proof"
)

// placeholderEnv names the environment variable that carries each
// placeholder's value as well, for provers that read their environment
// rather than their arguments.
var placeholderEnv = map[string]string{
	PlaceholderBlockNumber: "PROOFGRID_BLOCK_NUMBER",
	PlaceholderBlockHash:   "PROOFGRID_BLOCK_HASH",
	PlaceholderRPCURL:      "PROOFGRID_RPC_URL",
	PlaceholderOutput:      "PROOFGRID_OUTPUT",
	PlaceholderVKPath:      "PROOFGRID_VK_PATH",
	PlaceholderProof:       "PROOFGRID_PROOF",
}

// KnownPlaceholder reports whether name (without braces) is a placeholder.
func KnownPlaceholder(name string) bool {
	_, ok := placeholderEnv[name]
	return ok
}

// MissingValueError reports a placeholder that a template uses but the job
// has no value for (an empty value counts as none).
type MissingValueError struct {
	Placeholder string
}

// Error implements the error interface.
func (e *MissingValueError) Error() string {
	return fmt.Sprintf("zkvm: placeholder {%s} is used but has no value", e.Placeholder)
}

// ExpandArgs substitutes placeholders in each element of template and
// returns the resulting argument vector; template is not modified.
//
// Each argument is expanded on its own and passed to the program as one
// argument, never through a shell, so a value containing spaces, quotes or
// shell syntax cannot inject anything. Expansion is a single pass: braces
// inside a substituted value are not expanded again.
//
// A {name} where name is lowercase letters, digits and underscores and is
// not a known placeholder is an error, so that a typo in a configured
// template fails loudly instead of reaching the prover as literal text. Any
// other brace (JSON, "{}", "{Name}") is kept as it is. A known placeholder
// whose value is missing or empty gives a *MissingValueError.
func ExpandArgs(template []string, values map[string]string) ([]string, error) {
	out := make([]string, len(template))
	for i, arg := range template {
		s, err := expand(arg, values)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i, err)
		}
		out[i] = s
	}
	return out, nil
}

// expand substitutes the placeholders of one string.
func expand(s string, values map[string]string) (string, error) {
	return expandWith(s, values, KnownPlaceholder)
}

// ExpandTemplate is ExpandArgs for another set of placeholders: known
// lists the names (without braces) a template may use, so that programs
// other than provers and verifiers (zkGolf's checker) share the rules of
// ExpandArgs: one argument per element, no shell, a single pass, unknown
// and empty placeholders refused.
func ExpandTemplate(template []string, values map[string]string, known []string) ([]string, error) {
	isKnown := func(name string) bool { return slices.Contains(known, name) }
	out := make([]string, len(template))
	for i, arg := range template {
		s, err := expandWith(arg, values, isKnown)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i, err)
		}
		out[i] = s
	}
	return out, nil
}

func expandWith(s string, values map[string]string, known func(string) bool) (string, error) {
	if !strings.Contains(s, "{") {
		return s, nil
	}
	var b strings.Builder
	for {
		open := strings.IndexByte(s, '{')
		if open < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		end := strings.IndexByte(s[open+1:], '}')
		if end < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		name := s[open+1 : open+1+end]
		if !isPlaceholderName(name) {
			// Not a placeholder: keep the brace and look further along.
			b.WriteString(s[:open+1])
			s = s[open+1:]
			continue
		}
		if !known(name) {
			return "", fmt.Errorf("zkvm: unknown placeholder {%s}", name)
		}
		v := values[name]
		if v == "" {
			return "", &MissingValueError{Placeholder: name}
		}
		b.WriteString(s[:open])
		b.WriteString(v)
		s = s[open+1+end+1:]
	}
}

func isPlaceholderName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// FormatBlockHash writes a block hash the way placeholders carry it: 0x
// and 64 lowercase hex digits. The zero hash means "unknown" and gives "".
func FormatBlockHash(h [32]byte) string {
	if h == ([32]byte{}) {
		return ""
	}
	return "0x" + hex.EncodeToString(h[:])
}

// ParseBlockHash reads a block hash written as 64 hex digits with an
// optional 0x prefix, in either case.
func ParseBlockHash(s string) ([32]byte, error) {
	var h [32]byte
	t := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(t) != 64 {
		return h, fmt.Errorf("zkvm: block hash %q: want 64 hex digits", s)
	}
	if _, err := hex.Decode(h[:], []byte(t)); err != nil {
		return h, fmt.Errorf("zkvm: block hash %q: %w", s, err)
	}
	return h, nil
}

// jobValues lists the placeholder values of one job; empty ones are left
// out so that ExpandArgs reports them as missing.
func jobValues(blockNumber uint64, blockHash [32]byte, rpcURL, output, vkPath, proof string) map[string]string {
	v := map[string]string{PlaceholderBlockNumber: strconv.FormatUint(blockNumber, 10)}
	for name, val := range map[string]string{
		PlaceholderBlockHash: FormatBlockHash(blockHash),
		PlaceholderRPCURL:    rpcURL,
		PlaceholderOutput:    output,
		PlaceholderVKPath:    vkPath,
		PlaceholderProof:     proof,
	} {
		if val != "" {
			v[name] = val
		}
	}
	return v
}

// jobEnv turns placeholder values into PROOFGRID_* environment entries.
func jobEnv(values map[string]string) []string {
	env := make([]string, 0, len(values))
	for name, val := range values {
		env = append(env, placeholderEnv[name]+"="+val)
	}
	slices.Sort(env)
	return env
}
