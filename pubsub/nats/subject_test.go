package nats

import (
	"strings"
	"testing"
)

func TestSubjects(t *testing.T) {
	t.Parallel()
	s := subjects{prefix: "app.pyre"}
	names := []string{
		"room:1", "a.b", "*", ">", "a.*.>", "with space", "tab\tnew\nline", "nul\x00", "é/ルーム🔥",
		"", ".", "..", strings.Repeat("x", maxPlainName), strings.Repeat("x", maxPlainName+1), strings.Repeat("y", 10000),
	}
	seen := map[string]string{}
	for _, name := range names {
		for kind, subject := range map[string]string{"topic": s.topic(name), "node": s.node(name)} {
			if !strings.HasPrefix(subject, "app.pyre.") {
				t.Errorf("%s %q: subject %q lacks the prefix", kind, name, subject)
			}
			toks := strings.Split(subject, ".")
			if len(toks) != 4 {
				t.Errorf("%s %q: subject %q has %d tokens, want 4", kind, name, subject, len(toks))
			}
			for _, tok := range toks {
				if tok == "" || strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
					t.Errorf("%s %q: subject %q has the token %q, not base64url", kind, name, subject, tok)
				}
			}
			if len(subject) > 300 {
				t.Errorf("%s %q: subject of %d bytes, want at most 300", kind, name, len(subject))
			}
			if prev, ok := seen[subject]; ok {
				t.Errorf("%s %q and %s have the same subject %q", kind, name, prev, subject)
			}
			seen[subject] = kind + " " + name
		}
	}
	if s.all() != "app.pyre.>" {
		t.Errorf("all() = %q", s.all())
	}
}

func TestCheckPrefix(t *testing.T) {
	t.Parallel()
	for prefix, ok := range map[string]bool{
		"pyre": true, "app.pyre": true, "my-app_1.v2": true,
		"": false, ".": false, "a.": false, ".a": false, "a..b": false,
		"a.*": false, "a.>": false, "a b": false, "a\tb": false, "a\x00": false,
	} {
		if err := checkPrefix(prefix); (err == nil) != ok {
			t.Errorf("checkPrefix(%q) = %v, want ok %v", prefix, err, ok)
		}
	}
}
