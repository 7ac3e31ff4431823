package golf

import (
	"fmt"
	"sort"
	"strings"
)

// diffContext is how many unchanged lines surround each hunk.
const diffContext = 3

// maxEditDistance bounds the work of one file's diff. Beyond it the file
// is shown as replaced whole, which is what a reader would make of so
// different a pair anyway.
const maxEditDistance = 4000

// DiffFiles returns the unified diff that turns base into target: one
// section per file that differs, in name order, "a/" and "b/" prefixes as
// git writes them, /dev/null for added and removed files.
func DiffFiles(base, target []File) string {
	a := make(map[string]string, len(base))
	b := make(map[string]string, len(target))
	names := map[string]bool{}
	for _, f := range base {
		a[f.Name] = string(f.Data)
		names[f.Name] = true
	}
	for _, f := range target {
		b[f.Name] = string(f.Data)
		names[f.Name] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var out strings.Builder
	for _, n := range sorted {
		av, inA := a[n]
		bv, inB := b[n]
		if inA && inB && av == bv {
			continue
		}
		from, to := "a/"+n, "b/"+n
		if !inA {
			from = "/dev/null"
		}
		if !inB {
			to = "/dev/null"
		}
		out.WriteString(UnifiedDiff(from, to, av, bv))
	}
	return out.String()
}

// UnifiedDiff returns the unified diff of two texts, or "" when they are
// equal. It uses Myers' algorithm on lines.
func UnifiedDiff(fromName, toName, a, b string) string {
	if a == b {
		return ""
	}
	al, bl := splitLines(a), splitLines(b)
	ops := diffLines(al, bl)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", fromName, toName)
	// Group the edit script into hunks with context.
	type line struct {
		kind byte // ' ', '-', '+'
		text string
		ai   int // index in a of this or the next a line
		bi   int
	}
	var lines []line
	ai, bi := 0, 0
	for _, op := range ops {
		switch op {
		case ' ':
			lines = append(lines, line{' ', al[ai], ai, bi})
			ai++
			bi++
		case '-':
			lines = append(lines, line{'-', al[ai], ai, bi})
			ai++
		case '+':
			lines = append(lines, line{'+', bl[bi], ai, bi})
			bi++
		}
	}
	for i := 0; i < len(lines); {
		if lines[i].kind == ' ' {
			i++
			continue
		}
		start := max(0, i-diffContext)
		end := i
		for end < len(lines) {
			if lines[end].kind != ' ' {
				end++
				continue
			}
			// A run of context longer than twice the context ends the
			// hunk.
			run := end
			for run < len(lines) && lines[run].kind == ' ' {
				run++
			}
			if run == len(lines) || run-end > 2*diffContext {
				end = min(end+diffContext, len(lines))
				break
			}
			end = run
		}
		var acount, bcount int
		for _, l := range lines[start:end] {
			if l.kind != '+' {
				acount++
			}
			if l.kind != '-' {
				bcount++
			}
		}
		astart, bstart := lines[start].ai+1, lines[start].bi+1
		if acount == 0 {
			astart--
		}
		if bcount == 0 {
			bstart--
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(astart, acount), hunkRange(bstart, bcount))
		for _, l := range lines[start:end] {
			out.WriteByte(l.kind)
			out.WriteString(strings.TrimSuffix(l.text, "\n"))
			out.WriteByte('\n')
			if !strings.HasSuffix(l.text, "\n") {
				out.WriteString("\\ No newline at end of file\n")
			}
		}
		i = end
	}
	return out.String()
}

func hunkRange(start, count int) string {
	if count == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, count)
}

// splitLines splits s after each newline; the last line may lack one.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// diffLines returns the shortest edit script from a to b as a sequence of
// ' ' (keep), '-' (delete from a) and '+' (insert from b), by Myers'
// O(ND) algorithm, keeping each round's frontier to trace the path back.
func diffLines(a, b []string) []byte {
	n, m := len(a), len(b)
	maxD := min(n+m, maxEditDistance)
	offset := maxD + 1
	v := make([]int, 2*maxD+3)
	var trace [][]int
	found := -1
	for d := 0; d <= maxD && found < 0; d++ {
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[offset+k-1] < v[offset+k+1]) {
				x = v[offset+k+1]
			} else {
				x = v[offset+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[offset+k] = x
			if x >= n && y >= m {
				found = d
				break
			}
		}
		snap := make([]int, 2*d+1)
		copy(snap, v[offset-d:offset+d+1])
		trace = append(trace, snap)
	}
	if found < 0 {
		// Too different: delete everything, insert everything.
		ops := make([]byte, 0, n+m)
		for range n {
			ops = append(ops, '-')
		}
		for range m {
			ops = append(ops, '+')
		}
		return ops
	}
	// Walk back from (n, m).
	var rev []byte
	x, y := n, m
	for d := found; d > 0; d-- {
		prev := trace[d-1]
		get := func(k int) int { return prev[k+(d-1)] }
		k := x - y
		var pk int
		if k == -d || (k != d && get(k-1) < get(k+1)) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := get(pk)
		py := px - pk
		for x > px && y > py {
			rev = append(rev, ' ')
			x--
			y--
		}
		if x == px {
			rev = append(rev, '+')
			y--
		} else {
			rev = append(rev, '-')
			x--
		}
	}
	for x > 0 && y > 0 {
		rev = append(rev, ' ')
		x--
		y--
	}
	ops := make([]byte, len(rev))
	for i, op := range rev {
		ops[len(rev)-1-i] = op
	}
	return ops
}
