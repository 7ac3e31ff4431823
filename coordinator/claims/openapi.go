package claims

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"html/template"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// OpenAPIDocument is the root OpenAPI 3.1 document: the claim routes at
// their default prefix, the ledger's admin routes, and room (tags Miners,
// Tasks, Results) for the Pool's own routes.
//
//go:embed openapi.json
var OpenAPIDocument []byte

// MountDocs serves the document at /openapi.json and as a page at /docs
// and /redoc.
func MountDocs(r fiber.Router) {
	r.Get("/openapi.json", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(OpenAPIDocument)
	})
	page := func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(docsPage)
	}
	r.Get("/docs", page)
	r.Get("/redoc", page)
}

// docsPage is rendered once from the document, as the Ethproofs surface
// renders its own, so the page cannot disagree with the document and needs
// no script from elsewhere.
var docsPage = mustRenderDocs(OpenAPIDocument)

type docOperation struct {
	Method, Path, Summary, Description string
	Auth                               bool
	Params                             []string
	Responses                          []string
}

type docSection struct {
	Tag        string
	Operations []docOperation
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
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			Responses map[string]struct {
				Description string `json:"description"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		panic("claims: OpenAPI document: " + err.Error())
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
		for _, m := range []string{"get", "post", "put", "patch", "delete"} {
			op, ok := d.Paths[p][m]
			if !ok {
				continue
			}
			o := docOperation{Method: strings.ToUpper(m), Path: p, Summary: op.Summary, Description: op.Description, Auth: len(op.Security) > 0}
			for _, prm := range op.Parameters {
				o.Params = append(o.Params, prm.Name+" ("+prm.In+")")
			}
			codes := make([]string, 0, len(op.Responses))
			for code := range op.Responses {
				codes = append(codes, code)
			}
			slices.Sort(codes)
			for _, code := range codes {
				o.Responses = append(o.Responses, code+" "+op.Responses[code].Description)
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
	if err := docsTemplate.Execute(&buf, map[string]any{"Info": d.Info, "Sections": sections}); err != nil {
		panic("claims: docs page: " + err.Error())
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
code{font-family:monospace;font-size:.9em;background:#f6f6f6}
.auth{font-size:.8em;color:#8a5a00;margin-left:.5rem}
</style></head><body>
<h1>{{.Info.Title}} <small>{{.Info.Version}}</small></h1>
<p>{{.Info.Description}}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a></p>
{{range .Sections}}{{if .Operations}}<h2>{{.Tag}}</h2>
{{range .Operations}}<div class="op"><div><span class="m">{{.Method}}</span><code>{{.Path}}</code>{{if .Auth}}<span class="auth">admin</span>{{end}}</div>
<p><b>{{.Summary}}</b>{{if .Description}}<br>{{.Description}}{{end}}</p>
{{if .Params}}<p>Parameters: {{range .Params}}<code>{{.}}</code> {{end}}</p>{{end}}
<p>{{range .Responses}}{{.}}<br>{{end}}</p></div>
{{end}}{{end}}{{end}}
</body></html>
`))
