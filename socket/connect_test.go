package socket_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/transport"
)

// docs/protocol.md, "Connecting": the handshake, its refusals and connect_info.

// upgradeRequest is a WebSocket handshake request for target.
func upgradeRequest(method, target string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	setUpgradeHeaders(r.Header)
	return r
}

func setUpgradeHeaders(h http.Header) {
	h.Set("Connection", "Upgrade")
	h.Set("Upgrade", "websocket")
	h.Set("Sec-WebSocket-Version", "13")
	h.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
}

// serve runs one request through s with a recorder. Only refusals can be
// checked this way: a recorder cannot be hijacked.
func serve(s http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// get sends a real HTTP request with upgrade headers (so a 101 would
// really switch protocols) and returns the status and body.
func get(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	setUpgradeHeaders(req.Header)
	for k, v := range header {
		req.Header[k] = v
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp.StatusCode, ""
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestConnectRefused(t *testing.T) {
	t.Parallel()
	s := newServer(t, &socket.Options{
		Connect: func(_ context.Context, p socket.Params, _ *socket.ConnectInfo) (map[string]any, error) {
			if p.Get("reject") == "true" {
				return nil, socket.ErrRefused
			}
			if p.Get("fail") == "true" {
				return nil, errors.New("no handler: 403 too")
			}
			return nil, nil
		},
	})
	for _, query := range []string{"reject=true&vsn=2.0.0", "fail=true&vsn=2.0.0", "reject=true"} {
		w := serve(s, upgradeRequest("GET", "/socket/websocket?"+query))
		if w.Code != http.StatusForbidden || w.Body.Len() != 0 {
			t.Errorf("%s: recorder got %d %q, want 403 with an empty body", query, w.Code, w.Body)
		}
		code, body := get(t, s.base()+"/websocket?"+query, nil)
		if code != http.StatusForbidden || body != "" {
			t.Errorf("%s: HTTP got %d %q, want 403 with an empty body", query, code, body)
		}
	}
	// An accepted connect still works.
	heartbeat(t, s.dial(t, modes[1], ""))
}

func TestConnectErrorHandler(t *testing.T) {
	t.Parallel()
	errRate := errors.New("rate limited")
	s := newServer(t, &socket.Options{
		Connect: func(_ context.Context, p socket.Params, _ *socket.ConnectInfo) (map[string]any, error) {
			switch {
			case p.Get("reject") == "true":
				return nil, socket.ErrRefused
			case p.Get("rate") == "true":
				return nil, errRate
			}
			return nil, nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			if errors.Is(err, errRate) {
				http.Error(w, "Too many requests", http.StatusTooManyRequests)
				return
			}
			w.WriteHeader(http.StatusTeapot)
		},
	})
	code, body := get(t, s.base()+"/websocket?rate=true&vsn=2.0.0", nil)
	if code != http.StatusTooManyRequests || !strings.Contains(body, "Too many requests") {
		t.Errorf("got %d %q, want 429 Too many requests", code, body)
	}
	// ErrRefused never reaches the error handler.
	if w := serve(s, upgradeRequest("GET", "/socket/websocket?reject=true&vsn=2.0.0")); w.Code != http.StatusForbidden {
		t.Errorf("ErrRefused: got %d, want 403", w.Code)
	}
}

func TestVsn(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	for _, query := range []string{"vsn=123.1.1", "vsn=2.0", "vsn=abc", "vsn[x]=1", "vsn=", "vsn=3.0.0", "vsn=2.1.0"} {
		t.Run(query, func(t *testing.T) {
			w := serve(s, upgradeRequest("GET", "/socket/websocket?"+query))
			if w.Code != http.StatusForbidden || w.Body.Len() != 0 {
				t.Errorf("got %d %q, want 403 with an empty body", w.Code, w.Body)
			}
		})
	}
	t.Run("accepted", func(t *testing.T) {
		for _, vsn := range []string{"1.0.0", "2.0.0", "2.0.1"} {
			c := wstest.Dial(t, wstest.URL(s.base(), "", vsn), vsn, nil)
			heartbeat(t, c)
		}
	})
	t.Run("missing means V1", func(t *testing.T) {
		c := wstest.Dial(t, wstest.URL(s.base(), "", ""), "1.0.0", nil)
		c.SendText(`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"7"}`)
		// Read decodes as V1: an object with exactly topic, event, payload, ref.
		c.Expect(wstest.Reply(wstest.Null, "7", "phoenix", "ok", `{}`))
	})
}

func TestRequestRefusals(t *testing.T) {
	t.Parallel()
	connected := 0
	s := newServer(t, &socket.Options{
		Connect: func(context.Context, socket.Params, *socket.ConnectInfo) (map[string]any, error) {
			connected++ // Requests below are served one at a time.
			return nil, nil
		},
	})
	tests := []struct {
		name   string
		req    *http.Request
		code   int
		body   string // Substring of the body.
		called bool   // Connect ran.
	}{
		{"POST", upgradeRequest("POST", "/socket/websocket?vsn=2.0.0"), http.StatusBadRequest, "", false},
		{"not the websocket path", upgradeRequest("GET", "/socket/other?vsn=2.0.0"), http.StatusNotFound, "", false},
		// Like Phoenix, connect runs before the upgrade is validated.
		{"no upgrade headers", httptest.NewRequest("GET", "/socket/websocket?vsn=2.0.0", nil), http.StatusBadRequest, "'connection' header must contain 'upgrade'", true},
	}
	for _, tt := range tests {
		connected = 0
		w := serve(s, tt.req)
		if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.body) {
			t.Errorf("%s: got %d %q, want %d containing %q", tt.name, w.Code, w.Body, tt.code, tt.body)
		}
		if (connected > 0) != tt.called {
			t.Errorf("%s: Connect called %d times", tt.name, connected)
		}
	}
}

func TestOriginRefused(t *testing.T) {
	t.Parallel()
	s := newServer(t, &socket.Options{CheckOrigin: transport.OriginPolicy{Origins: []string{"//example.com"}}})
	for _, tt := range []struct {
		origin string
		code   int
	}{
		{"https://example.com", http.StatusSwitchingProtocols},
		{"http://notallowed.com", http.StatusForbidden},
		{"null", http.StatusForbidden},
	} {
		code, body := get(t, s.base()+"/websocket?vsn=2.0.0", http.Header{"Origin": {tt.origin}})
		if code != tt.code || body != "" {
			t.Errorf("Origin %s: got %d %q, want %d with an empty body", tt.origin, code, body, tt.code)
		}
	}
	// No Origin header: allowed.
	heartbeat(t, s.dial(t, modes[1], ""))
	// The default policy compares the origin's host with the request's.
	d := newServer(t, nil)
	host := strings.TrimPrefix(d.ts.URL, "http://")
	hostname := host[:strings.LastIndexByte(host, ':')]
	if code, _ := get(t, d.base()+"/websocket?vsn=2.0.0", http.Header{"Origin": {"https://" + hostname}}); code != http.StatusSwitchingProtocols {
		t.Errorf("same host origin: got %d, want 101", code)
	}
	if code, _ := get(t, d.base()+"/websocket?vsn=2.0.0", http.Header{"Origin": {"https://evil.example"}}); code != http.StatusForbidden {
		t.Errorf("other host origin: got %d, want 403", code)
	}
}

func TestSubprotocols(t *testing.T) {
	t.Parallel()
	s := newServer(t, &socket.Options{Subprotocols: []string{"sip", "mqtt"}})
	url := s.url(modes[1], "")
	tests := []struct {
		offered []string
		chosen  string
	}{
		{[]string{"sip", "mqtt"}, "sip"},
		{[]string{"mqtt", "sip"}, "sip"}, // The server's order wins.
		{[]string{"mqtt"}, "mqtt"},
		{nil, ""},
	}
	for _, tt := range tests {
		c := wstest.Dial(t, url, "2.0.0", &wstest.Options{Subprotocols: tt.offered})
		if got := c.Subprotocol(); got != tt.chosen {
			t.Errorf("offered %v: chose %q, want %q", tt.offered, got, tt.chosen)
		}
		heartbeat(t, c)
	}
	r := upgradeRequest("GET", "/socket/websocket?vsn=2.0.0")
	r.Header.Set("Sec-WebSocket-Protocol", "xmpp")
	if w := serve(s, r); w.Code != http.StatusForbidden || w.Body.Len() != 0 {
		t.Errorf("no match: got %d %q, want 403 with an empty body", w.Code, w.Body)
	}

	// Without a configured list the header is ignored and nothing echoed.
	n := newServer(t, nil)
	code, _ := get(t, n.url(modes[1], ""), http.Header{"Sec-WebSocket-Protocol": {"xmpp"}})
	if code != http.StatusSwitchingProtocols {
		t.Errorf("no list, offered xmpp: got %d, want 101", code)
	}
}

func TestAuthToken(t *testing.T) {
	t.Parallel()
	tokens := make(chan string, 4)
	headers := make(chan []socket.Header, 4)
	s := newServer(t, &socket.Options{
		AuthToken: true,
		Connect: func(_ context.Context, _ socket.Params, info *socket.ConnectInfo) (map[string]any, error) {
			tokens <- info.AuthToken
			headers <- info.SecWebSocketHeaders
			return nil, nil
		},
	})
	token := "user-token:42"
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		proto := "base64url.bearer.phx." + strings.TrimRight(enc.EncodeToString([]byte(token)), "=")
		c := wstest.Dial(t, s.url(modes[1], ""), "2.0.0", &wstest.Options{Subprotocols: []string{"phoenix", proto}})
		if got := c.Subprotocol(); got != "phoenix" {
			t.Errorf("chose %q, want phoenix", got)
		}
		if got := <-tokens; got != token {
			t.Errorf("AuthToken %q, want %q", got, token)
		}
		for _, h := range <-headers {
			if h.Name == "sec-websocket-protocol" && h.Value != "phoenix" {
				t.Errorf("the token was left in connect_info: %q", h.Value)
			}
		}
		heartbeat(t, c)
	}

	// Without a token, phoenix.js still offers "phoenix".
	c := wstest.Dial(t, s.url(modes[1], ""), "2.0.0", &wstest.Options{Subprotocols: []string{"phoenix"}})
	if got := <-tokens; got != "" || c.Subprotocol() != "phoenix" {
		t.Errorf("no token: AuthToken %q, subprotocol %q", got, c.Subprotocol())
	}
	<-headers
}

func TestConnectInfo(t *testing.T) {
	t.Parallel()
	infos := make(chan socket.ConnectInfo, 1)
	params := make(chan socket.Params, 1)
	s := newServer(t, &socket.Options{
		Connect: func(_ context.Context, p socket.Params, info *socket.ConnectInfo) (map[string]any, error) {
			if info.Request == nil {
				t.Error("ConnectInfo.Request is nil during Connect")
			}
			infos <- *info
			params <- p
			return nil, nil
		},
	})
	h := http.Header{
		"X-Application": {"Phoenix"},
		"User-Agent":    {"foo/1.0"},
		"Traceparent":   {"00-abc-def-01"},
	}
	wstest.Dial(t, s.url(modes[1], "a[b]=1&token=abc"), "2.0.0", &wstest.Options{Header: h})
	info := <-infos
	addr := s.ts.Listener.Addr().String()
	port := addr[strings.LastIndexByte(addr, ':')+1:]

	if info.Transport != "websocket" {
		t.Errorf("Transport %q", info.Transport)
	}
	if info.PeerAddress != "127.0.0.1" || info.PeerPort <= 0 {
		t.Errorf("peer %s:%d, want 127.0.0.1 and a port", info.PeerAddress, info.PeerPort)
	}
	if len(info.XHeaders) != 1 || info.XHeaders[0] != (socket.Header{Name: "x-application", Value: "Phoenix"}) {
		t.Errorf("XHeaders %v", info.XHeaders)
	}
	if len(info.TraceContextHeaders) != 1 || info.TraceContextHeaders[0] != (socket.Header{Name: "traceparent", Value: "00-abc-def-01"}) {
		t.Errorf("TraceContextHeaders %v", info.TraceContextHeaders)
	}
	if info.UserAgent != "foo/1.0" {
		t.Errorf("UserAgent %q", info.UserAgent)
	}
	u := info.URI
	if u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() != port || u.Path != "/socket/websocket" || u.RawQuery != "a[b]=1&token=abc&vsn=2.0.0" {
		t.Errorf("URI %+v (port %s)", u, port)
	}
	var sawKey bool
	for _, h := range info.SecWebSocketHeaders {
		sawKey = sawKey || h.Name == "sec-websocket-key"
	}
	if !sawKey {
		t.Errorf("SecWebSocketHeaders %v has no sec-websocket-key", info.SecWebSocketHeaders)
	}
	p := <-params
	if p.Get("token") != "abc" || p.Get("vsn") != "2.0.0" {
		t.Errorf("params %v", p)
	}
	if b, _ := p["a"].(map[string]any); b["b"] != "1" {
		t.Errorf("params %v: a[b] not nested", p)
	}
}

func TestShutdownRefusesNewConnections(t *testing.T) {
	t.Parallel()
	var connects atomic.Int32
	s := newServer(t, &socket.Options{
		Connect: func(context.Context, socket.Params, *socket.ConnectInfo) (map[string]any, error) {
			connects.Add(1)
			return nil, nil
		},
	})
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, resp, err := wstest.DialErr(t, s.url(modes[1], ""), "2.0.0", nil)
	if err == nil {
		t.Fatal("dial after Shutdown succeeded")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Shutdown: %v, want HTTP 503", resp)
	}
	// Long-poll: a new client gets 503; one that had a session, 410.
	if a := lpDo(t, s, "GET", "vsn=2.0.0", nil, ""); a.code != http.StatusServiceUnavailable {
		t.Fatalf("long-poll GET after Shutdown: HTTP %d %q, want 503", a.code, a.body)
	}
	if a := lpDo(t, s, "GET", "vsn=2.0.0&token=old", nil, ""); a.code != 200 || a.body != `{"status":410}` {
		t.Fatalf("long-poll GET with a token after Shutdown: HTTP %d %q, want {\"status\":410}", a.code, a.body)
	}
	if n := connects.Load(); n != 0 {
		t.Fatalf("Connect ran %d times after Shutdown", n)
	}
}
