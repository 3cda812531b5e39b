package socket

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pyrehq/pyre/internal/jsonstr"
	"github.com/pyrehq/pyre/internal/longpoll"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/telemetry"
	"github.com/pyrehq/pyre/transport"
)

// Defaults of transport.LongPollOptions.
const (
	defaultLongPollMaxBody = 8_000_000
	defaultParkAfter       = time.Second
	defaultMaxWaitingPolls = 100
	defaultPubSubTimeout   = 2 * time.Second
)

const (
	lpTokenHeader = "X-Phoenix-Longpoll-Token"
	// maxPollBatch is how many lines of an ndjson publish are handled;
	// Phoenix (1.7.24+, 1.8.9+) ignores the rest.
	maxPollBatch = 100
	// maxBase64Line is the longest base64 line of an ndjson publish.
	maxBase64Line = 10_000_000
)

// longPoll is a Server's long-poll state: the token signer and the
// sessions this node holds, by id. A session is a connection whose
// transport is a longpoll.Session instead of a WebSocket.
type longPoll struct {
	opts   transport.LongPollOptions
	signer *longpoll.Signer

	mu       sync.Mutex // Protects sessions.
	sessions map[string]*longpoll.Session

	waiting atomic.Int64 // Polls in handlers (not parked).

	id  string               // Begins every session id: names the topic of subscribeRemote.
	sub *pubsub.Subscription // To that topic.
}

func newLongPoll(o transport.LongPollOptions) *longPoll {
	if o.Window <= 0 {
		o.Window = longpoll.DefaultWindow
	}
	if o.ParkAfter == 0 {
		o.ParkAfter = defaultParkAfter
	}
	switch {
	case o.MaxWaitingPolls == 0:
		o.MaxWaitingPolls = defaultMaxWaitingPolls
	case o.MaxWaitingPolls < 0:
		o.MaxWaitingPolls = math.MaxInt
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = defaultLongPollMaxBody
	}
	if o.PubSubTimeout <= 0 {
		o.PubSubTimeout = defaultPubSubTimeout
	}
	return &longPoll{opts: o, signer: longpoll.NewSigner(o.Secret, o.MaxAge), sessions: make(map[string]*longpoll.Session), id: randomID(8)}
}

// resume finds the session a request's token names: the header
// x-phoenix-longpoll-token when present, else the query parameter token.
// It returns the session when this Server holds it; remote, with a nil
// session, when another Server does (on another node, reached through the
// PubSub: see forward); and neither for a missing, forged or expired
// token or a session that has ended. token is the token found.
func (s *Server) resume(r *http.Request) (sess *longpoll.Session, remote *longpoll.Token, token string) {
	token = r.URL.Query().Get("token")
	if vals := r.Header.Values(lpTokenHeader); len(vals) > 0 {
		token = vals[0]
	}
	if token == "" {
		return nil, nil, ""
	}
	t, err := s.lp.signer.Verify(token, time.Now())
	switch {
	case err != nil:
		return nil, nil, token
	case holderID(t.Session) == s.lp.id:
		return s.held(t), nil, token
	case s.mayHold(t.Node, holderID(t.Session)):
		return nil, &t, token
	}
	return nil, nil, token
}

// held returns the live session t names when this Server holds it.
func (s *Server) held(t longpoll.Token) *longpoll.Session {
	if t.Node != s.ps.Node() || holderID(t.Session) != s.lp.id {
		return nil
	}
	s.lp.mu.Lock()
	sess := s.lp.sessions[t.Session]
	s.lp.mu.Unlock()
	if sess == nil || sess.Closed() {
		return nil
	}
	return sess
}

