package golf

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"html/template"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// OpenAPIDocument is the OpenAPI 3.1 document of the surface. Its paths
// are absolute, because the downloads live outside /api/agent/v1.
//
//go:embed openapi.json
var OpenAPIDocument []byte

func (a *API) openAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(OpenAPIDocument)
}

func (a *API) docs(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Send(docsPage)
}

// docsPage is rendered once from the document, so the two cannot
// disagree, and the page loads nothing from elsewhere.
var docsPage = mustRenderDocs(OpenAPIDocument)

type docOp struct {
	Method, Path, Summary, Description string
	Auth                               bool
	Params                             []string
	Responses                          []string
}

func mustRenderDocs(doc []byte) []byte {
	var d struct {
		Info  struct{ Title, Version, Description string } `json:"info"`
		Tags  []struct{ Name string }                      `json:"tags"`
		Paths map[string]map[string]struct {
			Tags        []string         `json:"tags"`
			Summary     string           `json:"summary"`
			Description string           `json:"description"`
			Security    []map[string]any `json:"security"`
			Parameters  []struct {
				Name, In, Description string
			} `json:"parameters"`
			Responses map[string]struct {
				Description string `json:"description"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		panic("golf: OpenAPI document: " + err.Error())
	}
	sections := map[string][]docOp{}
	paths := make([]string, 0, len(d.Paths))
	for p := range d.Paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		for m, op := range d.Paths[p] {
			o := docOp{Method: strings.ToUpper(m), Path: p, Summary: op.Summary, Description: op.Description, Auth: len(op.Security) > 0}
			for _, prm := range op.Parameters {
				o.Params = append(o.Params, prm.Name+" ("+prm.In+"): "+prm.Description)
			}
			for code, r := range op.Responses {
				o.Responses = append(o.Responses, code+" "+r.Description)
			}
			slices.Sort(o.Responses)
			tag := "Other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			sections[tag] = append(sections[tag], o)
		}
	}
	type section struct {
		Tag string
		Ops []docOp
	}
	var ordered []section
	for _, t := range d.Tags {
		ordered = append(ordered, section{t.Name, sections[t.Name]})
	}
	var buf bytes.Buffer
	if err := docsTemplate.Execute(&buf, map[string]any{"Info": d.Info, "Sections": ordered}); err != nil {
		panic("golf: docs page: " + err.Error())
	}
	return buf.Bytes()
}

var docsTemplate = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Info.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
.op{border:1px solid #e3e3e3;border-radius:6px;padding:.6rem .9rem;margin:.8rem 0}
.m{font-weight:700;font-family:monospace;display:inline-block;min-width:4.5rem}
code,pre{font-family:monospace;font-size:.9em;background:#f6f6f6}pre{white-space:pre-wrap;padding:.4rem}
.auth{font-size:.8em;color:#8a5a00;margin-left:.5rem}ul{margin:.2rem 0}
</style></head><body>
<h1>{{.Info.Title}} <small>{{.Info.Version}}</small></h1>
<pre>{{.Info.Description}}</pre>
<p>Machine-readable: <a href="/api/agent/v1/openapi.json">/api/agent/v1/openapi.json</a></p>
{{range .Sections}}{{if .Ops}}<h2>{{.Tag}}</h2>
{{range .Ops}}<div class="op"><div><span class="m">{{.Method}}</span><code>{{.Path}}</code>{{if .Auth}}<span class="auth">token</span>{{end}}</div>
<p><b>{{.Summary}}</b>{{if .Description}}<br>{{.Description}}{{end}}</p>
{{if .Params}}<ul>{{range .Params}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
<ul>{{range .Responses}}<li>{{.}}</li>{{end}}</ul></div>
{{end}}{{end}}{{end}}
</body></html>
`))
