package ethproofs

import (
	_ "embed"

	"github.com/proofgrid/proofgrid/coordinator/web"
)

// OpenAPIDocument is proofgrid's OpenAPI 3.1 document of this surface:
// the Ethproofs service's document with the paths it omits and proofgrid's
// extensions added.
//
//go:embed openapi.json
var OpenAPIDocument []byte

var (
	openAPI = web.ServeJSON(OpenAPIDocument)
	docs    = web.ServeHTML(web.DocsPage(OpenAPIDocument, "/api/v0", "/api/v0/openapi.json"))
)
