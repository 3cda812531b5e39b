package prometheus

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pyrehq/pyre/telemetry"
	"github.com/pyrehq/pyre/transport"
)

// Collector counts the events of one or more socket.Server values in
// Prometheus series. Register it with a [prometheus.Registerer] and give
// [Collector.Hooks] to each server's socket.Options.Hooks.
//
// Its methods are safe for concurrent use. The hooks run on the servers'
// goroutines and only touch atomic values: no lock and no allocation, but
// the first time a label value unknown to this version is seen.
type Collector struct {
	hooks *telemetry.Hooks
	vecs  []prometheus.Collector // Every series family, for Describe and Collect.

	// Per transport; the two the core has are looked up without a map.
	websocket, longpoll *transportSeries
	transports          *children[*transportSeries]

	// The families with a transport label, whose children
	// newTransportSeries makes.
	connects     *prometheus.CounterVec
	connectDur   *prometheus.HistogramVec
	connections  *prometheus.GaugeVec
	channels     *prometheus.GaugeVec
	disconnects  *prometheus.CounterVec
	messagesIn   *prometheus.CounterVec
	messagesOut  *prometheus.CounterVec
	bytesIn      *prometheus.CounterVec
	bytesOut     *prometheus.CounterVec
	cuts         *prometheus.CounterVec
	decodeErrors *prometheus.CounterVec
	rateLimits   *prometheus.CounterVec

	joins              *children[joinSeries] // By status.
	crashes            *children[prometheus.Counter]
	broadcastsLocal    prometheus.Counter
	broadcastsNotLocal prometheus.Counter
	handleIn           prometheus.Observer            // No event label.
	handleInByEvent    map[string]prometheus.Observer // Options.HandleInEvents; read-only.
	handleInOther      prometheus.Observer
	longpollSessions   prometheus.Gauge
}

var _ prometheus.Collector = (*Collector)(nil)

// transportSeries are the children of one transport label value.
type transportSeries struct {
	connections, channels          prometheus.Gauge
	accepted, refused, unavailable prometheus.Counter
	connectDuration                prometheus.Observer
	messagesIn, messagesOut        prometheus.Counter
	bytesIn, bytesOut              prometheus.Counter
	decodeErrors                   prometheus.Counter
	disconnects, cuts              *children[prometheus.Counter] // By reason text.
	rateLimits                     *children[rateLimitSeries]    // By limit.
}

// rateLimitSeries are the children of one rate limit, by action.
type rateLimitSeries struct {
	refused, closed prometheus.Counter
}

// joinSeries are the children of one join status.
type joinSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer // nil when Join did not run.
}

// Label values of pyre_connects_total's outcome.
const (
	outcomeAccepted    = "accepted"
	outcomeRefused     = "refused"
	outcomeUnavailable = "unavailable"
)

// closeReasons are the reasons a connection ends with today: their series
// exist, at zero, from the start.
var closeReasons = []string{
	transport.CloseNormal.Reason, transport.CloseDisconnect.Reason, transport.CloseShutdown.Reason,
	transport.CloseIdle.Reason, transport.CloseDecodeError.Reason, transport.CloseInvalidUTF8.Reason,
	transport.CloseSlowConsumer.Reason, transport.CloseStalled.Reason, transport.CloseRateLimited.Reason,
	transport.CloseInactive.Reason,
}

// cutReasons are the reasons of a cut (telemetry.Hooks.Cut).
var cutReasons = []string{transport.CloseSlowConsumer.Reason, transport.CloseStalled.Reason}

// rateLimits are the values of telemetry.RateLimitEvent.Limit.
var rateLimits = []string{"messages", "joins"}

// crashCallbacks are the values of telemetry.ChannelCrashEvent.Callback.
var crashCallbacks = []string{"Join", "HandleIn", "HandleOut", "HandleInfo", "Terminate"}

