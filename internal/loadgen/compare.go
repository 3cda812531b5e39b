package loadgen

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
)

// compareKeys are the figures compare prints, in this order, when a
// result has them.
var compareKeys = []string{
	"connected", "server_kib_per_conn", "connect_join_s",
	"sent", "lost", "latency_p50_ms", "latency_p99_ms", "server_cpu_send_s", "server_cpu_us_per_delivery",
	"round_trips_per_s", "server_cpu_us_per_rt", "client_cpu_us_per_rt",
	"best_clients", "slow_closed_after_s", "p99_ratio",
	"converged_s", "frames", "server_cpu_converge_s", "leave_converged_s",
	"client_cpu_s", "other_cpu_s", "ok",
}

// runCompare prints the key figures of -json result files side by side:
// one row per figure, one column per result (named by its label, else
// its file and line), results of one command together.
func runCompare(c *common, args []string) int {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	if fs.Parse(args) != nil || fs.NArg() == 0 {
		fmt.Fprintln(c.stderr, "usage: pyrebench compare FILE.jsonl...")
		return 2
	}
	byCmd := map[string][]map[string]any{}
	var cmds []string
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return c.fail(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		for line := 1; sc.Scan(); line++ {
			var r map[string]any
			if json.Unmarshal(sc.Bytes(), &r) != nil {
				continue
			}
			if r["label"] == nil {
				r["label"] = fmt.Sprintf("%s:%d", name, line)
			}
			cmd := fmt.Sprint(r["cmd"])
			if v, ok := r["via"].(string); ok && v != "ws" {
				cmd += " -via " + v
			}
			if byCmd[cmd] == nil {
				cmds = append(cmds, cmd)
			}
			byCmd[cmd] = append(byCmd[cmd], r)
		}
		f.Close()
	}
	for _, cmd := range cmds {
		rs := byCmd[cmd]
		rep := newReport()
		rep.table = cmd
		rep.head = []string{cmd}
		for _, r := range rs {
			rep.head = append(rep.head, fmt.Sprint(r["label"]))
		}
		for _, k := range compareKeys {
			row, any := []any{k}, false
			for _, r := range rs {
				v, ok := r[k]
				row, any = append(row, v), any || ok
			}
			if any {
				rep.addRow(row...)
			}
		}
		var b strings.Builder
		_ = rep.writeTable(&b)
		fmt.Fprint(c.stdout, strings.TrimPrefix(b.String(), "\n"))
		fmt.Fprintln(c.stdout)
	}
	return 0
}
