package socket

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/pyrehq/pyre/internal/chanrt"
	"github.com/pyrehq/pyre/telemetry"
	"github.com/pyrehq/pyre/transport"
)

// LogOff, as a level of [LogOptions], logs nothing for that event.
const LogOff slog.Level = chanrt.LogOff

// LogOptions sets what a [Server] logs at which level, like Phoenix's
// `log:`, `log_join:` and `log_handle_in:` options. Warnings about
// refusals and errors about crashes are logged whatever these say; the
// Logger's handler decides what is written.
type LogOptions struct {
	// Connect is the level of the line logged for each connection
	// accepted ("connected in 1ms", with the transport, the serializer's
	// vsn and the connect params) and refused by Connect. nil means
	// slog.LevelInfo.
	Connect slog.Leveler
	// Join is the level of the line logged for each join ("joined
	// room:lobby in 40µs", with the join payload) and each join refused by
	// the channel. nil means slog.LevelInfo.
	Join slog.Leveler
	// HandleIn is the level of the line logged for each push a channel
	// handles ("handled new_msg in 12µs"). nil means slog.LevelDebug.
	HandleIn slog.Leveler
	// FilterParams lists the names of connect params and join payload
	// fields whose values are logged as "[FILTERED]": a name that
	// contains one of them, whatever its case, at any depth (Phoenix's
	// filter_parameters). nil means "password", "token" and "secret";
	// empty (non-nil) filters nothing.
	FilterParams []string
}

var defaultFilter = []string{"password", "token", "secret"}

// logConfig is a Server's LogOptions with the defaults applied.
type logConfig struct {
	connect, join, handleIn slog.Level
	filter                  []string
}

func newLogConfig(o *LogOptions) logConfig {
	c := logConfig{connect: slog.LevelInfo, join: slog.LevelInfo, handleIn: slog.LevelDebug, filter: defaultFilter}
	if o == nil {
		return c
	}
	if o.Connect != nil {
		c.connect = o.Connect.Level()
	}
	if o.Join != nil {
		c.join = o.Join.Level()
	}
	if o.HandleIn != nil {
		c.handleIn = o.HandleIn.Level()
	}
	if o.FilterParams != nil {
		c.filter = o.FilterParams
	}
	return c
}

// enabled reports whether l logs at level.
func enabled(l *slog.Logger, level slog.Level) bool {
	return level != LogOff && l.Enabled(context.Background(), level)
}

// filtered returns v with the values of the filtered names replaced by
// "[FILTERED]", as a copy when anything is replaced.
func (c *logConfig) filtered(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if c.secret(k) {
				out[k] = "[FILTERED]"
			} else {
				out[k] = c.filtered(x)
			}
		}
		return out
	case Params:
		return c.filtered(map[string]any(v))
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = c.filtered(x)
		}
		return out
	}
	return v
}

func (c *logConfig) secret(name string) bool {
	lower := strings.ToLower(name)
	for _, f := range c.filter {
		if f != "" && strings.Contains(lower, strings.ToLower(f)) {
			return true
		}
	}
	return false
}

// fmtDuration prints d as Phoenix's logs do: µs below a millisecond.
func fmtDuration(d time.Duration) string {
	if d < time.Millisecond {
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// connected logs and reports a connection attempt's outcome. why, for a
// refusal, says what happened and what to do.
func (s *Server) connected(transportName string, params Params, vsn, id string, status int, start time.Time, why string) {
	d := time.Since(start)
	accepted := status == 101 || status == 200
	switch {
	case accepted && enabled(s.log, s.logc.connect):
		args := []any{"transport", transportName, "vsn", vsn, "params", s.logc.filtered(params), "duration", d}
		if id != "" {
			args = append(args, "socket_id", id)
		}
		s.log.Log(context.Background(), s.logc.connect, "connected in "+fmtDuration(d), args...)
	case !accepted:
		level := slog.LevelWarn
		if status == 403 && strings.HasPrefix(why, "Connect") {
			level = s.logc.connect // The application's own decision.
		}
		if enabled(s.log, level) {
			s.log.Log(context.Background(), level, "refused connection: "+why,
				"transport", transportName, "status", status, "params", s.logc.filtered(params))
		}
	}
	if h := s.hooks; h != nil && h.Connect != nil {
		h.Connect(telemetry.ConnectEvent{Transport: transportName, Vsn: vsn, SocketID: id, Status: status, Duration: d})
	}
}

// joined logs and reports a join's outcome.
//
//go:noinline
func (c *conn) joined(topic string, payload []byte, status string, response []byte, d time.Duration) {
	s := c.srv
	switch status {
	case telemetry.JoinOK, telemetry.JoinRefused:
		if enabled(c.log, s.logc.join) {
			var p any
			_ = json.Unmarshal(payload, &p)
			if status == telemetry.JoinOK {
				c.log.Log(context.Background(), s.logc.join, "joined "+topic+" in "+fmtDuration(d),
					"topic", topic, "params", s.logc.filtered(p), "duration", d)
			} else {
				c.log.Log(context.Background(), s.logc.join, "refused join of "+topic+": the channel's Join returned an error",
					"topic", topic, "params", s.logc.filtered(p), "reply", string(response))
			}
		}
	case telemetry.JoinUnmatched:
		c.log.Warn("refused join: no route matches the topic; add one with Server.Channel", "topic", topic)
	case telemetry.JoinTooMany:
		c.log.Error("refused join: too many channels joined on this connection (Options.MaxChannels)", "topic", topic)
	}
	if h := s.hooks; h != nil && h.Join != nil {
		h.Join(telemetry.JoinEvent{Transport: c.transport, SocketID: c.id, Topic: topic, Status: status, Duration: d})
	}
}

// ended reports the end of a connection to the hooks.
func (c *conn) ended(reason transport.CloseReason) {
	h := c.srv.hooks
	if h == nil {
		return
	}
	if h.Cut != nil && (reason == transport.CloseSlowConsumer || reason == transport.CloseStalled) {
		h.Cut(telemetry.CutEvent{Transport: c.transport, SocketID: c.id, Reason: reason})
	}
	if h.Disconnect != nil {
		h.Disconnect(telemetry.DisconnectEvent{Transport: c.transport, SocketID: c.id, Reason: reason, Connected: time.Since(c.started)})
	}
}

// framesOut reports frames written to a client.
func (s *Server) framesOut(transportName string) func(frames, bytes int) {
	h := s.hooks
	if h == nil || h.FramesOut == nil {
		return nil
	}
	return func(frames, bytes int) {
		h.FramesOut(telemetry.FramesEvent{Transport: transportName, Frames: frames, Bytes: bytes})
	}
}
