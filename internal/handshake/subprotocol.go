package handshake

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// authTokenPrefix marks the subprotocol that carries phoenix.js 1.8's
// authToken: "base64url.bearer.phx.<base64 token>".
const authTokenPrefix = "base64url.bearer.phx."

// PhoenixSubprotocol is the subprotocol phoenix.js offers beside its auth token.
const PhoenixSubprotocol = "phoenix"

// protocols splits the first Sec-WebSocket-Protocol header line.
func protocols(h http.Header) []string {
	line := h.Get("Sec-WebSocket-Protocol")
	if line == "" {
		return nil
	}
	parts := strings.Split(line, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// ExtractAuthToken takes phoenix.js's authToken out of the request's
// Sec-WebSocket-Protocol header, as Phoenix does with auth_token: true: when
// exactly one entry starts with "base64url.bearer.phx.", its rest is decoded
// (standard or URL-safe base64, padding optional) and removed from the
// header. ok is false when there is no such single entry or it does not
// decode; the header is then left alone.
func ExtractAuthToken(h http.Header) (token string, ok bool) {
	parts := protocols(h)
	at := -1
	for i, p := range parts {
		if strings.HasPrefix(p, authTokenPrefix) {
			if at >= 0 {
				return "", false
			}
			at = i
		}
	}
	if at < 0 {
		return "", false
	}
	raw := strings.TrimRight(parts[at][len(authTokenPrefix):], "=")
	b, err := base64.RawStdEncoding.DecodeString(raw)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(raw); err != nil {
			return "", false
		}
	}
	rest := append(parts[:at:at], parts[at+1:]...)
	if len(rest) == 0 {
		h.Del("Sec-WebSocket-Protocol")
	} else {
		h.Set("Sec-WebSocket-Protocol", strings.Join(rest, ", "))
	}
	return string(b), true
}

// SelectSubprotocol applies Phoenix's subprotocol check: with no allowed
// list, nothing is checked or echoed; with a list, a request without the
// header is accepted with nothing echoed, and otherwise the first allowed
// entry that the client offered is chosen. ok is false when none matches
// (Phoenix answers 403).
func SelectSubprotocol(h http.Header, allowed []string) (proto string, ok bool) {
	if len(allowed) == 0 {
		return "", true
	}
	offered := protocols(h)
	if len(offered) == 0 {
		return "", true
	}
	for _, a := range allowed {
		for _, o := range offered {
			if a == o {
				return a, true
			}
		}
	}
	return "", false
}
