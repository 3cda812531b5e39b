package handshake_test

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/pyrehq/pyre/internal/handshake"
)

func protoHeader(values ...string) http.Header {
	h := http.Header{}
	for _, v := range values {
		h.Add("Sec-WebSocket-Protocol", v)
	}
	return h
}

// docs/protocol.md, "Subprotocols and authToken", "Origin check" items 95–98.
func TestSelectSubprotocol(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		allowed []string
		header  []string
		want    string
		ok      bool
	}{
		{"95 no list: no check", nil, []string{"anything"}, "", true},
		{"no list, no header", nil, nil, "", true},
		{"list, no header", []string{"sip"}, nil, "", true},
		{"97 first of the server's list", []string{"sip", "mqtt"}, []string{"sip, mqtt"}, "sip", true},
		{"server's order wins", []string{"sip", "mqtt"}, []string{"mqtt, sip"}, "sip", true},
		{"second entry", []string{"sip", "mqtt"}, []string{"mqtt"}, "mqtt", true},
		{"spaces trimmed", []string{"mqtt"}, []string{" sip ,  mqtt "}, "mqtt", true},
		{"98 no match", []string{"sip"}, []string{"mqtt"}, "", false},
		{"case sensitive", []string{"sip"}, []string{"SIP"}, "", false},
		{"only the first header line", []string{"sip"}, []string{"mqtt", "sip"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := handshake.SelectSubprotocol(protoHeader(tt.header...), tt.allowed)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("SelectSubprotocol = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestExtractAuthToken(t *testing.T) {
	t.Parallel()
	const token = "user-token:42?>" // Its base64 has '+', '/' or '_', '-'.
	std := base64.StdEncoding.EncodeToString([]byte(token))
	rawStd := base64.RawStdEncoding.EncodeToString([]byte(token))
	rawURL := base64.RawURLEncoding.EncodeToString([]byte(token))
	const p = "base64url.bearer.phx."
	tests := []struct {
		name       string
		header     []string
		token      string
		ok         bool
		wantHeader []string // The header afterwards; nil means removed.
	}{
		{"X9 phoenix.js", []string{"phoenix, " + p + rawStd}, token, true, []string{"phoenix"}},
		{"padded", []string{"phoenix, " + p + std}, token, true, []string{"phoenix"}},
		{"URL-safe alphabet", []string{"phoenix, " + p + rawURL}, token, true, []string{"phoenix"}},
		{"token only", []string{p + rawStd}, token, true, nil},
		{"token first, others kept", []string{p + rawStd + ", phoenix, sip"}, token, true, []string{"phoenix, sip"}},
		{"empty token", []string{"phoenix, " + p}, "", true, []string{"phoenix"}},
		{"no token", []string{"phoenix, sip"}, "", false, []string{"phoenix, sip"}},
		{"no header", nil, "", false, nil},
		{"two tokens", []string{"phoenix, " + p + rawStd + ", " + p + rawStd}, "", false, []string{"phoenix, " + p + rawStd + ", " + p + rawStd}},
		{"not base64", []string{"phoenix, " + p + "!!!"}, "", false, []string{"phoenix, " + p + "!!!"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := protoHeader(tt.header...)
			got, ok := handshake.ExtractAuthToken(h)
			if got != tt.token || ok != tt.ok {
				t.Fatalf("ExtractAuthToken = %q, %v; want %q, %v", got, ok, tt.token, tt.ok)
			}
			after := h.Values("Sec-WebSocket-Protocol")
			if len(after) != len(tt.wantHeader) {
				t.Fatalf("header afterwards %q, want %q", after, tt.wantHeader)
			}
			for i := range after {
				if after[i] != tt.wantHeader[i] {
					t.Fatalf("header afterwards %q, want %q", after, tt.wantHeader)
				}
			}
		})
	}
}

// With auth_token on, the allowed list starts with "phoenix" and the check
// runs on the header without the token.
func TestAuthTokenThenSubprotocol(t *testing.T) {
	t.Parallel()
	h := protoHeader("phoenix, " + "base64url.bearer.phx." + base64.RawStdEncoding.EncodeToString([]byte("t")))
	if tok, ok := handshake.ExtractAuthToken(h); !ok || tok != "t" {
		t.Fatalf("token %q, %v", tok, ok)
	}
	got, ok := handshake.SelectSubprotocol(h, []string{handshake.PhoenixSubprotocol, "sip"})
	if !ok || got != "phoenix" {
		t.Fatalf("SelectSubprotocol = %q, %v; want phoenix", got, ok)
	}
}
