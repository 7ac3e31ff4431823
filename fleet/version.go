package fleet

import (
	"strconv"
	"strings"
)

// version is a parsed release version: a dotted numeric core of up to four
// components and an optional pre-release, as in semantic versioning. It is
// a value without pointers into the heap, so that judging a fleet of
// thousands of machines allocates nothing for versions.
type version struct {
	core [4]uint64
	pre  string // "" for a release
}

// parseVersion reads versions such as "1.2.3", "v0.8.6", "0.9.0-rc.1" or
// "1.4" (missing components count as zero). Build metadata after "+" is
// ignored. It reports false for anything else, "dev" for one, so that a
// build without a release version is never called behind.
func parseVersion(s string) (version, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V")
	s, _, _ = strings.Cut(s, "+")
	core, pre, hasPre := strings.Cut(s, "-")
	if core == "" || (hasPre && (pre == "" || strings.HasPrefix(pre, ".") || strings.HasSuffix(pre, ".") || strings.Contains(pre, ".."))) {
		return version{}, false
	}
	var v version
	for i := 0; ; i++ {
		part, rest, more := strings.Cut(core, ".")
		if i == len(v.core) {
			return version{}, false
		}
		n, err := strconv.ParseUint(part, 10, 64)
		if err != nil {
			return version{}, false
		}
		v.core[i] = n
		if !more {
			break
		}
		core = rest
	}
	v.pre = pre
	return v, true
}

// compare returns -1, 0 or 1 as v is older than, equal to or newer than w.
func (v version) compare(w version) int {
	for i := range v.core {
		if v.core[i] != w.core[i] {
			if v.core[i] < w.core[i] {
				return -1
			}
			return 1
		}
	}
	// A pre-release comes before its release.
	switch {
	case v.pre == w.pre:
		return 0
	case v.pre == "":
		return 1
	case w.pre == "":
		return -1
	}
	a, b := v.pre, w.pre
	for {
		x, restA, moreA := strings.Cut(a, ".")
		y, restB, moreB := strings.Cut(b, ".")
		if c := comparePre(x, y); c != 0 {
			return c
		}
		switch {
		case !moreA && !moreB:
			return 0
		case !moreA:
			return -1
		case !moreB:
			return 1
		}
		a, b = restA, restB
	}
}

// comparePre orders pre-release identifiers as semantic versioning does:
// numbers numerically and before words, words by ASCII.
func comparePre(a, b string) int {
	na, errA := strconv.ParseUint(a, 10, 64)
	nb, errB := strconv.ParseUint(b, 10, 64)
	switch {
	case errA == nil && errB == nil:
		if na == nb {
			return 0
		} else if na < nb {
			return -1
		}
		return 1
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// CompareVersions returns -1, 0 or 1 as a is older than, equal to or newer
// than b, and false when either is not a release version.
func CompareVersions(a, b string) (int, bool) {
	va, ok := parseVersion(a)
	if !ok {
		return 0, false
	}
	vb, ok := parseVersion(b)
	if !ok {
		return 0, false
	}
	return va.compare(vb), true
}

// ValidVersion reports whether s is a release version CompareVersions
// understands.
func ValidVersion(s string) bool {
	_, ok := parseVersion(s)
	return ok
}

// Behind reports whether current is an older release than latest. Unknown
// or unparsable versions are never behind: a version proofgrid cannot
// order must not make a machine look updateable.
func Behind(current, latest string) bool {
	c, ok := CompareVersions(current, latest)
	return ok && c < 0
}

// LatestVersion returns the highest release version among vs, "" when none
// is one.
func LatestVersion(vs ...string) string {
	var (
		best   version
		bestS  string
		anyYet bool
	)
	for _, s := range vs {
		v, ok := parseVersion(s)
		if ok && (!anyYet || v.compare(best) > 0) {
			best, bestS, anyYet = v, s, true
		}
	}
	return bestS
}
