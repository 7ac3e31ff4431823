package claims

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid/coordinator/web"
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
	page := web.ServeHTML(web.DocsPage(OpenAPIDocument, "", "/openapi.json"))
	r.Get("/openapi.json", web.ServeJSON(OpenAPIDocument))
	r.Get("/docs", page)
	r.Get("/redoc", page)
}
