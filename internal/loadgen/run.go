package loadgen

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pyrehq/pyre/internal/procfs"
)

// commands maps each command to its function and one line of help.
var commands = []struct {
	name, help string
	run        func(c *common, args []string) int
}{
	{"conns", "open N connections, join, hold: connect rate and server memory per connection", runConns},
	{"broadcast", "N subscribers of one topic, M messages (a ws push or POST /broadcast): latency, lost, server CPU per delivery", runBroadcast},
	{"echo", "C clients, one echo push in flight each, for D: round trips per second, latency, CPU per round trip", runEcho},
	{"shootout", "the hashrocket websocket-shootout: add clients in steps until the broadcast p95 passes 250 ms", runShootout},
	{"slow", "N subscribers and K that stop reading: when the server closes the stalled ones, the others' p99 and lost", runSlow},
	{"stall", "a client that stops reading while large broadcasts fill its socket: when the server cuts it and the others see its presence leave", runStall},
	{"presence", "N clients join one presence topic: frames, time until every view holds all N, then all leave", runPresence},
	{"lp-latency", "a long-poll and a WebSocket client, n broadcasts by POST /broadcast: the long-poll client's extra latency", runLPLatency},
	{"lp-sessions", "n long-poll sessions, a poll in flight each, held: failures and server memory per session", runLPSessions},
	{"compare", "the key figures of -json result files side by side, one column per result", runCompare},
}

// Run runs the command named by args[0] with the flags that follow and
// returns the exit status: 0 when the run succeeded, 1 when it failed (a
// lost message, a dropped connection, a failed connect, the time limit),
// 2 for a usage error. Results go to stdout, progress and errors to
// stderr.
func Run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" {
		usage(stderr)
		return 2
	}
	for _, cmd := range commands {
		if cmd.name == args[0] {
			c := &common{cmd: cmd.name, stdout: stdout, stderr: stderr}
			return cmd.run(c, args[1:])
		}
	}
	fmt.Fprintf(stderr, "pyrebench: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: pyrebench COMMAND [flags]   (pyrebench COMMAND -h lists the flags)")
	fmt.Fprintln(w)
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", cmd.name, cmd.help)
	}
}

// common holds the flags every command has and the run's server readings.
type common struct {
	cmd            string
	stdout, stderr io.Writer

	url         string
	urls        []string
	mount       string
	pidFlag     string
	pids        []int // one per URL; 0: not read
	json        bool
	label       string
	srcIPs      int
	dialc       int
	dialTimeout time.Duration
	hb          time.Duration
	maxTime     time.Duration
	quiet       time.Duration
	prefix      string

	srv0  serverSample
	self0 selfSample
}

// flags adds the common flags to fs; prefix and maxTime are the command's
// defaults.
func (c *common) flags(fs *flag.FlagSet, prefix string, maxTime time.Duration) {
	fs.SetOutput(c.stderr)
	fs.StringVar(&c.url, "url", "http://127.0.0.1:4000", "server base URL (127.0.0.0/8 only); several, comma-separated, are the nodes of a cluster (conns, broadcast: client i uses URL i % count, broadcast's sender the first)")
	fs.StringVar(&c.mount, "mount", "/socket", "socket mount path: clients connect to MOUNT/websocket?vsn=2.0.0")
	fs.StringVar(&c.pidFlag, "pid", "-1", "server pid for RSS and CPU readings, or one per -url, comma-separated (server figures are summed); -1: the process listening on the URL's port; 0: none")
	fs.BoolVar(&c.json, "json", false, "print one JSON object on one line instead of a table")
	fs.StringVar(&c.label, "label", "", "free text copied into the output")
	fs.IntVar(&c.srcIPs, "srcips", 0, "spread connections over source addresses 127.0.0.1..127.0.0.K (0: one per 20000 connections)")
	fs.IntVar(&c.dialc, "dialc", 50, "connections being opened (dial and join) at once")
	fs.DurationVar(&c.dialTimeout, "dialtimeout", 15*time.Second, "limit for one dial and join")
	fs.DurationVar(&c.hb, "hb", 30*time.Second, "heartbeat interval per connection (0: none)")
	fs.DurationVar(&c.maxTime, "maxtime", maxTime, "limit for the whole run; connections are cut when it passes")
	fs.DurationVar(&c.quiet, "quiet", 500*time.Millisecond, "after joining, wait until no frame has arrived for this long")
	fs.StringVar(&c.prefix, "prefix", prefix, "prefix of the default topic names; bench: is the test app's BenchChannel (no after-join work)")
}

// start checks the flags and begins a run of up to conns connections: the
// client's environment, the watchdog context (maxTime), the report with
// the run's settings, and the first server and client readings.
func (c *common) start(conns int, multi bool) (*env, context.Context, context.CancelFunc, *report, error) {
	c.urls = strings.Split(c.url, ",")
	if len(c.urls) > 1 && !multi {
		return nil, nil, nil, nil, fmt.Errorf("%s takes one -url", c.cmd)
	}
	if err := c.findPIDs(); err != nil {
		return nil, nil, nil, nil, err
	}
	if c.srcIPs == 0 {
		c.srcIPs = (conns + 19999) / 20000
	}
	e, err := newEnv(c)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.maxTime)
	context.AfterFunc(ctx, e.kill)
	r := newReport()
	r.set("cmd", c.cmd)
	if c.label != "" {
		r.set("label", c.label)
	}
	r.set("time", time.Now().UTC().Format(time.RFC3339))
	r.set("ws_url", strings.Join(e.wsURLs, ","))
	r.set("server_pid", c.pids[0])
	if c.pids[0] > 0 {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c.pids[0])); err == nil {
			r.set("server_comm", strings.TrimSpace(string(b)))
		}
		if n, err := procfs.OpenFileLimit(c.pids[0]); err == nil {
			r.set("server_nofile", n)
		}
	}
	r.set("cpus", runtime.NumCPU())
	var lim syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) // Go raised the soft limit to the hard one
	r.set("client_nofile", lim.Cur)
	r.set("client_srcips", len(e.srcIPs))
	c.srv0, c.self0 = readServer(c.pids), readSelf()
	return e, ctx, cancel, r, nil
}

