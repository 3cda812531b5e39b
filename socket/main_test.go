package socket_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/transport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// mode is one serializer and one transport the end-to-end tests run under.
type mode struct {
	name string
	vsn  string
	lp   bool // Long-poll instead of WebSocket.
}

var modes = []mode{
	{"V1", "1.0.0", false},
	{"V2", "2.0.0", false},
	{"V1/longpoll", "1.0.0", true},
	{"V2/longpoll", "2.0.0", true},
}

// jr is the join_ref a client of this mode sees on the wire for join_ref
// s: V1 frames never carry one.
func (m mode) jr(s string) string {
	if m.vsn == "1.0.0" {
		return wstest.Null
	}
	return s
}

func (m mode) v1() bool { return m.vsn == "1.0.0" }

// transport is the name handlers see for the mode's transport.
func (m mode) transport() string {
	if m.lp {
		return "longpoll"
	}
	return "websocket"
}

// run runs f once per mode (both serializers over both transports), in
// parallel.
func run(t *testing.T, f func(t *testing.T, m mode)) {
	t.Helper()
	runModes(t, modes, f)
}

// runWS runs f once per serializer over WebSocket only: for what only a
// WebSocket has (close codes, frame limits, binary frames to the client).
func runWS(t *testing.T, f func(t *testing.T, m mode)) {
	t.Helper()
	runModes(t, modes[:2], f)
}

func runModes(t *testing.T, ms []mode, f func(t *testing.T, m mode)) {
	t.Helper()
	for _, m := range ms {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			f(t, m)
		})
	}
}

// expectClosed waits for the server to close c's connection: with code
// over WebSocket; over long-poll, until a poll answers 410.
func expectClosed(c *wstest.Client, m mode, code websocket.StatusCode) {
	if m.lp {
		c.ExpectGone()
		return
	}
	c.ExpectClose(code)
}

// testWindow is the long-poll window of test servers: short, so that an
// abandoned session ends within the tests' timeouts.
const testWindow = time.Second

// testParkAfter parks polls early, so that every long-poll test has polls
// answered both from the handler and parked.
const testParkAfter = 30 * time.Millisecond

// discard is the logger of every test server: the tests provoke warnings
// and crash logs on purpose.
var discard = slog.New(slog.DiscardHandler)

// testServer is a socket.Server mounted at /socket on an httptest server,
// with the test channels routed and a recorder of what they saw.
type testServer struct {
	*socket.Server
	ts      *httptest.Server
	rec     *recorder
	adapter *pubsub.ClusterAdapter // Set by twoNodes.
}

// newServer starts a server. opts may be nil; its Logger defaults to
// discard. The server is shut down and closed when the test ends.
func newServer(t testing.TB, opts *socket.Options) *testServer {
	t.Helper()
	var o socket.Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = discard
	}
	if o.LongPoll == nil {
		o.LongPoll = &transport.LongPollOptions{Window: testWindow, ParkAfter: testParkAfter}
	}
	srv, err := socket.New(&o)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	newRoom := func() channel.Handler { return &roomChannel{rec: rec} }
	srv.Channel("room:*", newRoom)
	srv.Channel("phoenix", newRoom)
	srv.Channel("bare:*", func() channel.Handler { return bareChannel{} })
	ts := httptest.NewServer(srv)
	s := &testServer{Server: srv, ts: ts, rec: rec}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		ts.Close()
		rec.releaseAll()
	})
	return s
}

// base is the mount's URL.
func (s *testServer) base() string { return s.ts.URL + "/socket" }

// url is the WebSocket URL with query and the mode's vsn.
func (s *testServer) url(m mode, query string) string {
	return wstest.URL(s.base(), query, m.vsn)
}

// dial connects a client of mode m.
func (s *testServer) dial(t testing.TB, m mode, query string) *wstest.Client {
	t.Helper()
	if m.lp {
		return wstest.DialLongPoll(t, s.base(), query, m.vsn)
	}
	return wstest.Dial(t, s.url(m, query), m.vsn, nil)
}

