package console

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

// Series is one line of a chart.
type Series struct {
	Name   string
	Values []float64
}

// Chart is a line chart over shared timestamps, drawn as inline SVG on the
// server, so no chart library is shipped to the browser.
type Chart struct {
	Title string
	Unit  string
	// Max fixes the top of the scale (e.g. 100 for percentages); 0 takes
	// the highest value.
	Max    float64
	Times  []time.Time
	Series []Series
}

const (
	chartW, chartH = 600.0, 160.0
	padL, padR     = 48.0, 8.0
	padT, padB     = 8.0, 20.0
)

// SVG renders the chart. A chart with fewer than two points says so
// instead of drawing a line.
func (ch Chart) SVG() template.HTML {
	var b strings.Builder
	top := ch.Max
	last := ""
	for _, s := range ch.Series {
		for _, v := range s.Values {
			top = math.Max(top, v)
		}
		if n := len(s.Values); n > 0 && last == "" {
			last = formatValue(s.Values[n-1], ch.Unit)
		}
	}
	if top <= 0 {
		top = 1
	}
	fmt.Fprintf(&b, `<figure class="chart"><figcaption>%s <span class="muted">%s</span></figcaption>`,
		template.HTMLEscapeString(ch.Title), template.HTMLEscapeString(last))
	if len(ch.Times) < 2 {
		b.WriteString(`<p class="muted">Not enough history yet: a chart needs two heartbeats.</p></figure>`)
		return template.HTML(b.String())
	}
	fmt.Fprintf(&b, `<svg viewBox="0 0 %g %g" role="img" aria-label="%s over time" preserveAspectRatio="none">`,
		chartW, chartH, template.HTMLEscapeString(ch.Title))
	plotW, plotH := chartW-padL-padR, chartH-padT-padB
	// Grid lines and labels at 0, half and top.
	for _, f := range []float64{0, 0.5, 1} {
		y := padT + plotH*(1-f)
		fmt.Fprintf(&b, `<line class="grid" x1="%g" y1="%.1f" x2="%g" y2="%.1f"/>`, padL, y, chartW-padR, y)
		fmt.Fprintf(&b, `<text class="axis" x="%g" y="%.1f" text-anchor="end">%s</text>`, padL-4, y+4,
			template.HTMLEscapeString(formatValue(top*f, ch.Unit)))
	}
	t0, t1 := ch.Times[0], ch.Times[len(ch.Times)-1]
	span := t1.Sub(t0).Seconds()
	if span <= 0 {
		span = 1
	}
	for i, s := range ch.Series {
		var p strings.Builder
		for j, v := range s.Values {
			if j >= len(ch.Times) {
				break
			}
			x := padL + plotW*ch.Times[j].Sub(t0).Seconds()/span
			y := padT + plotH*(1-math.Min(v, top)/top)
			cmd := "L"
			if j == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&p, "%s%.1f %.1f ", cmd, x, y)
		}
		fmt.Fprintf(&b, `<path class="line s%d" d="%s"><title>%s</title></path>`, i%6, strings.TrimSpace(p.String()),
			template.HTMLEscapeString(s.Name))
	}
	fmt.Fprintf(&b, `<text class="axis" x="%g" y="%g"><tspan>%s</tspan></text>`, padL, chartH-4, t0.UTC().Format("15:04"))
	fmt.Fprintf(&b, `<text class="axis" x="%g" y="%g" text-anchor="end">%s UTC</text>`, chartW-padR, chartH-4, t1.UTC().Format("15:04"))
	b.WriteString(`</svg>`)
	if len(ch.Series) > 1 {
		b.WriteString(`<ul class="legend">`)
		for i, s := range ch.Series {
			fmt.Fprintf(&b, `<li><span class="swatch s%d"></span>%s</li>`, i%6, template.HTMLEscapeString(s.Name))
		}
		b.WriteString(`</ul>`)
	}
	b.WriteString(`</figure>`)
	return template.HTML(b.String())
}

// Histogram is a bar chart of counts per bucket.
type Histogram struct {
	Title  string
	Labels []string
	Counts []int
}

// SVG renders the histogram.
func (h Histogram) SVG() template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<figure class="chart"><figcaption>%s</figcaption>`, template.HTMLEscapeString(h.Title))
	top := 0
	for _, c := range h.Counts {
		top = max(top, c)
	}
	if top == 0 {
		b.WriteString(`<p class="muted">No proved blocks yet.</p></figure>`)
		return template.HTML(b.String())
	}
	fmt.Fprintf(&b, `<svg viewBox="0 0 %g %g" role="img" aria-label="%s">`, chartW, chartH, template.HTMLEscapeString(h.Title))
	plotW, plotH := chartW-padL-padR, chartH-padT-padB
	bw := plotW / float64(len(h.Counts))
	for i, c := range h.Counts {
		bh := plotH * float64(c) / float64(top)
		x := padL + bw*float64(i)
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %d</title></rect>`,
			x+1, padT+plotH-bh, bw-2, bh, template.HTMLEscapeString(h.Labels[i]), c)
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%g" text-anchor="middle">%s</text>`, x+bw/2, chartH-4, template.HTMLEscapeString(h.Labels[i]))
	}
	fmt.Fprintf(&b, `<text class="axis" x="%g" y="%g" text-anchor="end">%d</text>`, padL-4, padT+8, top)
	b.WriteString(`</svg></figure>`)
	return template.HTML(b.String())
}

// formatValue writes v with its unit, scaled for bytes.
func formatValue(v float64, unit string) string {
	switch unit {
	case "B", "B/s":
		return formatBytes(v) + strings.TrimPrefix(unit, "B")
	case "%":
		return fmt.Sprintf("%.0f %%", v)
	case "":
		return fmt.Sprintf("%.0f", v)
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f %s", v, unit)
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

func formatBytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", v, units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