// serveLongPoll serves <mount>/longpoll as Phoenix's LongPoll plug does
// (docs/protocol.md, "Long-poll"): every answer but OPTIONS and a bad request is HTTP
// 200 with the outcome in the JSON body's status.
func (s *Server) serveLongPoll(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	if !s.origin.Allow(r) {
		s.connected("longpoll", nil, "", "", http.StatusForbidden, time.Now(),
			fmt.Sprintf("origin %q is not allowed: configure Options.CheckOrigin", r.Header.Get("Origin")))
		writeStatus(w, http.StatusForbidden)
		return
	}
	switch r.Method {
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Headers", strings.Join(r.Header.Values("Access-Control-Request-Headers"), ", "))
		h.Set("Access-Control-Allow-Methods", "get, post, options")
		h.Set("Access-Control-Max-Age", "3600")
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		sess, remote, token := s.resume(r)
		switch {
		case sess != nil:
			s.poll(w, r, sess, token)
		case remote != nil:
			s.forward(w, r, *remote, token)
		default:
			s.newSession(w, r, token != "")
		}
	case http.MethodPost:
		sess, remote, token := s.resume(r)
		switch {
		case sess != nil:
			s.publish(w, r, sess)
		case remote != nil:
			s.forward(w, r, *remote, token)
		default:
			writeStatus(w, http.StatusGone)
		}
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

// poll answers a poll (docs/protocol.md, "Poll"). A poll still waiting after
// ParkAfter is parked: its connection is taken from net/http, which frees
// the request's goroutine and buffers (most of what a waiting poll costs),
// and the answer is written on it directly, with Connection: close. While
// MaxWaitingPolls polls wait in handlers, a new poll with nothing to take
// parks at once, so that a burst of idle sessions never holds more than
// that many requests in net/http. Where the connection cannot be taken
// (HTTP/2), the poll waits in the handler.
func (s *Server) poll(w http.ResponseWriter, r *http.Request, sess *longpoll.Session, token string) {
	parkAfter := s.lp.opts.ParkAfter
	defer s.lp.waiting.Add(-1)
	if n := s.lp.waiting.Add(1); parkAfter > 0 && n > int64(s.lp.opts.MaxWaitingPolls) {
		parkAfter = 0
	}
	msgs, st, waiter := sess.PollOrPark(r.Context(), parkAfter)
	if waiter == nil {
		s.polled(msgs)
		writePoll(w, int(st), token, msgs)
		return
	}
	header := parkedHeader(w.Header())
	nc, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		msgs, st = waiter.Wait(r.Context())
		s.polled(msgs)
		writePoll(w, int(st), token, msgs)
		return
	}
	_ = nc.SetDeadline(time.Time{})
	token = strings.Clone(token) // Not the whole request line.
	waiter.Park(func() bool { return connAlive(nc) }, func(msgs [][]byte, st longpoll.PollStatus) {
		s.polled(msgs)
		defer nc.Close()
		_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, _ = nc.Write(rawResponse(header, appendPoll(nil, int(st), token, msgs)))
	})
}

// connAlive reports whether the client is still there: a read that must
// return at once finds no EOF or error.
func connAlive(nc net.Conn) bool {
	_ = nc.SetReadDeadline(time.Now())
	var b [1]byte
	n, err := nc.Read(b[:])
	_ = nc.SetReadDeadline(time.Time{})
	var ne net.Error
	return n > 0 || errors.As(err, &ne) && ne.Timeout()
}

// rawHeaders are the header fields rawResponse writes itself; any other
// field set for the response (the CORS fields, a middleware's) is kept.
var rawHeaders = map[string]bool{
	"Content-Encoding": true, "Transfer-Encoding": true, // The body is written as it is.
	"Content-Type": true, "Cache-Control": true, "Content-Length": true, "Connection": true, "Date": true,
}

// parkedHeader renders the response's header fields for rawResponse, once,
// when a poll parks: a few hundred bytes instead of a copy of the map.
func parkedHeader(h http.Header) []byte {
	var b bytes.Buffer
	_ = h.WriteSubset(&b, rawHeaders)
	return b.Bytes()
}

// rawResponse is an HTTP/1.1 200 response with the header fields rendered
// by parkedHeader and a JSON body, closing the connection.
func rawResponse(header, body []byte) []byte {
	b := make([]byte, 0, 256+len(header)+len(body))
	b = append(b, "HTTP/1.1 200 OK\r\n"...)
	b = append(b, header...)
	b = append(b, "Cache-Control: no-store\r\nConnection: close\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\nContent-Type: application/json; charset=utf-8\r\nDate: "...)
	b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

// newSession connects a client (docs/protocol.md, "Sessions and tokens") and answers 410 with the
// new session's token, or 403 when Connect refuses.
//
// After Shutdown a client that had a session is told it is gone (410) and
// a new one gets 503.
func (s *Server) newSession(w http.ResponseWriter, r *http.Request, hadToken bool) {
	params := requestParams(r)
	info := newConnectInfo(r, "longpoll")
	if s.opts.AuthToken {
		info.AuthToken = r.Header.Get("X-Phoenix-AuthToken")
	}
	start := time.Now()
	ser, assigns, id, status, why := s.connect(nil, r, params, info)
	var c *conn
	if status == http.StatusOK {
		c = newConn(s, ser, assigns, id, "longpoll")
		if !s.add(c) {
			status, why = http.StatusServiceUnavailable, "the server is shutting down (Server.Shutdown)"
		}
	}
	if status != http.StatusOK {
		s.connected("longpoll", params, "", "", status, start, why)
	}
	switch {
	case status == http.StatusServiceUnavailable && hadToken:
		// The client's session is gone: phoenix.js reconnects on 410.
		writeStatus(w, http.StatusGone)
		return
	case status == http.StatusServiceUnavailable:
		http.Error(w, ErrServerClosed.Error(), status)
		return
	case status != http.StatusOK:
		writeStatus(w, http.StatusForbidden)
		return
	}
	sid := s.lp.id + "." + randomID(16)
	sess := longpoll.New(&longpoll.Options{
		Window:     s.lp.opts.Window,
		QueueBytes: s.lp.opts.QueueBytes,
		Logger:     c.log,
		Group:      &s.group,
	}, c.handleFrame, func(reason transport.CloseReason) {
		s.lp.mu.Lock()
		delete(s.lp.sessions, sid)
		s.lp.mu.Unlock()
		c.end(reason)
		if h := s.hooks; h != nil && h.LongPollSession != nil {
			h.LongPollSession(telemetry.LongPollSessionEvent{SocketID: id, Reason: reason})
		}
		s.remove(c)
	})
	s.lp.mu.Lock()
	s.lp.sessions[sid] = sess
	s.lp.mu.Unlock()
	c.attach(sess) // A Shutdown that came first closes the session here.
	// Before the answer that gives the client its token, as for a
	// WebSocket's upgrade: a Disconnect from any node then reaches it.
	c.start(r.Context())
	s.connected("longpoll", params, ser.Version(), id, http.StatusOK, start, "")
	if h := s.hooks; h != nil && h.LongPollSession != nil {
		h.LongPollSession(telemetry.LongPollSessionEvent{SocketID: id, Started: true})
	}
	token := s.lp.signer.Sign(longpoll.Token{Node: s.ps.Node(), Session: sid}, time.Now())
	writePoll(w, http.StatusGone, token, nil)
}

// publish answers a POST (docs/protocol.md, "Publish") with publishBody's status, or
// HTTP 400 for a body too large or not valid.
func (s *Server) publish(w http.ResponseWriter, r *http.Request, sess *longpoll.Session) {
	body, ok := s.readPublish(w, r)
	if !ok {
		return
	}
	st, ok := s.publishBody(sess, isNDJSON(r), body)
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	writeStatus(w, st)
}

// readPublish reads a publish's body, at most MaxBodyBytes; it answers
// HTTP 400 and reports false when it cannot.
func (s *Server) readPublish(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.lp.opts.MaxBodyBytes))
	if err != nil {
		s.log.Warn("bad long-poll publish", "err", err)
		w.WriteHeader(http.StatusBadRequest)
		return nil, false
	}
	return body, true
}

