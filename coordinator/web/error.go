// Package web holds what every API surface shares on top of Fiber: the
// error shapes of each surface (one mapping from proofgrid error codes to
// HTTP statuses), the authentication middleware and small request helpers.
package web

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/proofgrid/proofgrid"
)

// Style is the error body shape of one API surface.
type Style int

// Error styles.
const (
	// StylePlain: {"error": "message", "code": "code"} (proofgrid's own routes).
	StylePlain Style = iota
	// StyleEthproofs: {"error": "message"}.
	StyleEthproofs
	// StylePsy: {"error": "message", "details": "..."}.
	StylePsy
	// StyleIvynet: {"error": ["message"], "result": null}.
	StyleIvynet
	// StyleDetail: {"detail": "message"} (the Pool's FastAPI routes).
	StyleDetail
)

// StatusOf maps a proofgrid error code to its HTTP status
// (proofgrid.HTTPStatus: the one table of that mapping).
func StatusOf(code string) int { return proofgrid.HTTPStatus(code) }

// Styles chooses the error style of a request by path prefix; the longest
// matching prefix wins. Surfaces register their prefixes when mounted.
type Styles struct {
	prefixes []stylePrefix
	fallback Style
}

type stylePrefix struct {
	prefix string
	style  Style
}

// Add registers style for paths under prefix.
func (s *Styles) Add(prefix string, style Style) {
	s.prefixes = append(s.prefixes, stylePrefix{prefix, style})
}

// Fallback sets the style of paths outside every prefix (default
// StylePlain).
func (s *Styles) Fallback(style Style) { s.fallback = style }

// For returns the style of path.
func (s *Styles) For(path string) Style {
	best, style := -1, s.fallback
	for _, p := range s.prefixes {
		if (path == p.prefix || strings.HasPrefix(path, strings.TrimSuffix(p.prefix, "/")+"/")) && len(p.prefix) > best {
			best, style = len(p.prefix), p.style
		}
	}
	return style
}

// ErrorHandler returns Fiber's error handler: it classifies err once and
// writes it in the style of the request's surface. Internal errors are
// logged with the request id and answered with a generic message. Fiber's
// own errors keep their HTTP status (405 with the Allow header Fiber set,
// say) even where no error code has that status.
func ErrorHandler(styles *Styles, logger *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		code, msg := proofgrid.ErrorCode(err), proofgrid.ErrorMessage(err)
		status := StatusOf(code)
		var details []string
		var pe *proofgrid.Error
		var fe *fiber.Error
		switch {
		case errors.As(err, &pe):
			details = pe.Details
		case errors.As(err, &fe):
			code, msg, status = proofgrid.CodeOfHTTPStatus(fe.Code), fe.Message, fe.Code
			if fe.Code == http.StatusRequestEntityTooLarge {
				msg = "request body is larger than this endpoint accepts"
			}
		}
		if status >= 500 {
			logger.Error("request failed", "request_id", RequestID(c), "method", c.Method(), "path", c.Path(), "error", err)
		}
		return WriteError(c, styles.For(c.Path()), status, code, msg, details)
	}
}

// WriteError writes one error in the given style.
func WriteError(c *fiber.Ctx, style Style, status int, code, msg string, details []string) error {
	c.Status(status)
	switch style {
	case StyleEthproofs:
		return c.JSON(fiber.Map{"error": msg})
	case StylePsy:
		return c.JSON(fiber.Map{"error": msg, "details": strings.Join(details, "; ")})
	case StyleIvynet:
		errs := append([]string{msg}, details...)
		return c.JSON(fiber.Map{"error": errs, "result": nil})
	case StyleDetail:
		return c.JSON(fiber.Map{"detail": msg})
	default:
		body := fiber.Map{"error": msg, "code": code}
		if len(details) > 0 {
			body["details"] = details
		}
		return c.JSON(body)
	}
}

// RequestID returns the request id the requestid middleware assigned.
func RequestID(c *fiber.Ctx) string {
	if v, ok := c.Locals("requestid").(string); ok {
		return v
	}
	return ""
}

// Invalid returns an EINVALID error.
func Invalid(format string, args ...any) error {
	return proofgrid.Errorf(proofgrid.EINVALID, format, args...)
}
