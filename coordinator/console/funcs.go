package console

import (
	"fmt"
	"html/template"
	"time"
)

// funcs are the template helpers.
var funcs = template.FuncMap{
	"time":  timeTag,
	"bytes": bytesOf,
	"pct":   func(v float64) string { return fmt.Sprintf("%.0f %%", v) },
	"ms":    formatMS,
	"deref": func(p *int64) int64 { return *p },
	"add":   func(a, b int) int { return a + b },
	"ago":   ago,
}

// timeTag renders t as a <time> element in UTC; console.js rewrites it in
// the viewer's zone.
func timeTag(t any) template.HTML {
	var tt time.Time
	switch v := t.(type) {
	case time.Time:
		tt = v
	case *time.Time:
		if v == nil {
			return template.HTML(`<span class="muted">never</span>`)
		}
		tt = *v
	default:
		return ""
	}
	if tt.IsZero() {
		return template.HTML(`<span class="muted">never</span>`)
	}
	u := tt.UTC()
	return template.HTML(fmt.Sprintf(`<time datetime="%s">%s</time>`, u.Format(time.RFC3339), u.Format("2006-01-02 15:04:05 UTC")))
}

// formatMS writes a duration in milliseconds as seconds or minutes.
func formatMS(p *int64) string {
	if p == nil {
		return "–"
	}
	d := time.Duration(*p) * time.Millisecond
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", *p)
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	default:
		return fmt.Sprintf("%.1f min", d.Minutes())
	}
}

// ago writes how long before now t was, coarsely.
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	}
}

func templateEscape(s string) string { return template.HTMLEscapeString(s) }

// bytesOf writes a byte count, signed or not, with a binary unit.
func bytesOf(v any) string {
	switch n := v.(type) {
	case int64:
		return formatBytes(float64(n))
	case uint64:
		return formatBytes(float64(n))
	case int:
		return formatBytes(float64(n))
	}
	return fmt.Sprint(v)
}
