package loadgen

import (
	"os"
	"strings"
	"testing"
)

func TestNearestRank(t *testing.T) {
	t.Parallel()
	// 1..100: the q-quantile is the value ceil(q*100).
	var v []int64
	for i := int64(100); i >= 1; i-- {
		v = append(v, i*1e6) // ms in ns, given in reverse: summarize sorts
	}
	s := summarize(v)
	want := summary{count: 100, min: 1, mean: 50.5, p50: 50, p90: 90, p95: 95, p99: 99, p999: 100, max: 100}
	if s != want {
		t.Fatalf("summarize(1..100 ms) = %+v, want %+v", s, want)
	}
	tests := []struct {
		name string
		v    []int64
		q    float64
		want int64
	}{
		{"one value", []int64{7}, 0.99, 7},
		{"p50 of two", []int64{1, 2}, 0.5, 1},
		{"p99 of ten", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.99, 10},
		{"p90 of ten", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.90, 9},
		{"p999 of 1000 is the 999th", seq(1000), 0.999, 999},
		{"empty", nil, 0.5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := nearestRank(tt.v, tt.q); got != tt.want {
				t.Fatalf("nearestRank(%v) = %d, want %d", tt.q, got, tt.want)
			}
		})
	}
	if (summarize(nil) != summary{}) {
		t.Fatal("summarize(nil) is not zero")
	}
}

func seq(n int) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(i + 1)
	}
	return v
}

func TestHashrocketRank(t *testing.T) {
	t.Parallel()
	// sorted[p*n/100]: with 40 samples the p95 is the 39th (index 38).
	v := seq(40)
	if got := hashrocketRank(v, 95); got != 39 {
		t.Fatalf("p95 of 40 = %d, want 39", got)
	}
	if got := hashrocketRank(v, 100); got != 40 {
		t.Fatalf("p100 of 40 = %d, want 40 (capped)", got)
	}
	if got := hashrocketRank(v, 50); got != 21 {
		t.Fatalf("p50 of 40 = %d, want 21", got)
	}
}

func TestReport(t *testing.T) {
	t.Parallel()
	r := newReport()
	r.set("cmd", "x")
	r.set("lat_ms", 1.23456)
	r.set("nan", 0.0/zero())
	r.set("cmd", "y") // keeps its place
	r.table, r.head = "steps", []string{"clients", "result"}
	r.addRow(100, "pass")
	var js, tab strings.Builder
	if err := r.writeJSON(&js); err != nil {
		t.Fatal(err)
	}
	if want := `{"cmd":"y","lat_ms":1.235,"nan":null,"steps":[{"clients":100,"result":"pass"}]}` + "\n"; js.String() != want {
		t.Fatalf("JSON = %s, want %s", js.String(), want)
	}
	if err := r.writeTable(&tab); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"  cmd     y\n", "  lat_ms  1.235\n", "  nan     -\n", "  clients result\n", "      100   pass\n"} {
		if !strings.Contains(tab.String(), line) {
			t.Errorf("table lacks %q:\n%s", line, tab.String())
		}
	}
}

func zero() float64 { return 0 }

func TestCompare(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := dir + "/r.jsonl"
	lines := `{"cmd":"echo","label":"pyre","round_trips_per_s":85000.5,"ok":true}
{"cmd":"echo","label":"bare","round_trips_per_s":60000,"ok":true}
not json
{"cmd":"broadcast","via":"http","lost":0}
`
	if err := os.WriteFile(file, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errs strings.Builder
	if rc := Run([]string{"compare", file}, &out, &errs); rc != 0 {
		t.Fatalf("exit %d: %s", rc, errs.String())
	}
	for _, want := range []string{"echo  pyre  bare", "round_trips_per_s  85000.5  60000", "broadcast -via http  " + file + ":4", "lost"} {
		if !strings.Contains(strings.Join(strings.Fields(out.String()), "  "), strings.Join(strings.Fields(want), "  ")) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
