package prometheus

import (
	"github.com/pyrehq/pyre/telemetry"
)

// The hooks. Each finds its pre-made series (a string switch or a map
// read) and updates it atomically: no lock, no allocation, no clock read.

// transport returns the series of transport name.
func (c *Collector) transport(name string) *transportSeries {
	switch name {
	case "websocket":
		return c.websocket
	case "longpoll":
		return c.longpoll
	}
	return c.transports.get(name)
}

func (c *Collector) connect(e telemetry.ConnectEvent) {
	t := c.transport(e.Transport)
	switch {
	case e.Accepted():
		t.accepted.Inc()
		t.connectDuration.Observe(e.Duration.Seconds())
		t.connections.Inc()
	case e.Status == 503: // Server.Shutdown has begun.
		t.unavailable.Inc()
	default: // 403, 400, or 0 when Options.ErrorHandler answered.
		t.refused.Inc()
	}
}

func (c *Collector) disconnect(e telemetry.DisconnectEvent) {
	t := c.transport(e.Transport)
	t.connections.Dec()
	t.disconnects.get(e.Reason.Reason).Inc()
}

func (c *Collector) join(e telemetry.JoinEvent) {
	s := c.joins.get(e.Status)
	s.count.Inc()
	if s.duration != nil {
		s.duration.Observe(e.Duration.Seconds())
	}
	if e.Status == telemetry.JoinOK {
		c.transport(e.Transport).channels.Inc()
	}
}

func (c *Collector) leave(e telemetry.LeaveEvent) {
	c.transport(e.Transport).channels.Dec()
}

func (c *Collector) handledIn(e telemetry.HandleInEvent) {
	o := c.handleIn
	if o == nil {
		var ok bool
		if o, ok = c.handleInByEvent[e.Event]; !ok {
			o = c.handleInOther
		}
	}
	o.Observe(e.Duration.Seconds())
}

func (c *Collector) broadcast(e telemetry.BroadcastEvent) {
	if e.Local {
		c.broadcastsLocal.Inc()
	} else {
		c.broadcastsNotLocal.Inc()
	}
}

func (c *Collector) cut(e telemetry.CutEvent) {
	c.transport(e.Transport).cuts.get(e.Reason.Reason).Inc()
}

func (c *Collector) decodeError(e telemetry.DecodeErrorEvent) {
	c.transport(e.Transport).decodeErrors.Inc()
}

func (c *Collector) channelCrash(e telemetry.ChannelCrashEvent) {
	c.crashes.get(e.Callback).Inc()
}

func (c *Collector) longPollSession(e telemetry.LongPollSessionEvent) {
	if e.Started {
		c.longpollSessions.Inc()
	} else {
		c.longpollSessions.Dec()
	}
}

func (c *Collector) rateLimited(e telemetry.RateLimitEvent) {
	s := c.transport(e.Transport).rateLimits.get(e.Limit)
	if e.Closed {
		s.closed.Inc()
	} else {
		s.refused.Inc()
	}
}

func (c *Collector) framesIn(e telemetry.FramesEvent) {
	t := c.transport(e.Transport)
	t.messagesIn.Add(float64(e.Frames))
	t.bytesIn.Add(float64(e.Bytes))
}

func (c *Collector) framesOut(e telemetry.FramesEvent) {
	t := c.transport(e.Transport)
	t.messagesOut.Add(float64(e.Frames))
	t.bytesOut.Add(float64(e.Bytes))
}
