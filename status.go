package proofgrid

import "net/http"

// codeStatus is the one table between error codes and HTTP statuses; the
// coordinator reads it one way and clients the other.
var codeStatus = map[string]int{
	EINVALID:       http.StatusBadRequest,
	EUNPROCESSABLE: http.StatusUnprocessableEntity,
	EUNAUTHORIZED:  http.StatusUnauthorized,
	EFORBIDDEN:     http.StatusForbidden,
	ENOTFOUND:      http.StatusNotFound,
	ECONFLICT:      http.StatusConflict,
	ETOOLARGE:      http.StatusRequestEntityTooLarge,
	EUNSUPPORTED:   http.StatusUnsupportedMediaType,
	ERATELIMIT:     http.StatusTooManyRequests,
	EUNAVAILABLE:   http.StatusServiceUnavailable,
	EINTERNAL:      http.StatusInternalServerError,
}

// HTTPStatus returns the HTTP status of an error code; unknown codes are
// internal errors (500).
func HTTPStatus(code string) int {
	if s, ok := codeStatus[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// CodeOfHTTPStatus returns the error code an HTTP error status stands for,
// for answers that carry no code of their own (a proxy's page, a status
// the HTTP server set itself). Gateway errors mean unavailable; any other
// 4xx is invalid input and any other 5xx internal.
func CodeOfHTTPStatus(status int) string {
	for code, s := range codeStatus {
		if s == status {
			return code
		}
	}
	switch {
	case status == http.StatusMethodNotAllowed:
		return ENOTFOUND
	case status == http.StatusBadGateway || status == http.StatusGatewayTimeout:
		return EUNAVAILABLE
	case status >= 500:
		return EINTERNAL
	}
	return EINVALID
}
