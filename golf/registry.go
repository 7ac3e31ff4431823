package golf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// RegistryFile is the challenge registry at the root of a challenge
// project, in the layout of zksecurity/zk-golf-challenges.
const RegistryFile = "instances.yml"

// Challenge is one entry of the registry, with its comparator config.
type Challenge struct {
	// Slug names the challenge in URLs, e.g. "sha256-hash".
	Slug string `json:"slug"`
	// Type is "public" for challenges anyone may see.
	Type string `json:"type"`
	// Instance is the Lean instance name, e.g. "SHA256": the challenge
	// lives in Challenge/Instances/<Instance>, the solution in
	// Solution/<Instance>.
	Instance string `json:"instance"`
	// ConfigPath is the comparator config, e.g. configs/SHA256.json.
	ConfigPath string `json:"config"`
	// CostPath is the Lean file that states the cost theorem.
	CostPath string `json:"cost"`
	// Namespace is the solution's Lean namespace, e.g. Solution.SHA256.
	Namespace string `json:"namespace"`
	// Files are the project paths (files or directories) the challenge
	// needs.
	Files       []string          `json:"files"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Tags        []string          `json:"tags"`
	Baseline    Cost              `json:"baseline"`
	Comparison  []ComparisonPoint `json:"comparison_points"`
	// Config is the comparator config the checker enforces.
	Config ComparatorConfig `json:"comparator"`
}

// SolutionDir is where a submission's files go inside the project.
func (c Challenge) SolutionDir() string { return path.Join("Solution", c.Instance) }

// ComparisonPoint is a known circuit the challenge compares with.
type ComparisonPoint struct {
	Name    string `json:"name" yaml:"name"`
	Score   int64  `json:"score" yaml:"score"`
	Caveats string `json:"caveats" yaml:"caveats"`
}

// ComparatorConfig is a configs/<Instance>.json file: what
// leanprover/comparator checks, and the only axioms a solution may rely on.
type ComparatorConfig struct {
	ChallengeModule string   `json:"challenge_module"`
	SolutionModule  string   `json:"solution_module"`
	TheoremNames    []string `json:"theorem_names"`
	DefinitionNames []string `json:"definition_names,omitempty"`
	PermittedAxioms []string `json:"permitted_axioms"`
	EnableNanoda    bool     `json:"enable_nanoda"`
}

// registryEntry is one entry of instances.yml as written.
type registryEntry struct {
	Type      string   `yaml:"type"`
	Instance  string   `yaml:"instance"`
	Config    string   `yaml:"config"`
	Cost      string   `yaml:"cost"`
	Namespace string   `yaml:"namespace"`
	Files     []string `yaml:"files"`
	Content   struct {
		Title       string   `yaml:"title"`
		Description string   `yaml:"description"`
		Tags        []string `yaml:"tags"`
	} `yaml:"content"`
	Baseline         *Cost             `yaml:"baseline"`
	ComparisonPoints []ComparisonPoint `yaml:"comparison_points"`
}

var (
	slugPattern     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	instancePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,99}$`)
)

// ValidSlug reports whether s is a well-formed challenge slug.
func ValidSlug(s string) bool { return slugPattern.MatchString(s) }

// LoadRegistry reads the registry of the challenge project in dir, in the
// order it lists the challenges, with each challenge's comparator config.
// It checks that every path the registry names exists inside dir, so that
// a project that would fail every verification is refused at import.
func LoadRegistry(dir string) ([]Challenge, error) {
	raw, err := os.ReadFile(filepath.Join(dir, RegistryFile))
	if err != nil {
		return nil, fmt.Errorf("golf: %w", err)
	}
	return ParseRegistry(raw, func(p string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
	}, func(p string) error {
		_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p)))
		return err
	})
}

