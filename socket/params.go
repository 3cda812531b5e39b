package socket

import (
	"net/http"
	"net/url"
	"strings"
)

// Params are a connection's parameters, parsed from the query string the
// way Plug does: "a[b]=1" gives {"a": {"b": "1"}}, "l[]=1&l[]=2" gives
// {"l": ["1", "2"]}, and a repeated key keeps its last value. Values are
// string, map[string]any or []any.
type Params map[string]any

// Get returns the string value of key, "" when absent or not a string.
func (p Params) Get(key string) string {
	s, _ := p[key].(string)
	return s
}

// ParseParams parses a raw query string into Params.
func ParseParams(rawQuery string) Params {
	p := Params{}
	for pair := range strings.SplitSeq(rawQuery, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			continue
		}
		p.set(splitKey(key), val)
	}
	return p
}

// splitKey turns "a[b][]" into ["a", "b", ""].
func splitKey(key string) []string {
	i := strings.IndexByte(key, '[')
	if i <= 0 || !strings.HasSuffix(key, "]") {
		return []string{key}
	}
	parts := []string{key[:i]}
	rest := key[i:]
	for len(rest) > 0 && rest[0] == '[' {
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return []string{key}
		}
		parts = append(parts, rest[1:j])
		rest = rest[j+1:]
	}
	if rest != "" {
		return []string{key}
	}
	return parts
}

func (p Params) set(path []string, val string) {
	m := map[string]any(p)
	for i, k := range path {
		last := i == len(path)-1
		if i+1 < len(path) && path[i+1] == "" && i+2 == len(path) {
			l, _ := m[k].([]any)
			m[k] = append(l, val)
			return
		}
		if last {
			m[k] = val
			return
		}
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
}

// requestParams are the connect params of r: its query string, then the
// wildcards of the http.ServeMux pattern that routed it, which win over
// query params of the same name, as Phoenix's path params (`:name`
// segments) do. Mounting with mux.Handle("/t/{tenant}/socket/", srv)
// gives the param "tenant"; wildcards whose name starts with "_" are
// matched but not passed on.
func requestParams(r *http.Request) Params {
	p := ParseParams(r.URL.RawQuery)
	for _, name := range patternWildcards(r.Pattern) {
		if !strings.HasPrefix(name, "_") {
			p[name] = r.PathValue(name)
		}
	}
	return p
}

// patternWildcards returns the names of the {name} and {name...}
// segments of a ServeMux pattern.
func patternWildcards(pattern string) []string {
	var names []string
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			return names
		}
		j := strings.IndexByte(pattern[i:], '}')
		if j < 0 {
			return names
		}
		if name := strings.TrimSuffix(pattern[i+1:i+j], "..."); name != "" && name != "$" {
			names = append(names, name)
		}
		pattern = pattern[i+j+1:]
	}
}
