package prometheus

import (
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configures a [Collector]. The zero value, like a nil *Options,
// gives series named pyre_…, no constant labels, the default buckets
// below and no per-event label.
type Options struct {
	// Namespace starts every series name: "pyre" gives
	// pyre_connections, "chat" gives chat_connections. Empty means
	// "pyre". Two collectors registered with one registry need two
	// namespaces (or ConstLabels that tell them apart).
	Namespace string

	// ConstLabels are added to every series, e.g. {"app": "chat"}. They
	// must not use the names of the collector's own labels (transport,
	// outcome, reason, limit, action, local, callback, status, event):
	// registering the collector then fails. nil means none.
	ConstLabels prometheus.Labels

	// ConnectBuckets are the upper bounds, in seconds, of
	// pyre_connect_duration_seconds: the handshake of an accepted
	// connection, the application's Connect callback included. nil means
	// DefaultJoinBuckets.
	ConnectBuckets []float64

	// JoinBuckets are the upper bounds, in seconds, of
	// pyre_join_duration_seconds: a channel's Join callback, which often
	// reads a database. nil means DefaultJoinBuckets, 100 µs to 5 s.
	JoinBuckets []float64

	// HandleBuckets are the upper bounds, in seconds, of
	// pyre_handle_in_duration_seconds: a channel's HandleIn callback,
	// usually microseconds. nil means DefaultHandleBuckets, 10 µs to 1 s.
	HandleBuckets []float64

	// HandleInEvents, when not empty, adds an "event" label to
	// pyre_handle_in_duration_seconds with these event names as its
	// values, and "other" for every other event. Event names come from
	// clients, so they are never used as label values unless listed here.
	// nil means no event label.
	HandleInEvents []string
}

// DefaultJoinBuckets are the buckets of pyre_join_duration_seconds and
// pyre_connect_duration_seconds, in seconds: 100 µs to 5 s.
var DefaultJoinBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// DefaultHandleBuckets are the buckets of
// pyre_handle_in_duration_seconds, in seconds: 10 µs to 1 s.
var DefaultHandleBuckets = []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}

// defaultNamespace is Options.Namespace's default.
const defaultNamespace = "pyre"

// cloneWithDefaults returns a copy of o with the defaults filled in; o
// itself (which may be nil) is never changed.
func (o *Options) cloneWithDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Namespace == "" {
		c.Namespace = defaultNamespace
	}
	c.ConstLabels = maps.Clone(c.ConstLabels)
	c.ConnectBuckets = bucketsOr(c.ConnectBuckets, DefaultJoinBuckets)
	c.JoinBuckets = bucketsOr(c.JoinBuckets, DefaultJoinBuckets)
	c.HandleBuckets = bucketsOr(c.HandleBuckets, DefaultHandleBuckets)
	c.HandleInEvents = slices.Clone(c.HandleInEvents)
	return c
}

func bucketsOr(b, def []float64) []float64 {
	if b == nil {
		return slices.Clone(def)
	}
	return slices.Clone(b)
}
