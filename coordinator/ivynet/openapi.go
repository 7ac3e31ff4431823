package ivynet

import (
	_ "embed"

	"github.com/proofgrid/proofgrid/coordinator/web"
)

// OpenAPIDocument is the OpenAPI 3.1 document of this surface: the Ivynet
// draft's routes with proofgrid's extensions, served at /v1/openapi.json.
//
//go:embed openapi.json
var OpenAPIDocument []byte

var (
	openAPI = web.ServeJSON(OpenAPIDocument)
	docs    = web.ServeHTML(web.DocsPage(OpenAPIDocument, Prefix, Prefix+"/openapi.json"))
)
