package handshake_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/pyrehq/pyre/internal/handshake"
	"github.com/pyrehq/pyre/transport"
)

// originRequest is a request to host with the given Origin header; origin
// "-" means no Origin header.
func originRequest(host, origin string) *http.Request {
	r := httptest.NewRequest("GET", "http://"+host+"/socket/websocket", nil)
	if origin != "-" {
		r.Header.Set("Origin", origin)
	}
	return r
}

// The check_origin cases of Phoenix's transport_test.exs
// (docs/protocol.md, "Origin check"), plus the default policy.
func TestOriginChecker(t *testing.T) {
	t.Parallel()
	acceptAll := func(*url.URL, *http.Request) bool { return true }
	onlyExample := func(u *url.URL, _ *http.Request) bool { return u.Hostname() == "example.com" }
	tests := []struct {
		name    string
		policy  transport.OriginPolicy
		host    string // Request host; "" means example.com.
		allowed []string
		refused []string
	}{
		{
			name:    "80/90 disabled",
			policy:  transport.OriginPolicy{Disabled: true},
			allowed: []string{"https://any.com", "null", "", "file://", "-"},
		},
		{
			name:    "81 host",
			policy:  transport.OriginPolicy{Host: "host.com"},
			allowed: []string{"https://host.com/", "http://host.com", "https://host.com:4000", "-"},
			refused: []string{"https://another.com/", "https://sub.host.com"},
		},
		{
			name:    "default: the request's host",
			policy:  transport.OriginPolicy{},
			host:    "example.com:4000",
			allowed: []string{"https://example.com", "http://example.com:4000", "wss://example.com", "-"},
			refused: []string{"https://other.com", "https://example.com.evil.com"},
		},
		{
			name:    "conn: the request's scheme, host and port",
			policy:  transport.OriginPolicy{Conn: true},
			host:    "example.com:4000",
			allowed: []string{"http://example.com:4000", "http://EXAMPLE.com:4000/", "-"},
			refused: []string{"https://example.com:4000", "http://example.com", "http://example.com:4001", "http://other.com:4000", "null"},
		},
		{
			name:    "conn with the scheme's default port",
			policy:  transport.OriginPolicy{Conn: true},
			host:    "example.com",
			allowed: []string{"http://example.com", "http://example.com:80"},
			refused: []string{"https://example.com", "http://example.com:8080"},
		},
		{
			name:    "default with an IPv6 host",
			policy:  transport.OriginPolicy{},
			host:    "[::1]:8080",
			allowed: []string{"http://[::1]", "http://[::1]:8080"},
			refused: []string{"http://127.0.0.1:8080"},
		},
		{
			name:    "82 list",
			policy:  transport.OriginPolicy{Origins: []string{"//endpoint.com"}},
			allowed: []string{"https://endpoint.com", "http://endpoint.com:1234"},
			refused: []string{"https://host.com", "https://example.com"},
		},
		{
			name:    "84 wildcard subdomains",
			policy:  transport.OriginPolicy{Origins: []string{"https://*.ex.com", "http://*.ex.com"}},
			allowed: []string{"http://org1.ex.com", "https://org1.ex.com", "https://ex.com", "https://a.b.ex.com"},
			refused: []string{"https://org1.prefix-ex.com", "https://ex.com.evil.com", "https://org1.ex.com:8443"},
		},
		{
			name:    "85 nested wildcard subdomains",
			policy:  transport.OriginPolicy{Origins: []string{"http://*.foo.example.com"}},
			allowed: []string{"http://org1.foo.example.com", "http://foo.example.com"},
			refused: []string{"http://bad.example.com", "http://org1.prefix-foo.example.com", "http://org1.bar.example.com"},
		},
		{
			name:    "86 no subdomains without a wildcard",
			policy:  transport.OriginPolicy{Origins: []string{"//ex.com"}},
			allowed: []string{"https://ex.com"},
			refused: []string{"https://org1.ex.com"},
		},
		{
			name:    "87 invalid origins with a list",
			policy:  transport.OriginPolicy{Origins: []string{"//example.com"}},
			refused: []string{"file://", "null", "", "example.com", "://bad"},
		},
		{
			name:    "87 invalid origins with a host",
			policy:  transport.OriginPolicy{Host: "example.com"},
			refused: []string{"file://", "null", ""},
		},
		{
			name:    "88 a func may accept invalid origins",
			policy:  transport.OriginPolicy{Func: acceptAll},
			allowed: []string{"file://", "null", "", "https://anything.com"},
		},
		{
			name:    "91 allowed origins",
			policy:  transport.OriginPolicy{Origins: []string{"//example.com", "http://scheme.com", "//port.com:81"}},
			allowed: []string{"http://example.com", "https://example.com", "http://scheme.com", "http://scheme.com:80", "http://port.com:81", "https://port.com:81"},
			refused: []string{"http://notallowed.com", "https://scheme.com", "http://scheme.com:8080", "http://port.com:82", "http://port.com"},
		},
		{
			name:    "92 func",
			policy:  transport.OriginPolicy{Func: onlyExample, Origins: []string{"//other.com"}},
			allowed: []string{"https://example.com", "http://example.com:99"},
			refused: []string{"https://other.com", "https://notallowed.com"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := handshake.NewOriginChecker(tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			host := tt.host
			if host == "" {
				host = "example.com"
			}
			for _, o := range tt.allowed {
				if !c.Allow(originRequest(host, o)) {
					t.Errorf("Origin %q refused, want allowed", o)
				}
			}
			for _, o := range tt.refused {
				if c.Allow(originRequest(host, o)) {
					t.Errorf("Origin %q allowed, want refused", o)
				}
			}
		})
	}
}

func TestOriginCheckerFirstHeaderOnly(t *testing.T) {
	t.Parallel()
	c, err := handshake.NewOriginChecker(transport.OriginPolicy{Origins: []string{"//example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	r := originRequest("example.com", "https://evil.com")
	r.Header.Add("Origin", "https://example.com")
	if c.Allow(r) {
		t.Fatal("a second Origin header was used")
	}
}

func TestOriginCheckerFuncSeesRequest(t *testing.T) {
	t.Parallel()
	var gotOrigin *url.URL
	var gotReq *http.Request
	c, err := handshake.NewOriginChecker(transport.OriginPolicy{Func: func(u *url.URL, r *http.Request) bool {
		gotOrigin, gotReq = u, r
		return false
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := originRequest("example.com", "https://example.com")
	if c.Allow(r) {
		t.Fatal("allowed despite Func")
	}
	// The origin is parsed with the scheme's default port filled in.
	if gotReq != r || gotOrigin.Hostname() != "example.com" || gotOrigin.Port() != "443" || gotOrigin.Scheme != "https" {
		t.Fatalf("Func got %v, %v", gotOrigin, gotReq)
	}
}

func TestOriginCheckerConfigErrors(t *testing.T) {
	t.Parallel()
	for _, o := range []string{"https://", "example.com", "", "null", "://x"} {
		if _, err := handshake.NewOriginChecker(transport.OriginPolicy{Origins: []string{"//ok.com", o}}); err == nil {
			t.Errorf("entry %q accepted, want a configuration error", o)
		}
	}
	var nilChecker *handshake.OriginChecker
	if !nilChecker.Allow(originRequest("example.com", "https://evil.com")) {
		t.Error("a nil checker refused a request")
	}
}
