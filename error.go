package proofgrid

import (
	"errors"
	"fmt"
)

// Error codes. Each surface maps a code to its HTTP status in one place.
const (
	EINVALID       = "invalid"       // malformed or out-of-range input (400)
	EUNPROCESSABLE = "unprocessable" // well-formed but semantically wrong (422)
	EUNAUTHORIZED  = "unauthorized"  // missing or bad credentials (401)
	EFORBIDDEN     = "forbidden"     // credentials valid, permission missing (403)
	ENOTFOUND      = "not_found"     // no such thing, or not visible to the caller (404)
	ECONFLICT      = "conflict"      // state does not allow the change (409)
	ETOOLARGE      = "too_large"     // body or upload above its cap (413)
	EUNSUPPORTED   = "unsupported"   // e.g. a refused Content-Encoding (415)
	ERATELIMIT     = "rate_limited"  // too many requests (429)
	EUNAVAILABLE   = "unavailable"   // a dependency is down (503)
	EINTERNAL      = "internal"      // anything else (500)
)

// Error is an application error whose Message is safe to show to the caller.
type Error struct {
	Code    string
	Message string
	// Details optionally lists field-level problems.
	Details []string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("proofgrid error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err: the message of an
// *Error, or a generic text for internal errors (whose details stay in logs).
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