// joinStatuses are the values of telemetry.JoinEvent.Status.
var joinStatuses = []string{
	telemetry.JoinOK, telemetry.JoinRefused, telemetry.JoinCrashed, telemetry.JoinUnmatched, telemetry.JoinTooMany,
}

// New returns a collector configured by opts (nil means the defaults of
// [Options]). Register it with a [prometheus.Registerer], which reports an
// invalid Namespace or ConstLabels, and give [Collector.Hooks] to
// socket.Options.Hooks. Several servers may share one collector: their
// counts add up.
//
// Every series of the label values the core uses today (both transports,
// every close reason, join status and crashing callback) exists from the
// start, at zero, so that rate() and increase() see the first event.
//
// New panics, as [prometheus.NewHistogramVec] does, when a bucket list is
// not in increasing order.
func New(opts *Options) *Collector {
	o := opts.cloneWithDefaults()
	c := &Collector{}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: name, Help: help, ConstLabels: o.ConstLabels}, labels)
		c.vecs = append(c.vecs, v)
		return v
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: o.Namespace, Name: name, Help: help, ConstLabels: o.ConstLabels}, labels)
		c.vecs = append(c.vecs, v)
		return v
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: o.Namespace, Name: name, Help: help, ConstLabels: o.ConstLabels, Buckets: buckets}, labels)
		c.vecs = append(c.vecs, v)
		return v
	}

	c.connections = gauge("connections", "Connections open, by transport.", "transport")
	c.channels = gauge("channels", "Channels joined, by transport.", "transport")
	c.connects = counter("connects_total", "Connection attempts, by transport and outcome (accepted, refused, unavailable: the server was shutting down).", "transport", "outcome")
	c.connectDur = histogram("connect_duration_seconds", "Handshake of the accepted connections, the Connect callback included, by transport.", o.ConnectBuckets, "transport")
	c.disconnects = counter("disconnects_total", "Connections ended, by transport and close reason.", "transport", "reason")
	c.messagesIn = counter("messages_in_total", "Frames received from clients, by transport.", "transport")
	c.messagesOut = counter("messages_out_total", "Frames written to clients, by transport.", "transport")
	c.bytesIn = counter("bytes_in_total", "Bytes of the frames received from clients, by transport.", "transport")
	c.bytesOut = counter("bytes_out_total", "Bytes of the frames written to clients, by transport.", "transport")
	c.cuts = counter("cuts_total", "Clients cut for not reading, by transport and reason (slow consumer, stalled).", "transport", "reason")
	c.decodeErrors = counter("decode_errors_total", "Inbound frames that were not Phoenix messages (the connection closes), by transport.", "transport")
	c.rateLimits = counter("rate_limit_episodes_total", "Episodes of a connection over a rate limit of socket.Options.Limits, counted when they start, by transport, limit (messages, joins) and action (refused, closed).", "transport", "limit", "action")

	c.websocket = c.newTransportSeries("websocket")
	c.longpoll = c.newTransportSeries("longpoll")
	c.transports = newChildren(c.newTransportSeries, maxExtraTransports)

	joins := counter("joins_total", "Joins answered, by status (ok, error, crashed, unmatched, too_many).", "status")
	joinDur := histogram("join_duration_seconds", "Duration of the channels' Join callbacks, by status (ok, error, crashed).", o.JoinBuckets, "status")
	c.joins = newChildren(func(status string) joinSeries {
		s := joinSeries{count: joins.WithLabelValues(status)}
		if status != telemetry.JoinUnmatched && status != telemetry.JoinTooMany {
			s.duration = joinDur.WithLabelValues(status)
		}
		return s
	}, maxExtraValues, joinStatuses...)

	crashes := counter("channel_crashes_total", "Channel callbacks that panicked or failed, by callback (Join, HandleIn, HandleOut, HandleInfo, Terminate).", "callback")
	c.crashes = newChildren(func(cb string) prometheus.Counter { return crashes.WithLabelValues(cb) }, maxExtraValues, crashCallbacks...)

	broadcasts := counter("broadcasts_total", "Broadcasts made through the servers and their channels; local=\"true\" for this node only.", "local")
	c.broadcastsLocal = broadcasts.WithLabelValues("true")
	c.broadcastsNotLocal = broadcasts.WithLabelValues("false")

	const handleHelp = "Duration of the channels' HandleIn callbacks (one per client push)."
	if len(o.HandleInEvents) == 0 {
		c.handleIn = histogram("handle_in_duration_seconds", handleHelp, o.HandleBuckets).WithLabelValues()
	} else {
		h := histogram("handle_in_duration_seconds", handleHelp+" event is \"other\" for the events not listed in the collector's options.", o.HandleBuckets, "event")
		c.handleInByEvent = make(map[string]prometheus.Observer, len(o.HandleInEvents))
		for _, e := range o.HandleInEvents {
			c.handleInByEvent[e] = h.WithLabelValues(strings.ToValidUTF8(e, "\uFFFD"))
		}
		c.handleInOther = h.WithLabelValues(otherValue)
	}

	lp := gauge("longpoll_sessions", "Long-poll sessions open.")
	c.longpollSessions = lp.WithLabelValues()

	c.hooks = &telemetry.Hooks{
		Connect:         c.connect,
		Disconnect:      c.disconnect,
		Join:            c.join,
		Leave:           c.leave,
		HandleIn:        c.handledIn,
		Broadcast:       c.broadcast,
		Cut:             c.cut,
		DecodeError:     c.decodeError,
		ChannelCrash:    c.channelCrash,
		LongPollSession: c.longPollSession,
		RateLimited:     c.rateLimited,
		FramesIn:        c.framesIn,
		FramesOut:       c.framesOut,
	}
	return c
}

