package loadgen

import "testing"

func TestPresenceView(t *testing.T) {
	t.Parallel()
	p := newPresRun(3, true)
	v := &p.views[0]
	state := `{"u0":{"metas":[{"online_at":1,"phx_ref":"a"}]},"u2":{"metas":[{"x":"}{"}]},"watcher":{"metas":[]}}`
	if !p.apply(v, "presence_state", []byte(state)) || v.keys != 2 {
		t.Fatalf("after presence_state: keys = %d, want 2 (u0, u2)", v.keys)
	}
	// leaves before joins in the payload: joins are applied first.
	diff := `{"leaves":{"u2":{"metas":[{"phx_ref":"b"}]}},"joins":{"u1":{"metas":[]},"u2":{"metas":[]}}}`
	if !p.apply(v, "presence_diff", []byte(diff)) || v.keys != 2 {
		t.Fatalf("after the diff: keys = %d, want 2 (u0, u1)", v.keys)
	}
	if !p.apply(v, "presence_diff", []byte(`{"joins":{"u2":{"metas":[]},"someone":{}},"leaves":{}}`)) || v.keys != 3 {
		t.Fatalf("after joining u2: keys = %d, want 3", v.keys)
	}
	if p.foreign.Load() != 1 {
		t.Fatalf("foreign keys = %d, want 1", p.foreign.Load())
	}
	for _, bad := range []string{`{"joins":{"u1":`, `["u1"]`, `{"joins":{"u1" "x"}}`} {
		if p.apply(v, "presence_diff", []byte(bad)) {
			t.Errorf("apply(%s) = true, want false", bad)
		}
	}
	for key, want := range map[string]int{"u0": 0, "u2": 2, "u3": -1, "u01": -1, "watcher": 3, "u": -1, "x1": -1} {
		if got := p.index([]byte(key)); got != want {
			t.Errorf("index(%q) = %d, want %d", key, got, want)
		}
	}
}
