package socket_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/transport"
)

func TestParseParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		query string
		want  socket.Params
	}{
		{"empty", "", socket.Params{}},
		{"flat", "token=abc&vsn=2.0.0", socket.Params{"token": "abc", "vsn": "2.0.0"}},
		{"unescaped", "q=a+b%26c&%6Bey=v", socket.Params{"q": "a b&c", "key": "v"}},
		{"no value", "flag&x=", socket.Params{"flag": "", "x": ""}},
		{"nested", "a[b]=1", socket.Params{"a": map[string]any{"b": "1"}}},
		{"deeply nested", "a[b][c]=1&a[b][d]=2&a[e]=3", socket.Params{"a": map[string]any{"b": map[string]any{"c": "1", "d": "2"}, "e": "3"}}},
		{"escaped brackets", "a%5Bb%5D=1", socket.Params{"a": map[string]any{"b": "1"}}},
		{"list", "l[]=1&l[]=2", socket.Params{"l": []any{"1", "2"}}},
		{"nested list", "a[l][]=x&a[l][]=y", socket.Params{"a": map[string]any{"l": []any{"x", "y"}}}},
		{"last wins", "a=1&a=2", socket.Params{"a": "2"}},
		{"nested last wins", "a[b]=1&a[b]=2", socket.Params{"a": map[string]any{"b": "2"}}},
		{"phoenix.js object", "user[id]=42&user[name]=ann&vsn=2.0.0", socket.Params{"user": map[string]any{"id": "42", "name": "ann"}, "vsn": "2.0.0"}},
		{"not a nested key", "a[b=1&c]=2&[x]=3", socket.Params{"a[b": "1", "c]": "2", "[x]": "3"}},
		{"bad escape skipped", "a=%zz&b=1", socket.Params{"b": "1"}},
		{"empty pairs", "&&a=1&", socket.Params{"a": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := socket.ParseParams(tt.query)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseParams(%q) = %#v, want %#v", tt.query, got, tt.want)
			}
		})
	}
}

func TestParamsGet(t *testing.T) {
	t.Parallel()
	p := socket.ParseParams("a=1&n[x]=2")
	if p.Get("a") != "1" || p.Get("n") != "" || p.Get("missing") != "" {
		t.Fatalf("Get: %q %q %q", p.Get("a"), p.Get("n"), p.Get("missing"))
	}
}

// Path params: the wildcards of the ServeMux pattern that routed the
// request become connect params, over query params of the same name.
func TestPathParams(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		got := make(chan socket.Params, 1)
		srv, err := socket.New(&socket.Options{
			Logger:   discard,
			LongPoll: &transport.LongPollOptions{Window: testWindow},
			Connect: func(_ context.Context, p socket.Params, _ *socket.ConnectInfo) (map[string]any, error) {
				got <- p
				return nil, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/t/{tenant}/{_region}/socket/", srv)
		ts := httptest.NewServer(mux)
		t.Cleanup(func() {
			_ = srv.Shutdown(context.Background())
			ts.Close()
		})
		base := ts.URL + "/t/acme/eu/socket"
		if m.lp {
			wstest.DialLongPoll(t, base, "tenant=query&x=1", m.vsn)
		} else {
			wstest.Dial(t, wstest.URL(base, "tenant=query&x=1", m.vsn), m.vsn, nil)
		}
		p := <-got
		if p.Get("tenant") != "acme" || p.Get("x") != "1" || p.Get("vsn") != m.vsn {
			t.Fatalf("params %v: want tenant=acme from the path, x=1 and vsn from the query", p)
		}
		if _, ok := p["_region"]; ok {
			t.Fatalf("params %v: _region must not be passed on", p)
		}
	})
}
