package ethproofs

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/coordinator/web"
)

// fields is a decoded JSON object body. Ethproofs validates bodies with
// schemas that ignore unknown members, so unknown members are ignored
// here too: a client written for Ethproofs keeps working. proofgrid's own
// agents are held to their types instead (fields.only). Every member
// that is read is checked for its type and range, and problems are
// EINVALID errors that name the member.
type fields map[string]json.RawMessage

// members returns the JSON member names of the struct v, read from its
// field tags.
func members(v any) map[string]bool {
	t := reflect.TypeOf(v)
	out := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// only refuses a body with a member outside known, naming the first in
// sorted order so the message does not change from one request to the
// next.
func (f fields) only(known map[string]bool) error {
	var unknown []string
	for name := range f {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return proofgrid.Errorf(proofgrid.EINVALID, "Invalid payload: unknown member %q", unknown[0])
}

// decodeObject reads the request body as one JSON object, refusing bodies
// above max bytes (ETOOLARGE).
func decodeObject(c *fiber.Ctx, max int) (fields, error) {
	if ct := string(c.Request().Header.ContentType()); ct != "" && !strings.HasPrefix(strings.ToLower(ct), fiber.MIMEApplicationJSON) {
		return nil, proofgrid.Errorf(proofgrid.EUNSUPPORTED, "Content-Type must be application/json, not %q", ct)
	}
	body, err := web.ReadBody(c, max)
	if err != nil {
		return nil, err
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "Invalid payload: the body is empty; expected a JSON object")
	}
	if body[0] != '{' {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "Invalid payload: expected a JSON object")
	}
	var f fields
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "Invalid payload: malformed JSON: %v", err)
	}
	return f, nil
}

func invalid(name, format string, args ...any) error {
	return proofgrid.Errorf(proofgrid.EINVALID, "Invalid payload: "+name+" "+format, args...)
}

// raw returns the member's value and whether it is present; null counts
// as present, so that it is refused rather than taken for "absent".
func (f fields) raw(name string, required bool) (json.RawMessage, bool, error) {
	v, ok := f[name]
	if !ok {
		if required {
			return nil, false, invalid(name, "is required")
		}
		return nil, false, nil
	}
	return v, true, nil
}

// number reads a JSON number.
func (f fields) number(name string, required bool) (float64, json.Number, bool, error) {
	v, ok, err := f.raw(name, required)
	if !ok || err != nil {
		return 0, "", false, err
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil || len(v) == 0 || v[0] == '"' {
		return 0, "", false, invalid(name, "must be a number, got %s", kindOf(v))
	}
	x, err := n.Float64()
	if err != nil || math.IsInf(x, 0) {
		return 0, "", false, invalid(name, "is out of range")
	}
	return x, n, true, nil
}

// integer reads a JSON number that must be an integer within [min, max].
func (f fields) integer(name string, required bool, min, max int64) (int64, bool, error) {
	x, n, ok, err := f.number(name, required)
	if !ok || err != nil {
		return 0, false, err
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		// 12.0 or 1e3 are integers written as floats.
		if x != math.Trunc(x) || x < math.MinInt64 || x > math.MaxInt64 {
			return 0, false, invalid(name, "must be an integer, got %s", n)
		}
		i = int64(x)
	}
	if i < min || i > max {
		return 0, false, invalid(name, "must be between %d and %d, got %d", min, max, i)
	}
	return i, true, nil
}

// str reads a JSON string of at most max characters (max <= 0: any).
func (f fields) str(name string, required bool, max int) (string, bool, error) {
	v, ok, err := f.raw(name, required)
	if !ok || err != nil {
		return "", false, err
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil || v[0] != '"' {
		return "", false, invalid(name, "must be a string, got %s", kindOf(v))
	}
	if max > 0 && len([]rune(s)) > max {
		return "", false, invalid(name, "must be at most %d characters, got %d", max, len([]rune(s)))
	}
	return s, true, nil
}

// boolean reads a JSON boolean.
func (f fields) boolean(name string, required bool) (bool, bool, error) {
	v, ok, err := f.raw(name, required)
	if !ok || err != nil {
		return false, false, err
	}
	switch string(v) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, invalid(name, "must be a boolean, got %s", kindOf(v))
}

// timestamp reads an RFC 3339 time string.
func (f fields) timestamp(name string, required bool) (time.Time, bool, error) {
	s, ok, err := f.str(name, required, 64)
	if !ok || err != nil {
		return time.Time{}, false, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false, invalid(name, "must be an RFC 3339 time, got %q", s)
	}
	return t, true, nil
}

// kindOf names the JSON type of v for messages.
func kindOf(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
