package protocol

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// goJSONString is what encoding/json writes for s without HTML escaping.
func goJSONString(t testing.TB, s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

var stringCases = []struct {
	name string
	s    string
}{
	{"empty", ""},
	{"plain", "room:lobby"},
	{"quote and backslash", `a"b\c`},
	{"short escapes", "\b\f\n\r\t"},
	{"control chars", "\x00\x01\x1f\x7f"},
	{"html", "<a href='x'>&amp;</a>"},
	{"unicode", "héllo wörld ✓ 😀"},
	{"line separators", "a\u2028b\u2029c"},
	{"invalid utf8", "a\xffb\xc3"},
	{"surrogate half in utf8", "\xed\xa0\x80"},
	{"slash", "a/b"},
}

func TestAppendJSONString(t *testing.T) {
	t.Parallel()
	for _, tc := range stringCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := string(appendJSONString([]byte("x"), tc.s))
			equal(t, "appendJSONString", got, "x"+goJSONString(t, tc.s))
			if strings.ContainsAny(tc.s, "<>&") && strings.Contains(got, `\u003c`) {
				t.Fatalf("HTML characters escaped: %s", got)
			}
		})
	}
}

func TestUnquote(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
		ok   bool
	}{
		{"plain", `"abc"`, "abc", true},
		{"empty", `""`, "", true},
		{"escapes", `"a\"b\\c\/d\b\f\n\r\t"`, "a\"b\\c/d\b\f\n\r\t", true},
		{"unicode escape", `"\u00e9\u0041"`, "éA", true},
		{"surrogate pair", `"\ud83d\ude00"`, "😀", true},
		{"lone surrogate", `"\ud83dx"`, "\uFFFDx", true},
		{"invalid utf8", "\"a\xffb\"", "a\uFFFDb", true},
		{"not a string", `12`, "", false},
		{"unterminated", `"abc`, "", false},
		{"bad escape", `"\x"`, "", false},
		{"short unicode escape", `"\u12"`, "", false},
		{"control char", "\"a\nb\"", "", false},
		{"inner quote", `"a"b"`, "", false},
		{"lone quote", `"`, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := unquote(tc.in)
			equal(t, "ok", ok, tc.ok)
			equal(t, "value", got, tc.want)
			if ok {
				var s string
				success(t, json.Unmarshal([]byte(tc.in), &s))
				equal(t, "encoding/json value", got, s)
			}
		})
	}
}

func TestValidJSON(t *testing.T) {
	t.Parallel()
	tests := []string{
		``, ` `, `{}`, `[]`, `null`, `nul`, `true`, `false`, `fals`, `0`, `-0`, `01`, `-`,
		`1.`, `1.5`, `1e`, `1e+`, `1E-7`, `-12.5e10`, `"a"`, `"\u12"`, `"\uzzzz"`,
		`{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":1 "b":2}`, `[1,2,]`, `[,]`,
		`[1 2]`, ` [ 1 , { "a" : [ ] } ] `, `{"a":{"b":{"c":[null]}}}`, `[}`, `{]`,
		"\"\xff\"", "\"\t\"", `1 2`, `[1]]`, `{"a":1}}`, `"\/"`, `"\'"`,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
		strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
	}
	for _, in := range tests {
		name := in
		if len(name) > 20 {
			name = name[:20]
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			equal(t, "validJSON", validJSON([]byte(in)), json.Valid([]byte(in)))
		})
	}
}

// FuzzValidJSON checks the scanner against json.Valid.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e3,"x\n",true,false,null]}`, `[null,"1","phoenix","heartbeat",{}]`, `-0.1`, `"\ud83d"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := validJSON(data), json.Valid(data); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid = %v", data, got, want)
		}
	})
}

// FuzzJSONString checks appendJSONString against encoding/json, and
// unquote against json.Unmarshal.
func FuzzJSONString(f *testing.F) {
	for _, tc := range stringCases {
		f.Add(tc.s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := string(appendJSONString(nil, s))
		equal(t, "appendJSONString", enc, goJSONString(t, s))
		got, ok := unquote(enc)
		var want string
		if err := json.Unmarshal([]byte(enc), &want); err != nil || !ok {
			t.Fatalf("unquote(%q) ok=%v, json.Unmarshal: %v", enc, ok, err)
		}
		equal(t, "unquote", got, want)
		// s itself, taken as a literal, unquotes as encoding/json does.
		got, ok = unquote(s)
		err := json.Unmarshal([]byte(s), &want)
		if ok != (err == nil && len(s) > 0 && s[0] == '"' && validJSON([]byte(s)) && strings.TrimSpace(s) == s) {
			t.Fatalf("unquote(%q) ok=%v, json.Unmarshal: %v", s, ok, err)
		}
		if ok {
			equal(t, "unquote literal", got, want)
		}
	})
}

func TestScanStringPlain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		plain bool
	}{
		{`"abc"`, true},
		{`"héllo"`, true},
		{`"a\nb"`, false},
		{"\"a\xffb\"", false},
	}
	for _, tc := range tests {
		end, plain := scanString([]byte(tc.in), 0)
		equal(t, "end", end, len(tc.in))
		equal(t, "plain "+tc.in, plain, tc.plain)
	}
}