// joinOK joins topic with payload and expects the ok reply.
func joinOK(t testing.TB, c *wstest.Client, m mode, topic, payload string) (joinRef string) {
	t.Helper()
	jr, ref := c.Join(topic, payload)
	c.Expect(wstest.Reply(m.jr(jr), ref, topic, "ok", `{}`))
	return jr
}

// echo pushes "echo" with payload on topic and expects its reply. Because
// a channel handles its pushes in order, a frame that the channel would
// have sent for an earlier push must come before this reply.
func echo(t testing.TB, c *wstest.Client, m mode, topic, payload string) {
	t.Helper()
	ref := c.Push(topic, "echo", payload)
	c.Expect(wstest.Reply(m.jr(c.JoinRef(topic)), ref, topic, "ok", payload))
}

// heartbeat sends a heartbeat and expects its reply.
func heartbeat(t testing.TB, c *wstest.Client) {
	t.Helper()
	ref := c.Heartbeat()
	c.Expect(wstest.Reply(wstest.Null, ref, "phoenix", "ok", `{}`))
}

// waitFor polls cond until it holds, failing the test after 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// recorder records what the test channels saw, for assertions about the
// server side.
type recorder struct {
	mu      sync.Mutex
	terms   map[string][]error         // topic → Terminate reasons
	handled map[string][]string        // topic → events handled by HandleIn
	sockets map[string]*channel.Socket // topic → the last joined socket
	gates   map[string]chan struct{}   // name → gate that "block" waits on
}

func newRecorder() *recorder {
	return &recorder{
		terms:   map[string][]error{},
		handled: map[string][]string{},
		sockets: map[string]*channel.Socket{},
		gates:   map[string]chan struct{}{},
	}
}

func (r *recorder) terminated(topic string, reason error) {
	r.mu.Lock()
	r.terms[topic] = append(r.terms[topic], reason)
	r.mu.Unlock()
}

// terminations returns the Terminate reasons of topic so far.
func (r *recorder) terminations(topic string) []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.terms[topic]...)
}

// waitTerminated waits until topic's channels have terminated n times in
// all and returns the last reason.
func (r *recorder) waitTerminated(t testing.TB, topic string, n int) error {
	t.Helper()
	var got []error
	waitFor(t, fmt.Sprintf("%d Terminate calls on %s", n, topic), func() bool {
		got = r.terminations(topic)
		return len(got) >= n
	})
	if len(got) != n {
		t.Fatalf("Terminate called %d times on %s, want %d: %v", len(got), topic, n, got)
	}
	return got[n-1]
}

func (r *recorder) handle(topic, event string) {
	r.mu.Lock()
	r.handled[topic] = append(r.handled[topic], event)
	r.mu.Unlock()
}

func (r *recorder) events(topic string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.handled[topic]...)
}

func (r *recorder) joined(topic string, s *channel.Socket) {
	r.mu.Lock()
	r.sockets[topic] = s
	r.mu.Unlock()
}

func (r *recorder) socket(topic string) *channel.Socket {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sockets[topic]
}

// gate returns the gate named name, creating it.
func (r *recorder) gate(name string) chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.gates[name]
	if g == nil {
		g = make(chan struct{})
		r.gates[name] = g
	}
	return g
}

// release opens the gate named name.
func (r *recorder) release(name string) {
	g := r.gate(name)
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-g:
	default:
		close(g)
	}
}

// releaseAll opens every gate, so that no handler stays blocked after a
// test.
func (r *recorder) releaseAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.gates {
		select {
		case <-g:
		default:
			close(g)
		}
	}
}

// roomChannel is the test channel, like testapp's RoomChannel. Its join
// payload and events select behaviours (see Join and HandleIn).
type roomChannel struct {
	rec *recorder
}

type afterJoin struct{ user any }

type joinParams struct {
	Reject    bool            `json:"reject"`
	Crash     bool            `json:"crash"`
	Error     string          `json:"error"`
	Reply     json.RawMessage `json:"reply"`
	AfterJoin bool            `json:"after_join"`
	User      any             `json:"user"`
	Gate      string          `json:"gate"` // Join blocks until the test opens this gate.
}

