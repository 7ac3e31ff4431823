package golf

import (
	_ "embed"

	"github.com/proofgrid/proofgrid/coordinator/web"
)

// OpenAPIDocument is the OpenAPI 3.1 document of the surface. Its paths
// are absolute, because the downloads live outside /api/agent/v1.
//
//go:embed openapi.json
var OpenAPIDocument []byte

var (
	openAPI = web.ServeJSON(OpenAPIDocument)
	docs    = web.ServeHTML(web.DocsPage(OpenAPIDocument, "", Prefix+"/openapi.json"))
)
