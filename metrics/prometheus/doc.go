// Package prometheus counts what Pyre's socket.Server values do in
// Prometheus series: connections and channels open, connection attempts
// and their outcome, disconnections and their reason, frames and bytes in
// and out, joins and their latency, the latency of client pushes,
// broadcasts, cuts, crashes, decode errors and rate limits. It is built on
// the server's hooks (package telemetry), in a module of its own so that
// the core does not depend on client_golang.
//
// # Where to start
//
// [New] returns a [Collector]. Register it with a registry and give its
// [Collector.Hooks] to the server:
//
//	metrics := pyreprom.New(nil) // import pyreprom "github.com/pyrehq/pyre/metrics/prometheus"
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(metrics)
//	srv, err := socket.New(&socket.Options{Hooks: metrics.Hooks()})
//	...
//	mux.Handle("/socket/", srv)
//	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Several servers may share one collector; their counts add up. Two
// collectors in one registry need different [Options].Namespace values.
//
// # Series
//
// With the default namespace "pyre":
//
//   - pyre_connections{transport}: gauge of the connections open.
//   - pyre_channels{transport}: gauge of the channels joined.
//   - pyre_longpoll_sessions: gauge of the long-poll sessions open.
//   - pyre_connects_total{transport, outcome}: connection attempts;
//     outcome is "accepted", "refused" (origin, vsn, Connect, a plain GET,
//     ErrorHandler) or "unavailable" (after Server.Shutdown).
//   - pyre_connect_duration_seconds{transport}: histogram of the
//     handshake of accepted connections, Connect included.
//   - pyre_disconnects_total{transport, reason}: connections ended, by
//     the text of their transport.CloseReason ("closed", "idle timeout",
//     "slow consumer", ...).
//   - pyre_messages_in_total, pyre_bytes_in_total{transport}: frames
//     received and their bytes.
//   - pyre_messages_out_total, pyre_bytes_out_total{transport}: frames
//     written and their bytes.
//   - pyre_broadcasts_total{local}: broadcasts made through the servers
//     and their channels; local is "true" for LocalBroadcast.
//   - pyre_cuts_total{transport, reason}: clients cut for not reading
//     ("slow consumer", "stalled").
//   - pyre_decode_errors_total{transport}: frames that were not Phoenix
//     messages.
//   - pyre_rate_limit_episodes_total{transport, limit, action}: episodes
//     over a rate limit ("messages", "joins"; "refused", "closed").
//   - pyre_channel_crashes_total{callback}: channel callbacks that
//     panicked or failed ("Join", "HandleIn", "HandleOut", "HandleInfo",
//     "Terminate").
//   - pyre_joins_total{status}: joins answered ("ok", "error", "crashed",
//     "unmatched", "too_many").
//   - pyre_join_duration_seconds{status}: histogram of the Join
//     callbacks ("ok", "error", "crashed": those where Join ran).
//   - pyre_handle_in_duration_seconds: histogram of the HandleIn
//     callbacks; with an "event" label when [Options].HandleInEvents is
//     set.
//
// Label values are bounded: topics, socket ids and event names are never
// label values (event names only those listed in HandleInEvents). The
// values the core uses today have series from the start, at zero. A
// value the collector does not know (from a newer core) gets a series of
// its own, up to 16 per label (4 transports), and counts as "other" past
// that.
//
// # Cost
//
// The hooks run on the servers' goroutines, on hot paths: FramesOut once
// per write batch of each connection, FramesIn once per frame, HandleIn
// once per push. Each finds series made in advance (a string switch for
// the transport, a map read for a reason or a status) and updates them
// with atomic operations: no lock, no allocation, no clock read. One call
// costs 10 to 70 ns (see the benchmarks); a scrape allocates, a hook
// never does.
//
// # Gauges
//
// The gauges go up and down with events that come from different
// goroutines, so a scrape between two of them may see one before the
// other: a channel that ends right after its join may be counted out
// before it is counted in, and a long-poll session that a Shutdown closes
// while it opens may end before its start is reported. Such a gauge
// reads one below its true value (possibly -1) for that moment; it is
// exact again once both events have run.
//
// # Concurrency
//
// A Collector's methods, and the hooks it returns, are safe for
// concurrent use.
package prometheus
