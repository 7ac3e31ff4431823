package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/proofgrid/proofgrid"
)

// DecodeJSON strictly decodes the request body into v: unknown fields,
// trailing data and a wrong Content-Type are refused with EINVALID.
func DecodeJSON(c *fiber.Ctx, v any) error {
	if ct := string(c.Request().Header.ContentType()); ct != "" && !bytes.HasPrefix([]byte(ct), []byte(fiber.MIMEApplicationJSON)) {
		return proofgrid.Errorf(proofgrid.EUNSUPPORTED, "Content-Type must be application/json, not %q", ct)
	}
	dec := json.NewDecoder(bytes.NewReader(c.Request().Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return proofgrid.Errorf(proofgrid.EINVALID, "request body is empty; expected a JSON object")
		}
		return proofgrid.Errorf(proofgrid.EINVALID, "invalid JSON body: %v", err)
	}
	if dec.More() {
		return proofgrid.Errorf(proofgrid.EINVALID, "invalid JSON body: trailing data after the object")
	}
	return nil
}

// IntQuery reads an integer query parameter with a default and an
// inclusive range; out-of-range or malformed values are EINVALID.
func IntQuery(c *fiber.Ctx, name string, def, min, max int) (int, error) {
	raw := c.Query(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, proofgrid.Errorf(proofgrid.EINVALID, "%s must be an integer, got %q", name, raw)
	}
	if n < min || n > max {
		return 0, proofgrid.Errorf(proofgrid.EINVALID, "%s must be between %d and %d, got %d", name, min, max, n)
	}
	return n, nil
}

// ClampQuery reads an integer query parameter and clamps it into range
// (for surfaces whose documents clamp instead of refusing).
func ClampQuery(c *fiber.Ctx, name string, def, lo, hi int) (int, error) {
	raw := c.Query(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, proofgrid.Errorf(proofgrid.EINVALID, "%s must be an integer, got %q", name, raw)
	}
	return min(max(n, lo), hi), nil
}

// OneOf checks that v is one of allowed.
func OneOf(name, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return proofgrid.Errorf(proofgrid.EINVALID, "%s must be one of %v, got %q", name, allowed, v)
}

// ErrMissing returns the EINVALID error for a missing required field.
func ErrMissing(name string) error {
	return proofgrid.Errorf(proofgrid.EINVALID, "%s is required", name)
}
