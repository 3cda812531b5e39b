package prometheus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/pyrehq/pyre/channel"
	pyreprom "github.com/pyrehq/pyre/metrics/prometheus"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/socket"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var discard = slog.New(slog.DiscardHandler)

// room is the channel of the tests. Join refuses "room:refused" and
// panics for "room:crash". HandleIn answers "echo" with its payload,
// broadcasts "shout" to the topic and panics on "boom".
type room struct{}

func (room) Join(_ context.Context, _ *channel.Socket, topic string, _ protocol.Payload) (any, error) {
	switch topic {
	case "room:refused":
		return nil, channel.Refuse(map[string]string{"reason": "closed"})
	case "room:crash":
		panic("Join panics, as the test asks")
	}
	return nil, nil
}

func (room) HandleIn(ctx context.Context, s *channel.Socket, m *channel.Message) error {
	switch m.Event {
	case "echo":
		return m.Reply("ok", m.Payload)
	case "shout":
		if err := s.Broadcast(ctx, "shout", m.Payload); err != nil {
			return err
		}
		return m.Reply("ok", nil)
	case "boom":
		panic("HandleIn panics, as the test asks")
	}
	return m.Reply("error", map[string]string{"reason": "unknown event"})
}

// testServer is a socket.Server mounted at /socket/ of an httptest
// server; both close when the test ends, the socket server first.
type testServer struct {
	*socket.Server
	http *httptest.Server
}

// newServer serves opts (with a discarding Logger and the room channel on
// "room:*") with col's Hooks. Connect refuses a connection without
// a "user" param.
func newServer(t testing.TB, col *pyreprom.Collector, opts *socket.Options) *testServer {
	t.Helper()
	var o socket.Options
	if opts != nil {
		o = *opts
	}
	o.Logger = discard
	o.Hooks = col.Hooks()
	o.Connect = func(_ context.Context, p socket.Params, _ *socket.ConnectInfo) (map[string]any, error) {
		if p.Get("user") == "" {
			return nil, socket.ErrRefused
		}
		return nil, nil
	}
	s, err := socket.New(&o)
	if err != nil {
		t.Fatal(err)
	}
	s.Channel("room:*", func() channel.Handler { return room{} })
	mux := http.NewServeMux()
	mux.Handle("/socket/", s)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return &testServer{Server: s, http: ts}
}

// wsURL is the server's WebSocket URL with vsn 2.0.0 and query.
func (s *testServer) wsURL(query string) string {
	u := "ws" + strings.TrimPrefix(s.http.URL, "http") + "/socket/websocket?vsn=2.0.0"
	if query != "" {
		u += "&" + query
	}
	return u
}

// client speaks vsn 2.0.0 frames, [join_ref, ref, topic, event, payload],
// over a WebSocket, and counts what it sends and reads.
type client struct {
	t    testing.TB
	conn *websocket.Conn
	ref  int

	sentFrames, sentBytes int
	readFrames, readBytes int
}

// dial connects as user, failing the test if the server refuses.
func (s *testServer) dial(t testing.TB, user string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, s.wsURL("user="+url.QueryEscape(user)), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if resp.Body != nil {
		resp.Body.Close()
	}
	c := &client{t: t, conn: conn}
	t.Cleanup(func() { conn.CloseNow() })
	return c
}

// dialStatus tries to connect with query and returns the HTTP status of
// a refusal.
func (s *testServer) dialStatus(t testing.TB, query string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, s.wsURL(query), nil)
	if err == nil {
		conn.CloseNow()
		t.Fatal("dial: the server accepted the connection")
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	if resp.Body != nil {
		resp.Body.Close()
	}
	return resp.StatusCode
}

// send writes one raw text frame.
func (c *client) send(frame string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	c.sentFrames++
	c.sentBytes += len(frame)
}

// push sends event on topic and returns its ref.
func (c *client) push(joinRef, topic, event, payload string) string {
	c.t.Helper()
	c.ref++
	ref := strconv.Itoa(c.ref)
	c.send(fmt.Sprintf(`[%q,%q,%q,%q,%s]`, joinRef, ref, topic, event, payload))
	return ref
}

// join sends phx_join on topic and returns the reply's status and the
// join_ref.
func (c *client) join(topic string) (status, joinRef string) {
	c.t.Helper()
	joinRef = c.push(strconv.Itoa(c.ref+1), topic, "phx_join", `{}`)
	return c.reply(topic, joinRef), joinRef
}

// frame is a decoded frame.
type frame struct {
	joinRef, ref, topic, event string
	payload                    json.RawMessage
}

// next reads the next frame.
func (c *client) next() frame {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := c.conn.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	c.readFrames++
	c.readBytes += len(data)
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || len(raw) != 5 {
		c.t.Fatalf("not a vsn 2.0.0 frame: %s", data)
	}
	var f frame
	for i, p := range []*string{&f.joinRef, &f.ref, &f.topic, &f.event} {
		_ = json.Unmarshal(raw[i], p) // null stays "".
	}
	f.payload = raw[4]
	return f
}

// expect reads frames until one of topic and event comes, and returns it.
func (c *client) expect(topic, event string) frame {
	c.t.Helper()
	for {
		if f := c.next(); f.topic == topic && f.event == event {
			return f
		}
	}
}

// reply reads frames until the reply to ref on topic, and returns its
// status.
func (c *client) reply(topic, ref string) string {
	c.t.Helper()
	for {
		f := c.expect(topic, "phx_reply")
		if f.ref != ref {
			continue
		}
		var r struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(f.payload, &r); err != nil {
			c.t.Fatalf("reply: %s", f.payload)
		}
		return r.Status
	}
}

// waitClosed waits until the server closes the connection and returns
// the close status.
func (c *client) waitClosed() websocket.StatusCode {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := c.conn.Read(ctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				c.t.Fatal("the server did not close the connection")
			}
			return websocket.CloseStatus(err)
		}
	}
}

// value returns the value of the series name{labels} gathered from g: a
// counter's or gauge's value, a histogram's sample count. labels are
// "name=value" pairs; a series missing is 0.
func value(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for _, l := range labels {
		name, val, _ := strings.Cut(l, "=")
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == name && lp.GetValue() == val {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// waitValue waits until the series name{labels} is want, polling every
// 5 ms for at most 5 s: the hooks run on the server's goroutines, some
// after the client has seen the frame that answers it.
func waitValue(t testing.TB, g prometheus.Gatherer, want float64, name string, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := value(t, g, name, labels...)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want %v within 5s", name, labels, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// getJSON does a request and decodes its JSON answer into v.
func getJSON(t testing.TB, method, u, body string, v any) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s %s: %d %s", method, u, resp.StatusCode, data)
	}
}
