package web

import (
	"bytes"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
)

// DefaultBodyLimit is the body limit of every route but the uploads.
const DefaultBodyLimit = 1 << 20

// DefaultUploadLimit bounds any upload route's body when the route sets
// no lower limit of its own.
const DefaultUploadLimit = 64 << 20

// The coordinator's app streams request bodies (Fiber's StreamRequestBody):
// the HTTP server buffers at most a few KiB of a body before the handlers
// run, and nothing reads more until one of the functions here does, with a
// limit. Without streaming the server reads every body up to the one
// app-wide limit before routing, so that limit has to fit the largest
// upload and any anonymous client could make every request that large.

// maxDiscard is how much more than its limit of a refused or unread body
// is read and dropped, so that the connection can serve the next request.
// Closing instead makes the client, which may still be sending, see its
// connection reset rather than the answer; above this much, closing is
// cheaper. Dropped bytes take no memory.
const maxDiscard = 4 << 20

// ReadBody reads the request body into memory, refusing it with ETOOLARGE
// above limit bytes, and returns it. Later calls, and
// c.Request().Body(), return the same bytes.
func ReadBody(c *fiber.Ctx, limit int) ([]byte, error) {
	req := c.Request()
	if !req.IsBodyStream() {
		body := req.Body()
		if len(body) > limit {
			return nil, tooLarge(len(body), limit)
		}
		return body, nil
	}
	size := req.Header.ContentLength()
	if size > limit {
		settle(c, 0, limit)
		return nil, tooLarge(size, limit)
	}
	if size < 0 {
		size = 0 // chunked: grow as it comes
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+1))
	if _, err := buf.ReadFrom(io.LimitReader(req.BodyStream(), int64(limit)+1)); err != nil {
		c.Response().SetConnectionClose()
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "cannot read the request body: %v", err)
	}
	if buf.Len() > limit {
		settle(c, buf.Len(), limit)
		return nil, proofgrid.Errorf(proofgrid.ETOOLARGE, "request body is larger than %d bytes, the most this endpoint accepts", limit)
	}
	// SetBodyRaw also releases the stream: the body now lives in buf.
	req.SetBodyRaw(buf.Bytes())
	return buf.Bytes(), nil
}

// settle deals with the unread rest of a streamed body of which read
// bytes were read: a rest of at most limit+maxDiscard bytes is dropped, a
// longer one (or one that cannot be read) closes the connection after the
// answer, since it would otherwise be taken for the next request.
func settle(c *fiber.Ctx, read, limit int) {
	req := c.Request()
	size := req.Header.ContentLength()
	if !req.IsBodyStream() || size == 0 {
		return
	}
	allowance := int64(limit + maxDiscard)
	if size > 0 && int64(size-read) > allowance {
		c.Response().SetConnectionClose()
		return
	}
	n, err := io.Copy(io.Discard, io.LimitReader(req.BodyStream(), allowance+1))
	if err != nil || n > allowance {
		c.Response().SetConnectionClose()
	}
}

func tooLarge(n, limit int) error {
	return proofgrid.Errorf(proofgrid.ETOOLARGE, "request body is %d bytes; this endpoint accepts at most %d", n, limit)
}

// LimitBody returns middleware that reads the body with ReadBody: bodies
// above limit bytes are refused before any later handler runs. Upload
// routes put it after their authentication.
func LimitBody(limit int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if _, err := ReadBody(c, limit); err != nil {
			return err
		}
		return c.Next()
	}
}

// BodyGuard is the app-wide body limit, installed before routing. It
// reads the body of every request up to Limit, except on the upload
// routes listed in Uploads: those read their own, larger bodies with
// ReadBody or LimitBody after authentication, so that an anonymous client
// cannot make the coordinator hold more than Limit bytes per request.
type BodyGuard struct {
	// Limit caps every body but the uploads' (default DefaultBodyLimit).
	Limit int
	// Uploads are "METHOD /path" routes exempt from Limit; paths are
	// matched as Fiber routes them, ignoring case and a trailing slash, and
	// a ":name" segment matches any one segment.
	Uploads []string
}

// Handler returns the middleware.
func (g BodyGuard) Handler() fiber.Handler {
	limit := g.Limit
	if limit <= 0 {
		limit = DefaultBodyLimit
	}
	uploads := make(map[string]bool, len(g.Uploads))
	var patterns [][]string
	for _, u := range g.Uploads {
		u = strings.ToLower(strings.TrimSuffix(u, "/"))
		if strings.Contains(u, "/:") {
			patterns = append(patterns, strings.Split(u, "/"))
		} else {
			uploads[u] = true
		}
	}
	isUpload := func(key string) bool {
		if uploads[key] {
			return true
		}
		segs := strings.Split(key, "/")
		for _, p := range patterns {
			if matchSegments(p, segs) {
				return true
			}
		}
		return false
	}
	return func(c *fiber.Ctx) error {
		key := strings.ToLower(c.Method() + " " + strings.TrimSuffix(c.Path(), "/"))
		if !isUpload(key) {
			if _, err := ReadBody(c, limit); err != nil {
				return err
			}
			return c.Next()
		}
		err := c.Next()
		// A route that answered without reading its body (refused
		// credentials, say) leaves it on the connection.
		settle(c, 0, 0)
		return err
	}
}

// matchSegments reports whether path segments segs match the route
// pattern's, where a ":name" segment matches any non-empty segment.
func matchSegments(pattern, segs []string) bool {
	if len(pattern) != len(segs) {
		return false
	}
	for i, p := range pattern {
		if strings.HasPrefix(p, ":") {
			if segs[i] == "" {
				return false
			}
		} else if p != segs[i] {
			return false
		}
	}
	return true
}

// RefuseContentEncoding answers 415 to a request whose body has any
// content coding. Fiber's Ctx.Body inflates a body by the last
// Content-Encoding header without a limit (a gzip bomb), so every value of
// every Content-Encoding header is checked, not only the first, and the
// coordinator reads bodies raw (c.Request().Body(), ReadBody).
func RefuseContentEncoding(c *fiber.Ctx) error {
	for _, v := range c.Request().Header.PeekAll(fiber.HeaderContentEncoding) {
		for _, coding := range strings.Split(string(v), ",") {
			if coding = strings.TrimSpace(coding); coding != "" && !strings.EqualFold(coding, "identity") {
				return proofgrid.Errorf(proofgrid.EUNSUPPORTED, "Content-Encoding %q is not accepted: send the body uncompressed", coding)
			}
		}
	}
	return c.Next()
}