// newTransportSeries makes the children of transport name.
func (c *Collector) newTransportSeries(name string) *transportSeries {
	return &transportSeries{
		connections:     c.connections.WithLabelValues(name),
		channels:        c.channels.WithLabelValues(name),
		accepted:        c.connects.WithLabelValues(name, outcomeAccepted),
		refused:         c.connects.WithLabelValues(name, outcomeRefused),
		unavailable:     c.connects.WithLabelValues(name, outcomeUnavailable),
		connectDuration: c.connectDur.WithLabelValues(name),
		messagesIn:      c.messagesIn.WithLabelValues(name),
		messagesOut:     c.messagesOut.WithLabelValues(name),
		bytesIn:         c.bytesIn.WithLabelValues(name),
		bytesOut:        c.bytesOut.WithLabelValues(name),
		decodeErrors:    c.decodeErrors.WithLabelValues(name),
		disconnects: newChildren(func(reason string) prometheus.Counter {
			return c.disconnects.WithLabelValues(name, reason)
		}, maxExtraValues, closeReasons...),
		cuts: newChildren(func(reason string) prometheus.Counter {
			return c.cuts.WithLabelValues(name, reason)
		}, maxExtraValues, cutReasons...),
		rateLimits: newChildren(func(limit string) rateLimitSeries {
			return rateLimitSeries{
				refused: c.rateLimits.WithLabelValues(name, limit, "refused"),
				closed:  c.rateLimits.WithLabelValues(name, limit, "closed"),
			}
		}, maxExtraValues, rateLimits...),
	}
}

// Hooks returns the hooks that feed the collector, for
// socket.Options.Hooks: the same *telemetry.Hooks on every call. Do not
// change its fields; to add hooks of your own, copy it, or call its
// functions from yours.
func (c *Collector) Hooks() *telemetry.Hooks { return c.hooks }

// Describe implements [prometheus.Collector].
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, v := range c.vecs {
		v.Describe(ch)
	}
}

// Collect implements [prometheus.Collector].
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, v := range c.vecs {
		v.Collect(ch)
	}
}