// findPIDs sets c.pids from -pid: given, or found by the URLs' ports.
func (c *common) findPIDs() error {
	c.pids = nil
	for _, f := range strings.Split(c.pidFlag, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("-pid: %w", err)
		}
		c.pids = append(c.pids, pid)
	}
	if len(c.pids) == 1 && c.pids[0] <= 0 {
		for len(c.pids) < len(c.urls) {
			c.pids = append(c.pids, c.pids[0])
		}
	}
	if len(c.pids) != len(c.urls) {
		return fmt.Errorf("-pid: %d pids for %d URLs", len(c.pids), len(c.urls))
	}
	for i, pid := range c.pids {
		if pid < 0 {
			u, err := url.Parse(c.urls[i])
			if err != nil {
				return err
			}
			port, _ := strconv.Atoi(u.Port())
			c.pids[i] = procfs.Listener(port)
		}
	}
	return nil
}

// connLimit is how many connections fit under this process's and the
// server's open-file limits, with room for other descriptors.
func (c *common) connLimit() int {
	var lim syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	n := int64(lim.Cur) - 64
	if c.pids[0] > 0 {
		if s, err := procfs.OpenFileLimit(c.pids[0]); err == nil {
			n = min(n, s-100)
		}
	}
	return int(n)
}

// finish adds the figures of the whole run and prints r; it returns the
// exit status for ok.
func (c *common) finish(r *report, ok bool) int {
	srv, self := readServer(c.pids), readSelf()
	if c.srv0.ok && srv.ok {
		r.set("server_cpu_s", srv.cpu-c.srv0.cpu)
	}
	client := self.cpu - c.self0.cpu
	r.set("client_cpu_s", client)
	if self.machine >= 0 && c.self0.machine >= 0 {
		m := self.machine - c.self0.machine
		r.set("machine_cpu_s", m)
		if c.srv0.ok && srv.ok {
			// CPU used by neither the server nor this tool: other load.
			r.set("other_cpu_s", m-client-(srv.cpu-c.srv0.cpu))
		}
	}
	r.set("client_maxrss_mib", float64(self.maxRSSKiB)/1024)
	r.set("wall_s", self.at.Sub(c.self0.at).Seconds())
	r.set("ok", ok)
	if c.json {
		_ = r.writeJSON(c.stdout)
	} else {
		_ = r.writeTable(c.stdout)
	}
	if !ok {
		return 1
	}
	return 0
}

// fail reports an error that ends a run before it measured anything.
func (c *common) fail(err error) int {
	fmt.Fprintf(c.stderr, "pyrebench %s: %v\n", c.cmd, err)
	return 1
}

// serverSample is one reading of the server's processes (one per node),
// summed; ok when every node was read.
type serverSample struct {
	ok     bool
	rssKiB int64
	cpu    float64
	nodes  []procfs.Sample
}

func readServer(pids []int) serverSample {
	s := serverSample{ok: len(pids) > 0}
	seen := map[int]bool{}
	for _, pid := range pids {
		var p procfs.Sample
		var err error
		if pid > 0 {
			p, err = procfs.Read(pid)
		}
		s.ok = s.ok && pid > 0 && err == nil
		s.nodes = append(s.nodes, p)
		if !seen[pid] {
			seen[pid] = true
			s.rssKiB += p.RSSKiB
			s.cpu += p.CPUSec
		}
	}
	return s
}

func (s serverSample) mib() any {
	if !s.ok {
		return nil
	}
	return float64(s.rssKiB) / 1024
}

// selfSample is a reading of this process and the machine.
type selfSample struct {
	cpu       float64 // this process's user + system time
	maxRSSKiB int64
	machine   float64 // every CPU's busy time; -1: unknown
	at        time.Time
}

func readSelf() selfSample {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	s := selfSample{
		cpu:       time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds(),
		maxRSSKiB: ru.Maxrss,
		machine:   -1,
		at:        time.Now(),
	}
	if m, err := procfs.MachineBusy(); err == nil {
		s.machine = m
	}
	return s
}

// nodeTable makes the report's "nodes" table when the run has several
// URLs: each node's URL, pid, clients, RSS and CPU from a to b, and the
// extra columns given.
func (c *common) nodeTable(r *report, a, b serverSample, clients []int, extraHead []string, extra func(j int) []any) {
	if len(c.urls) < 2 {
		return
	}
	r.table = "nodes"
	r.head = append([]string{"url", "pid", "clients", "rss_mib", "cpu_s"}, extraHead...)
	for j := range c.urls {
		var rss, cpu any
		if a.ok && b.ok {
			rss = float64(b.nodes[j].RSSKiB) / 1024
			cpu = b.nodes[j].CPUSec - a.nodes[j].CPUSec
		}
		row := []any{c.urls[j], c.pids[j], clients[j], rss, cpu}
		if extra != nil {
			row = append(row, extra(j)...)
		}
		r.addRow(row...)
	}
}
