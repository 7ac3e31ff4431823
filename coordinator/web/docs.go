package web

import (
	"bytes"
	"encoding/json"
	"html/template"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// ServeJSON answers every request with the JSON document doc (an OpenAPI
// document, say).
func ServeJSON(doc []byte) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(doc)
	}
}

// ServeHTML answers every request with the HTML page.
func ServeHTML(page []byte) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(page)
	}
}

type docOperation struct {
	Method, Path, Summary, Description string
	Auth                               bool
	Params                             []docParam
	Body                               string
	Responses                          []docResponse
}

type docParam struct{ Name, In, Description, Schema string }

type docResponse struct{ Code, Description string }

type docSection struct {
	Tag        string
	Operations []docOperation
}

// DocsPage renders an OpenAPI document as one self-contained HTML page:
// operations grouped by tag, with parameters, body and responses. It is
// rendered once, at start, so the page and the document cannot disagree
// and the page needs no script from elsewhere. pathPrefix is prepended to
// the document's paths (its servers' base path); jsonURL is where the
// document itself is served. An invalid document panics: documents are
// embedded, so that is a programming error.
func DocsPage(doc []byte, pathPrefix, jsonURL string) []byte {
	var d struct {
		Info struct {
			Title, Version, Description string
		} `json:"info"`
		Tags  []struct{ Name string } `json:"tags"`
		Paths map[string]map[string]struct {
			Tags        []string         `json:"tags"`
			Summary     string           `json:"summary"`
			Description string           `json:"description"`
			Security    []map[string]any `json:"security"`
			Parameters  []struct {
				Name        string          `json:"name"`
				In          string          `json:"in"`
				Description string          `json:"description"`
				Schema      json.RawMessage `json:"schema"`
			} `json:"parameters"`
			RequestBody *struct {
				Content map[string]struct {
					Schema json.RawMessage `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
			Responses map[string]struct {
				Description string `json:"description"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		panic("web: OpenAPI document: " + err.Error())
	}
	var sections []docSection
	index := map[string]int{}
	for _, t := range d.Tags {
		index[t.Name] = len(sections)
		sections = append(sections, docSection{Tag: t.Name})
	}
	paths := make([]string, 0, len(d.Paths))
	for p := range d.Paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		methods := make([]string, 0, len(d.Paths[p]))
		for m := range d.Paths[p] {
			methods = append(methods, m)
		}
		slices.Sort(methods)
		for _, m := range methods {
			op := d.Paths[p][m]
			o := docOperation{Method: strings.ToUpper(m), Path: pathPrefix + p, Summary: op.Summary, Description: op.Description, Auth: len(op.Security) > 0}
			for _, prm := range op.Parameters {
				o.Params = append(o.Params, docParam{prm.Name, prm.In, prm.Description, compact(prm.Schema)})
			}
			if op.RequestBody != nil {
				for ct, c := range op.RequestBody.Content {
					o.Body = ct + " " + compact(c.Schema)
				}
			}
			codes := make([]string, 0, len(op.Responses))
			for code := range op.Responses {
				codes = append(codes, code)
			}
			slices.Sort(codes)
			for _, code := range codes {
				o.Responses = append(o.Responses, docResponse{code, op.Responses[code].Description})
			}
			tag := "Other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			i, ok := index[tag]
			if !ok {
				i = len(sections)
				index[tag] = i
				sections = append(sections, docSection{Tag: tag})
			}
			sections[i].Operations = append(sections[i].Operations, o)
		}
	}
	var buf bytes.Buffer
	err := docsTemplate.Execute(&buf, map[string]any{
		"Title": d.Info.Title, "Version": d.Info.Version, "Description": d.Info.Description, "Sections": sections, "JSONURL": jsonURL,
	})
	if err != nil {
		panic("web: docs page: " + err.Error())
	}
	return buf.Bytes()
}

func compact(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

var docsTemplate = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
.op{border:1px solid #e3e3e3;border-radius:6px;padding:.6rem .9rem;margin:.8rem 0}
.m{font-weight:700;font-family:monospace;display:inline-block;min-width:4.5rem}
code,pre{font-family:monospace;font-size:.9em;background:#f6f6f6}
pre{white-space:pre-wrap;word-break:break-all;padding:.4rem}
.auth{font-size:.8em;color:#8a5a00;margin-left:.5rem}
table{border-collapse:collapse;font-size:.9em}td{padding:.1rem .6rem .1rem 0;vertical-align:top}
</style></head><body>
<h1>{{.Title}} <small>{{.Version}}</small></h1>
<pre>{{.Description}}</pre>
<p>Machine-readable: <a href="{{.JSONURL}}">{{.JSONURL}}</a></p>
{{range .Sections}}{{if .Operations}}<h2>{{.Tag}}</h2>
{{range .Operations}}<div class="op"><div><span class="m">{{.Method}}</span><code>{{.Path}}</code>{{if .Auth}}<span class="auth">credential</span>{{end}}</div>
<p><b>{{.Summary}}</b>{{if .Description}}<br>{{.Description}}{{end}}</p>
{{if .Params}}<table>{{range .Params}}<tr><td><code>{{.Name}}</code></td><td>{{.In}}</td><td><code>{{.Schema}}</code></td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
{{if .Body}}<p>Body: <code>{{.Body}}</code></p>{{end}}
<table>{{range .Responses}}<tr><td><b>{{.Code}}</b></td><td>{{.Description}}</td></tr>{{end}}</table></div>
{{end}}{{end}}{{end}}
</body></html>
`))
