// Package loadgen is pyrebench, the load tool of docs/benchmarks.md
// (internal/cmd/pyrebench is its main). It measures a server that speaks
// the Phoenix Channels protocol (serializer 2.0.0) and serves the test
// app (examples/testapp; internal/cmd/bare, the baseline, serves the
// part of it the commands need), from a separate process, over loopback
// only (127.0.0.0/8). Start with [Run].
//
//	pyrebench conns     -url http://127.0.0.1:4000 -n 10000
//	pyrebench broadcast -url http://127.0.0.1:4000 -n 1000 -msgs 200 [-via http] [-rate R]
//	pyrebench echo      -url http://127.0.0.1:4000 -c 50 -d 10s
//	pyrebench shootout  -url http://127.0.0.1:4000 -prefix bench:
//	pyrebench slow      -url http://127.0.0.1:4000 -n 200 -k 5 -rate 200 -d 20s
//	pyrebench stall     -url http://127.0.0.1:4000 -size 700000 -count 5 -tail 1
//	pyrebench presence  -url http://127.0.0.1:4000 -n 2000
//	pyrebench lp-latency  -url http://127.0.0.1:4000 -n 100 [-gap 1100ms]
//	pyrebench lp-sessions -url http://127.0.0.1:4000 -n 2000 [-live]
//	pyrebench compare   pyre.jsonl bare.jsonl
//
// Every command prints a two-column table, or with -json one JSON object
// on one line (append them to a .jsonl file), and exits with status 1
// when the run failed: a lost message, a dropped connection, a failed
// connect, the time limit.
//
// # Commands
//
// conns -n N opens N connections, -dialc at a time, each joining
// PREFIX bench-<i % 100>, waits until no frame has arrived for -quiet,
// holds them -hold (5 s), then closes them with a closing handshake:
// connect_join_s, connects_per_s, and server_kib_per_conn = (the
// server's RSS after the hold − before) / N.
//
// broadcast -n N -msgs M has N subscribers of PREFIX bcast; one more
// client pushes M shout messages (-via http: POST /broadcast), each
// {"bn":seq,"bt":send time}, one at a time (the next when every
// subscriber has the last) or -rate R per second: latency_* over every
// (subscriber, message) pair, fanout_* (send to the last copy), lost
// (must be 0), duplicates, out_of_order, and server_cpu_send_s and
// server_cpu_us_per_delivery, the server's CPU in the send phase.
//
// echo -c C -d D has C clients, each on its own topic PREFIX echo-<i>,
// push echo and wait for the reply, for D: round_trips_per_s,
// latency_*, server_cpu_us_per_rt and client_cpu_us_per_rt.
//
// shootout is the hashrocket websocket-shootout method: clients join one
// topic in steps of -step (1000); after each step, -s 40 shouts from
// random clients, -c 4 in flight; a step passes while the -pct 95th
// percentile (their rank rule, sorted[p*n/100]) of the round trip, push
// to the last client's copy (-metric self: to the sender's), stays
// within -limit 250ms. best_clients is the largest passing step; one row
// per step.
//
// slow -n N -k K has N subscribers and K stalled ones (a 4 KiB receive
// buffer, join, then never read, write or close) on bench:slow while a
// client shouts -rate per second for -d with -size 1024 bytes of padding,
// after a control run without the stalled ones. The server's end of each
// stalled socket is looked up every 100 ms (NETLINK_SOCK_DIAG, else
// /proc/net/tcp): server_closed_after_s is the first reading, counted
// from the first shout, in which it was no longer ESTABLISHED; at the end
// each stalled socket is read to its end (close CODE, eof, reset, open).
// The others' latency_p99_ms and lost, and p99_ratio to the control.
//
// stall has a watcher and a victim join one presence:stall-<random>
// topic as {"name":"watcher"} and {"name":"victim"}; the victim (a 4 KiB
// receive buffer) also joins room:stall-<random> and then never reads,
// writes or closes its socket. -count 5 POST /broadcast of -size 700000
// bytes of padding to the room leave the server's write to the victim
// blocked, then -tail 1 small one; t0 is when the last POST returned.
// left_after_s is when the watcher got the presence_diff with the
// victim's leave, server_closed_after_s when the server's end of the
// victim's socket was first seen no longer ESTABLISHED, both from t0;
// server_sendq_peak_kib shows the write was blocked. Pyre only, as
// presence: bare serves no presence.
//
// presence -n N has N clients join one presence:big-<random> topic as
// {"name":"u<i>"}, each keeping a phoenix.js-style view of the keys
// (presence_state adds, presence_diff adds joins then removes leaves):
// joined_s, converged_s (every view holds all N), frames, mbytes,
// presence_diff_frames, server_cpu_converge_s; then all N close at once
// and a watcher, joined first, waits until its view holds only itself
// (leave_converged_s).
//
// lp-latency -n N has one WebSocket client and one long-poll client on
// bench:lplat and sends N broadcasts by POST /broadcast, one at a time,
// -gap apart (longer than the server's ParkAfter: every poll is parked
// first): each client's median and p99, and lp_minus_ws_median_ms, the
// median of the per-broadcast difference.
//
// lp-sessions -n N opens N long-poll sessions, -dialc at a time, each
// joined to one of 100 bench:lp- topics and polling as soon as it is open
// (-openfirst: only once all are open), holds them -hold (9 s, within
// the server's 10 s window) with a poll in flight each: failures and
// server_kib_per_session; -live adds the server's live heap and stacks
// after a forced GC (/debug/pprof/heap, testapp -pprof).
//
// compare FILE... prints the key figures of -json files side by side.
//
// # Server and client figures
//
// -pid names the server process (default: the one listening on the
// URL's port). server_* figures come from /proc/PID: RSS from status,
// CPU (utime + stime, in 10 ms ticks) from stat. Every run also reports
// client_cpu_s (this process, getrusage), machine_cpu_s (busy time of
// every CPU, /proc/stat) and other_cpu_s = machine − server − client: CPU
// used by something else during the run; rerun when it is large.
//
// Several comma-separated -url values are the nodes of a cluster (conns
// and broadcast): client i connects to node i % k, broadcast's sender to
// the first, and -pid P1,P2,... (or the listeners found) sums the server
// figures; a "nodes" table gives each node's share.
//
// # The client
//
// Each connection is a github.com/coder/websocket Conn read by one
// goroutine of its own; handlers run on that goroutine, and echo sends
// its next push from there. Reads and writes use a context that never
// ends, so coder/websocket arms no timer per message. client_cpu_* says
// what the client cost; on a 2-CPU machine it shares the CPUs with the
// server. Source addresses 127.0.0.1..127.0.0.K (-srcips; default one per
// 20,000 connections) keep ephemeral ports from running short, and a run
// can hold as many connections as the open-file limits of this process
// and the server allow (Go raises the soft limit to the hard one).
package loadgen
