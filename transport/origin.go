package transport

import (
	"net/http"
	"net/url"
)

// OriginPolicy says which browser origins may connect, with Phoenix's
// check_origin rules. A request without an Origin header is always
// allowed. The zero value checks that the origin's host equals the
// request's host (Phoenix's default check_origin: true, with the
// endpoint host taken from the request).
//
// A refused WebSocket request gets HTTP 403; a refused long-poll request
// gets {"status":403}.
type OriginPolicy struct {
	// Disabled turns the check off (check_origin: false).
	Disabled bool

	// Origins, when set, lists the allowed origins: "https://example.com",
	// "//example.com" (any scheme), "//example.com:8080" (any scheme, that
	// port), "https://*.example.com" (the domain and its subdomains). An
	// entry with a scheme gets that scheme's default port. An entry
	// without a host makes socket.New fail.
	Origins []string

	// Host is the host compared with the origin's host when Origins is empty.
	// "" means the request's Host header.
	Host string

	// Conn, when Origins is empty, requires the origin's scheme, host and
	// port to be the request's own (check_origin: :conn): the scheme is
	// https when the request came over TLS, the host and port those of
	// the Host header.
	Conn bool

	// Func, when set, decides alone (Phoenix's MFA form); it also sees
	// origins without a host ("null", "file://"). It runs in the request's
	// goroutine and must be safe for concurrent use.
	Func func(origin *url.URL, r *http.Request) bool
}