// ParseRegistry parses instances.yml. readFile reads a project file (the
// comparator configs) and exists checks a project path; both take
// slash-separated paths relative to the project root.
func ParseRegistry(raw []byte, readFile func(string) ([]byte, error), exists func(string) error) ([]Challenge, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("golf: %s: %w", RegistryFile, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("golf: %s is empty", RegistryFile)
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("golf: %s must map challenge slugs to entries", RegistryFile)
	}
	var out []Challenge
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		slug := m.Content[i].Value
		var e registryEntry
		if err := m.Content[i+1].Decode(&e); err != nil {
			return nil, fmt.Errorf("golf: challenge %q: %w", slug, err)
		}
		c, err := e.challenge(slug, readFile, exists)
		if err != nil {
			return nil, fmt.Errorf("golf: challenge %q: %w", slug, err)
		}
		if seen[slug] {
			return nil, fmt.Errorf("golf: challenge %q is listed twice", slug)
		}
		seen[slug] = true
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("golf: %s lists no challenge", RegistryFile)
	}
	return out, nil
}

func (e registryEntry) challenge(slug string, readFile func(string) ([]byte, error), exists func(string) error) (Challenge, error) {
	switch {
	case !ValidSlug(slug):
		return Challenge{}, errors.New("slug must be 1..64 lowercase letters, digits and '-'")
	case !instancePattern.MatchString(e.Instance):
		return Challenge{}, fmt.Errorf("instance %q must be a Lean identifier", e.Instance)
	case e.Baseline == nil:
		return Challenge{}, errors.New("baseline {allocations, constraints} is required")
	case e.Baseline.Allocations < 0 || e.Baseline.Constraints < 0 || e.Baseline.Allocations > maxCost || e.Baseline.Constraints > maxCost:
		return Challenge{}, errors.New("baseline costs must be non-negative integers")
	case strings.TrimSpace(e.Content.Title) == "":
		return Challenge{}, errors.New("content.title is required")
	case e.Config == "":
		return Challenge{}, errors.New("config is required")
	}
	if e.Type == "" {
		e.Type = "public"
	}
	for _, p := range append([]string{e.Config, e.Cost}, e.Files...) {
		if p == "" {
			continue
		}
		if err := checkProjectPath(p); err != nil {
			return Challenge{}, err
		}
		if err := exists(p); err != nil {
			return Challenge{}, fmt.Errorf("path %s: %w", p, err)
		}
	}
	raw, err := readFile(e.Config)
	if err != nil {
		return Challenge{}, fmt.Errorf("config: %w", err)
	}
	cfg, err := ParseComparatorConfig(raw)
	if err != nil {
		return Challenge{}, fmt.Errorf("config %s: %w", e.Config, err)
	}
	tags := e.Content.Tags
	if tags == nil {
		tags = []string{}
	}
	files := e.Files
	if files == nil {
		files = []string{}
	}
	cmp := e.ComparisonPoints
	if cmp == nil {
		cmp = []ComparisonPoint{}
	}
	return Challenge{
		Slug: slug, Type: e.Type, Instance: e.Instance, ConfigPath: e.Config, CostPath: e.Cost, Namespace: e.Namespace,
		Files: files, Title: e.Content.Title, Description: e.Content.Description, Tags: tags,
		Baseline: *e.Baseline, Comparison: cmp, Config: cfg,
	}, nil
}

// ParseComparatorConfig parses a comparator config. Unknown fields are
// kept out rather than refused: the comparator grows options.
func ParseComparatorConfig(raw []byte) (ComparatorConfig, error) {
	var c ComparatorConfig
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&c); err != nil {
		return c, err
	}
	if c.SolutionModule == "" || c.ChallengeModule == "" {
		return c, errors.New("challenge_module and solution_module are required")
	}
	if c.PermittedAxioms == nil {
		c.PermittedAxioms = []string{}
	}
	if c.TheoremNames == nil {
		c.TheoremNames = []string{}
	}
	return c, nil
}

// checkProjectPath refuses paths that would leave the project.
func checkProjectPath(p string) error {
	if path.IsAbs(p) || strings.Contains(p, `\`) || !fs.ValidPath(p) {
		return fmt.Errorf("path %q must be relative to the project root, without '..'", p)
	}
	return nil
}