// isNDJSON reports whether a publish is an ndjson batch.
func isNDJSON(r *http.Request) bool {
	ct := r.Header.Values("Content-Type")
	return len(ct) == 1 && ct[0] == "application/x-ndjson"
}

// publishBody hands a publish's messages to the session in order: an
// ndjson body is up to 100 lines, "[..." lines being text frames and the
// others base64 binary frames; any other body is one text frame. Each
// frame is handled before the next is sent; one not handled within the
// window, or that ends the session, gives 408 and the rest are dropped.
// ok is false for a line that is not valid base64 (HTTP 400); the lines
// before it were handled.
func (s *Server) publishBody(sess *longpoll.Session, ndjson bool, body []byte) (status int, ok bool) {
	if !ndjson {
		if !s.dispatch(sess, body, false) {
			return http.StatusRequestTimeout, true
		}
		return http.StatusOK, true
	}
	for n := 0; n < maxPollBatch && body != nil; n++ {
		var line []byte
		line, body, _ = bytes.Cut(body, []byte("\n")) // body is nil after the last line.
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		binary := line[0] != '['
		if binary {
			if len(line) > maxBase64Line {
				s.log.Warn("bad long-poll publish: base64 line too long", "bytes", len(line))
				return 0, false
			}
			var err error
			if line, err = base64.StdEncoding.AppendDecode(nil, line); err != nil {
				s.log.Warn("bad long-poll publish: invalid base64 line", "err", err)
				return 0, false
			}
		}
		if !s.dispatch(sess, line, binary) {
			return http.StatusRequestTimeout, true
		}
	}
	return http.StatusOK, true
}

