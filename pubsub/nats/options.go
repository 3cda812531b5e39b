package nats

import (
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Options configure an [Adapter]. The zero value, like a nil *Options,
// connects to nats://127.0.0.1:4222 with the subject prefix "pyre".
type Options struct {
	// URL is the NATS server to connect to, or several separated by
	// commas, as [nats.Connect] takes them; the client picks another
	// when one fails. If empty, [nats.DefaultURL]
	// ("nats://127.0.0.1:4222").
	URL string

	// NATS holds nats.go connection options, for everything the NATS
	// client already does: TLS ([nats.Secure], [nats.RootCAs],
	// [nats.ClientCert]), authentication ([nats.UserInfo],
	// [nats.Token], [nats.UserCredentials], [nats.Nkey]),
	// reconnection ([nats.ReconnectBufSize],
	// [nats.CustomReconnectDelay], [nats.MaxReconnects]), the client
	// name, and handlers. They are applied after the adapter's defaults,
	// which they override:
	//
	//   - reconnect for ever ([nats.MaxReconnects](-1)), with a backoff
	//     that doubles from 100 ms to 2 s, plus up to 25% of jitter
	//     ([nats.CustomReconnectDelay]; pass
	//     nats.CustomReconnectDelay(nil) to use nats.go's fixed
	//     [nats.ReconnectWait] instead);
	//   - keep up to 8 MiB of messages while reconnecting (nats.go's
	//     [nats.ReconnectBufSize]); past it, broadcasts are dropped;
	//   - ping the server every 15 s and give up on the connection after
	//     2 pings without an answer, so a dead link is noticed within
	//     about 45 s ([nats.PingInterval], [nats.MaxPingsOutstanding]);
	//   - give up on a write stalled for 10 s ([nats.FlusherTimeout]),
	//     and reconnect;
	//   - do not send this connection's publications back to it
	//     ([nats.NoEcho]);
	//   - the client name "pyre <node>" ([nats.Name]).
	//
	// The adapter installs its own disconnect, reconnect, close and error
	// handlers; handlers set here still run, after the adapter's.
	NATS []nats.Option

	// Prefix starts every subject the adapter uses, so that several apps
	// (or several clusters of one app) can share a NATS server: only the
	// nodes with the same Prefix see each other. It is one or more tokens
	// separated by dots, without wildcards or whitespace. If empty,
	// "pyre".
	Prefix string

	// MaxPending bounds the bytes of broadcasts (encoded) waiting for the
	// adapter's writer goroutine, which hands them to the connection in
	// order. Broadcasts never wait for NATS: past this bound, while the
	// connection is stalled, they are dropped and counted ([Stats].Dropped).
	// One message larger than MaxPending is accepted when nothing waits.
	// If zero, 8 MiB.
	MaxPending int

	// Logger receives the adapter's connection events: each outage or
	// episode of dropped broadcasts (a warning when it starts, a summary
	// with the number dropped when it ends), reconnection attempts (at
	// Debug), NATS errors and undecodable messages (at most once a
	// minute). If nil, slog.Default() is used.
	Logger *slog.Logger
}

const (
	defaultPrefix     = "pyre"
	defaultMaxPending = 8 << 20

	backoffMin       = 100 * time.Millisecond
	backoffMax       = 2 * time.Second
	defaultPing      = 15 * time.Second
	defaultPingsOut  = 2
	defaultFlushWait = 10 * time.Second
)

// cloneWithDefaults returns a copy of opts (nil is the zero Options) with
// the defaults filled in.
func cloneWithDefaults(opts *Options) Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.NATS = append([]nats.Option(nil), o.NATS...)
	if o.URL == "" {
		o.URL = nats.DefaultURL
	}
	if o.Prefix == "" {
		o.Prefix = defaultPrefix
	}
	if o.MaxPending <= 0 {
		o.MaxPending = defaultMaxPending
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// natsOptions returns the nats.go options: nats.go's defaults, then the
// adapter's, then the caller's.
func natsOptions(o *Options) (nats.Options, error) {
	no := nats.GetDefaultOptions()
	no.Servers = splitURLs(o.URL)
	no.MaxReconnect = -1
	no.CustomReconnectDelayCB = backoff
	no.PingInterval = defaultPing
	no.MaxPingsOut = defaultPingsOut
	no.FlusherTimeout = defaultFlushWait
	no.NoEcho = true
	for _, opt := range o.NATS {
		if opt == nil {
			continue
		}
		if err := opt(&no); err != nil {
			return no, err
		}
	}
	return no, nil
}

// backoff is the delay before the attempt-th pass over the servers of one
// reconnection (attempt starts at 1): doubling from backoffMin to
// backoffMax, plus up to 25% of jitter so that the nodes of a cluster do
// not all come back in the same instant.
func backoff(attempt int) time.Duration {
	d := backoffMax
	if attempt < 16 {
		d = min(backoffMin<<max(attempt-1, 0), backoffMax)
	}
	return d + rand.N(d/4+1)
}

// splitURLs splits a comma-separated list of server URLs, as nats.Connect
// does.
func splitURLs(s string) []string {
	var urls []string
	for u := range strings.SplitSeq(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	return urls
}

// redactURLs returns the comma-separated server URLs s without their
// user information (a user and password, or a token), for errors and
// logs.
func redactURLs(s string) string {
	urls := splitURLs(s)
	for i, raw := range urls {
		if u, err := url.Parse(raw); err == nil {
			u.User = nil
			urls[i] = u.String()
		} else if strings.Contains(raw, "@") {
			urls[i] = "(unparsable URL)"
		}
	}
	return strings.Join(urls, ",")
}
