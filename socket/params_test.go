package socket_test

import (
	"reflect"
	"testing"

	"github.com/pyrehq/pyre/socket"
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