func (r *roomChannel) Join(_ context.Context, s *channel.Socket, topic string, payload protocol.Payload) (any, error) {
	var p joinParams
	if !payload.IsBinary() {
		_ = json.Unmarshal(payload.Bytes(), &p)
	}
	if p.Gate != "" {
		<-r.rec.gate(p.Gate)
	}
	switch {
	case p.Reject:
		return nil, channel.Refuse(map[string]string{"reason": "rejected"})
	case p.Crash:
		panic("join crash requested")
	case p.Error != "":
		return nil, errors.New(p.Error)
	}
	r.rec.joined(topic, s)
	if p.AfterJoin {
		s.Send(afterJoin{user: p.User})
	}
	if p.Reply != nil {
		return p.Reply, nil
	}
	return nil, nil
}

func (r *roomChannel) HandleInfo(ctx context.Context, s *channel.Socket, msg any) error {
	switch msg := msg.(type) {
	case afterJoin:
		if err := s.Broadcast(ctx, "user_entered", map[string]any{"user": msg.user}); err != nil {
			return err
		}
		return s.Push("joined", map[string]any{"status": "connected", "user_id": s.Assigns["user_id"]})
	case string:
		return s.Push("info", map[string]string{"msg": msg})
	}
	return nil
}

func (r *roomChannel) HandleIn(ctx context.Context, s *channel.Socket, in *channel.Message) error {
	r.rec.handle(s.Topic(), in.Event)
	switch in.Event {
	case "echo":
		return in.Reply("ok", in.Payload)
	case "boom":
		panic("boom requested")
	case "fail":
		return errors.New("failure requested")
	case "stop":
		return channel.ErrStop
	case "stop_reply":
		if err := in.Reply("ok", map[string]bool{"bye": true}); err != nil {
			return err
		}
		return fmt.Errorf("stopping: %w", channel.ErrStop)
	case "shout":
		return s.Broadcast(ctx, "shout", in.Payload)
	case "shout_from":
		return s.BroadcastFrom(ctx, "shout", in.Payload)
	case "new_msg":
		if err := s.Broadcast(ctx, "new_msg", in.Payload); err != nil {
			return err
		}
		return in.Reply("ok", nil)
	case "async":
		// Reply later from another goroutine, once the test opens the
		// gate named by the payload's "gate".
		var p struct{ Gate string }
		_ = json.Unmarshal(in.Payload.Bytes(), &p)
		ref, gate, payload := in.ReplyRef(), r.rec.gate(p.Gate), in.Payload
		go func() {
			<-gate
			_ = ref.Reply("ok", payload)
		}()
		return nil
	case "block":
		var p struct{ Gate string }
		_ = json.Unmarshal(in.Payload.Bytes(), &p)
		<-r.rec.gate(p.Gate)
		return nil
	case "record":
		return nil
	}
	return fmt.Errorf("no clause matching event %q", in.Event)
}

func (r *roomChannel) Intercept() []string { return []string{"new_msg"} }

func (r *roomChannel) HandleOut(_ context.Context, s *channel.Socket, event string, payload protocol.Payload) error {
	var m map[string]any
	if err := json.Unmarshal(payload.Bytes(), &m); err != nil {
		return err
	}
	m["transport"] = s.Transport()
	return s.Push(event, m)
}

// Terminate pushes "you_left" and then records the reason, so that a test
// that has seen the reason knows the push was already queued (or dropped).
func (r *roomChannel) Terminate(_ context.Context, s *channel.Socket, reason error) {
	_ = s.Push("you_left", map[string]string{"message": "bye!"})
	r.rec.terminated(s.Topic(), reason)
}

// bareChannel implements only Join.
type bareChannel struct{}

func (bareChannel) Join(context.Context, *channel.Socket, string, protocol.Payload) (any, error) {
	return map[string]string{"bare": "yes"}, nil
}
