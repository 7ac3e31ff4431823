package proofgrid_test

import (
	"testing"

	"github.com/proofgrid/proofgrid"
)

func TestHTTPStatusRoundTrip(t *testing.T) {
	for _, code := range []string{
		proofgrid.EINVALID, proofgrid.EUNPROCESSABLE, proofgrid.EUNAUTHORIZED, proofgrid.EFORBIDDEN, proofgrid.ENOTFOUND,
		proofgrid.ECONFLICT, proofgrid.ETOOLARGE, proofgrid.EUNSUPPORTED, proofgrid.ERATELIMIT, proofgrid.EUNAVAILABLE, proofgrid.EINTERNAL,
	} {
		if got := proofgrid.CodeOfHTTPStatus(proofgrid.HTTPStatus(code)); got != code {
			t.Errorf("%s -> %d -> %s", code, proofgrid.HTTPStatus(code), got)
		}
	}
	for status, want := range map[int]string{405: proofgrid.ENOTFOUND, 502: proofgrid.EUNAVAILABLE, 504: proofgrid.EUNAVAILABLE, 418: proofgrid.EINVALID, 507: proofgrid.EINTERNAL} {
		if got := proofgrid.CodeOfHTTPStatus(status); got != want {
			t.Errorf("CodeOfHTTPStatus(%d) = %s, want %s", status, got, want)
		}
	}
	if got := proofgrid.HTTPStatus("nonsense"); got != 500 {
		t.Errorf("unknown code -> %d", got)
	}
}