func (s *Server) dispatch(sess *longpoll.Session, data []byte, binary bool) bool {
	err := sess.Dispatch(data, binary)
	if errors.Is(err, longpoll.ErrAckTimeout) {
		s.log.Warn("long-poll publish timed out: the session did not handle a message within the window", "window", s.lp.opts.Window)
	}
	return err == nil
}

// writeStatus answers {"status":N} with HTTP 200.
func writeStatus(w http.ResponseWriter, status int) {
	writeJSON(w, statusBody(status))
}

// statusBody is {"status":N}.
func statusBody(status int) []byte {
	buf := make([]byte, 0, 16)
	buf = append(buf, `{"status":`...)
	buf = strconv.AppendInt(buf, int64(status), 10)
	return append(buf, '}')
}

// writePoll answers {"messages":[...],"status":N,"token":T} with HTTP 200.
func writePoll(w http.ResponseWriter, status int, token string, msgs [][]byte) {
	writeJSON(w, appendPoll(nil, status, token, msgs))
}

// appendPoll appends {"messages":[...],"status":N,"token":T}, each
// message a frame's text as a JSON string, keys in Phoenix's order.
func appendPoll(buf []byte, status int, token string, msgs [][]byte) []byte {
	n := 48 + len(token)
	for _, m := range msgs {
		n += len(m) + len(m)/8 + 3
	}
	buf = slices.Grow(buf, n)
	buf = append(buf, `{"messages":[`...)
	for i, m := range msgs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = jsonstr.Append(buf, string(m))
	}
	buf = append(buf, `],"status":`...)
	buf = strconv.AppendInt(buf, int64(status), 10)
	buf = append(buf, `,"token":`...)
	buf = jsonstr.Append(buf, token)
	return append(buf, '}')
}

func writeJSON(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// polled tells the hooks of the frames a poll takes to its client.
func (s *Server) polled(msgs [][]byte) {
	if h := s.hooks; h != nil && h.FramesOut != nil && len(msgs) > 0 {
		n := 0
		for _, m := range msgs {
			n += len(m)
		}
		h.FramesOut(telemetry.FramesEvent{Transport: "longpoll", Frames: len(msgs), Bytes: n})
	}
}
