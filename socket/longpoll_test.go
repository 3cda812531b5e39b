package socket_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/internal/wstest"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/transport"
)

// docs/protocol.md, "Long-poll": the long-poll transport's raw HTTP. The channel cases
// run over long-poll with every other end-to-end test (see modes).

// lpAnswer is one long-poll HTTP answer.
type lpAnswer struct {
	code   int // HTTP status.
	header http.Header
	closed bool // Connection: close (a parked poll).
	body   string
	wstest.PollResponse
}

// lpDo sends one request to the long-poll endpoint with query (vsn
// included by the caller) and decodes the JSON answer when there is one.
func lpDo(t testing.TB, s *testServer, method, query string, header http.Header, body string) lpAnswer {
	t.Helper()
	req, err := http.NewRequest(method, s.base()+"/longpoll?"+query, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := lpAnswer{code: resp.StatusCode, header: resp.Header, closed: resp.Close, body: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &a.PollResponse); err != nil {
			t.Fatalf("%s: bad JSON %q: %v", method, b, err)
		}
	}
	return a
}

// lpOpen opens a session and returns its token.
func lpOpen(t testing.TB, s *testServer, query string) string {
	t.Helper()
	a := lpDo(t, s, "GET", query, nil, "")
	if a.code != 200 || a.Status != 410 || a.Token == "" || a.Messages == nil || len(a.Messages) != 0 {
		t.Fatalf("opening a session: HTTP %d %q", a.code, a.body)
	}
	return a.Token
}

func ndjson(lines ...string) (http.Header, string) {
	return http.Header{"Content-Type": {"application/x-ndjson"}}, strings.Join(lines, "\n")
}

// lpPublish POSTs body and returns the status in the answer.
func lpPublish(t testing.TB, s *testServer, token string, header http.Header, body string) int {
	t.Helper()
	a := lpDo(t, s, "POST", "vsn=2.0.0&token="+token, header, body)
	if a.code != 200 || a.Token != "" || a.Messages != nil {
		t.Fatalf("publish: HTTP %d %q", a.code, a.body)
	}
	return a.Status
}

// lpPoll polls once and returns the messages decoded as V2.
func lpPoll(t testing.TB, s *testServer, token string) (int, []wstest.Msg) {
	t.Helper()
	a := lpDo(t, s, "GET", "vsn=2.0.0&token="+token, nil, "")
	if a.code != 200 || a.Token != token {
		t.Fatalf("poll: HTTP %d %q", a.code, a.body)
	}
	var msgs []wstest.Msg
	for _, m := range a.Messages {
		msg, err := wstest.Decode(false, wstest.Frame{Data: []byte(m)})
		if err != nil {
			t.Fatalf("poll: message %q: %v", m, err)
		}
		msgs = append(msgs, msg)
	}
	return a.Status, msgs
}

// lpCollect polls until n messages have come, or a poll comes back empty.
func lpCollect(t testing.TB, s *testServer, token string, n int) []wstest.Msg {
	t.Helper()
	var all []wstest.Msg
	for len(all) < n {
		st, msgs := lpPoll(t, s, token)
		if st != 200 {
			break
		}
		all = append(all, msgs...)
	}
	return all
}

// expectMsgs checks got against want, in order.
func expectMsgs(t testing.TB, got []wstest.Msg, want ...wstest.Msg) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d messages %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range want {
		if !wstest.Equal(got[i], want[i]) {
			t.Fatalf("message %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func TestLongPollResponses(t *testing.T) {
	t.Parallel()
	s := newServer(t, &socket.Options{
		Connect: func(_ context.Context, p socket.Params, _ *socket.ConnectInfo) (map[string]any, error) {
			if p.Get("reject") == "true" {
				return nil, socket.ErrRefused
			}
			if p.Get("custom") == "true" {
				return nil, fmt.Errorf("custom")
			}
			return nil, nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusTooManyRequests) },
	})
	a := lpDo(t, s, "GET", "vsn=2.0.0", nil, "")
	if a.code != 200 || a.Status != 410 || a.Token == "" {
		t.Fatalf("new session: HTTP %d %q", a.code, a.body)
	}
	if a.body != fmt.Sprintf(`{"messages":[],"status":410,"token":%q}`, a.Token) {
		t.Fatalf("new session body %s: want Phoenix's key order and an empty messages list", a.body)
	}
	for k, v := range map[string]string{
		"Content-Type":                "application/json; charset=utf-8",
		"Cache-Control":               "no-store",
		"Access-Control-Allow-Origin": "*",
	} {
		if got := a.header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}

	// Refusals are {"status":403} with HTTP 200; long-poll has no custom
	// error responses.
	for _, q := range []string{"vsn=123.1.1", "vsn=2.0.0&reject=true", "vsn=2.0.0&custom=true", "vsn[x]=1"} {
		a := lpDo(t, s, "GET", q, nil, "")
		if a.code != 200 || a.body != `{"status":403}` {
			t.Errorf("GET ?%s: HTTP %d %q, want 200 {\"status\":403}", q, a.code, a.body)
		}
	}

	// A forged, tampered or unknown token starts a new session on GET and
	// is gone on POST.
	forged := []string{"bogus", a.Token[:len(a.Token)-2] + "xx", strings.Replace(a.Token, ".", "x.", 1)}
	for _, tok := range forged {
		g := lpDo(t, s, "GET", "vsn=2.0.0&token="+tok, nil, "")
		if g.Status != 410 || g.Token == "" || g.Token == a.Token {
			t.Errorf("GET with token %q: %q, want a new session", tok, g.body)
		}
		p := lpDo(t, s, "POST", "vsn=2.0.0&token="+tok, nil, `["1","1","room:x","phx_join",{}]`)
		if p.code != 200 || p.body != `{"status":410}` {
			t.Errorf("POST with token %q: HTTP %d %q, want {\"status\":410}", tok, p.code, p.body)
		}
	}
	if p := lpDo(t, s, "POST", "vsn=2.0.0", nil, "{}"); p.body != `{"status":410}` {
		t.Errorf("POST without a token: %q", p.body)
	}

	// Other methods are refused with HTTP 400 and no body.
	for _, method := range []string{"PUT", "DELETE", "PATCH"} {
		a := lpDo(t, s, method, "vsn=2.0.0", nil, "")
		if a.code != 400 || a.body != "" {
			t.Errorf("%s: HTTP %d %q, want 400", method, a.code, a.body)
		}
	}

	// CORS preflight.
	o := lpDo(t, s, "OPTIONS", "", http.Header{"Access-Control-Request-Headers": {"content-type", "x-phoenix-longpoll-token"}}, "")
	for k, v := range map[string]string{
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Headers": "content-type, x-phoenix-longpoll-token",
		"Access-Control-Allow-Methods": "get, post, options",
		"Access-Control-Max-Age":       "3600",
	} {
		if got := o.header.Get(k); got != v {
			t.Errorf("OPTIONS %s: %q, want %q", k, got, v)
		}
	}
	if o.code != 200 || o.body != "" {
		t.Errorf("OPTIONS: HTTP %d %q", o.code, o.body)
	}
}

func TestLongPollOrigin(t *testing.T) {
	t.Parallel()
	s := newServer(t, &socket.Options{CheckOrigin: transport.OriginPolicy{Origins: []string{"//example.com"}}})
	ok := lpDo(t, s, "GET", "vsn=2.0.0", http.Header{"Origin": {"https://example.com"}}, "")
	if ok.Status != 410 {
		t.Fatalf("allowed origin: %q", ok.body)
	}
	for _, method := range []string{"GET", "POST", "OPTIONS"} {
		a := lpDo(t, s, method, "vsn=2.0.0&token="+ok.Token, http.Header{"Origin": {"http://notallowed.com"}}, "")
		if a.code != 200 || a.body != `{"status":403}` || a.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s from a refused origin: HTTP %d %q", method, a.code, a.body)
		}
	}
}

func TestLongPollNotMounted(t *testing.T) {
	t.Parallel()
	srv, err := socket.New(&socket.Options{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	w := serve(srv, mustRequest(t, "GET", "/socket/longpoll?vsn=2.0.0"))
	if w.Code != http.StatusNotFound {
		t.Fatalf("long-poll off: HTTP %d, want 404", w.Code)
	}
}

func mustRequest(t testing.TB, method, target string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLongPollTokenHeaderWins(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	token := lpOpen(t, s, "vsn=2.0.0")
	h, body := ndjson(`["1","1","room:h","phx_join",{}]`)
	h.Set("X-Phoenix-Longpoll-Token", token)
	a := lpDo(t, s, "POST", "vsn=2.0.0&token=bogus", h, body)
	if a.body != `{"status":200}` {
		t.Fatalf("POST with the header and a stale param: %q", a.body)
	}
	g := lpDo(t, s, "GET", "vsn=2.0.0&token=bogus", http.Header{"X-Phoenix-Longpoll-Token": {token}}, "")
	if g.Status != 200 || g.Token != token || len(g.Messages) != 1 {
		t.Fatalf("GET with the header and a stale param: %q", g.body)
	}
}

func TestLongPollBatch(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	token := lpOpen(t, s, "vsn=2.0.0")
	h, body := ndjson(
		`["1","1","room:b","phx_join",{}]`,
		`["1","2","room:b","echo",{"n":1}]`,
		`["stale","3","room:b","echo",{"n":2}]`,
		base64.StdEncoding.EncodeToString(wstest.BinaryPush("1", "4", "room:b", "echo", []byte{1, 2, 3})),
		`["1","5","room:b","echo",{"n":3}]`+"\r",
	)
	if st := lpPublish(t, s, token, h, body); st != 200 {
		t.Fatalf("publish: status %d", st)
	}
	msgs := lpCollect(t, s, token, 3)
	// The stale line is dropped; the binary push is handled (its binary
	// reply cannot travel over long-poll and is dropped).
	expectMsgs(t, msgs,
		wstest.Reply("1", "1", "room:b", "ok", `{}`),
		wstest.Reply("1", "2", "room:b", "ok", `{"n":1}`),
		wstest.Reply("1", "5", "room:b", "ok", `{"n":3}`),
	)
	if got := s.rec.events("room:b"); strings.Join(got, ",") != "echo,echo,echo" {
		t.Fatalf("handled %v, want three echoes", got)
	}

	// Only the first 100 lines of a batch are handled, in order.
	lines := make([]string, 101)
	for i := range lines {
		lines[i] = fmt.Sprintf(`["1","%d","room:b","echo",{"i":%d}]`, 100+i, i)
	}
	h, body = ndjson(lines...)
	if st := lpPublish(t, s, token, h, body); st != 200 {
		t.Fatalf("publish 101 lines: status %d", st)
	}
	msgs = lpCollect(t, s, token, 100)
	if len(msgs) != 100 {
		t.Fatalf("101 lines gave %d replies, want 100", len(msgs))
	}
	for i, m := range msgs {
		if m.Ref != fmt.Sprint(100+i) {
			t.Fatalf("reply %d has ref %s, want %d", i, m.Ref, 100+i)
		}
	}
	if st, extra := lpPoll(t, s, token); st != 204 {
		t.Fatalf("line 101 was handled: %v", extra)
	}

	// Invalid base64 is a bad request; the session lives on.
	h, body = ndjson("not base64!")
	if a := lpDo(t, s, "POST", "vsn=2.0.0&token="+token, h, body); a.code != 400 {
		t.Fatalf("invalid base64: HTTP %d %q, want 400", a.code, a.body)
	}
	// A body that is not ndjson is one message, whatever its type.
	if st := lpPublish(t, s, token, http.Header{"Content-Type": {""}}, `["1","7","room:b","echo",{}]`); st != 200 {
		t.Fatalf("empty content-type: status %d", st)
	}
	expectMsgs(t, lpCollect(t, s, token, 1), wstest.Reply("1", "7", "room:b", "ok", `{}`))
}

func TestLongPollPublishTimeout(t *testing.T) {
	t.Parallel()
	s := newServer(t, &socket.Options{LongPoll: &transport.LongPollOptions{Window: 100 * time.Millisecond}})
	token := lpOpen(t, s, "vsn=2.0.0")
	// The join blocks past the window: 408, and the next line is not sent.
	h, body := ndjson(`["1","1","room:slow","phx_join",{"gate":"slow"}]`, `["1","2","room:slow","echo",{}]`)
	if st := lpPublish(t, s, token, h, body); st != 408 {
		t.Fatalf("publish: status %d, want 408", st)
	}
	s.rec.release("slow")
	st, msgs := lpPoll(t, s, token)
	if st != 200 {
		t.Fatalf("poll: status %d", st)
	}
	expectMsgs(t, msgs, wstest.Reply("1", "1", "room:slow", "ok", `{}`))
	if got := s.rec.events("room:slow"); len(got) != 0 {
		t.Fatalf("the line after the timeout was handled: %v", got)
	}
}

func TestLongPollDecodeErrorEndsSession(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{`["1","1"]`, "[\xff]"} {
		s := newServer(t, nil)
		token := lpOpen(t, s, "vsn=2.0.0")
		h, body := ndjson(`["1","1","room:d","phx_join",{}]`, bad)
		if st := lpPublish(t, s, token, h, body); st != 408 {
			t.Fatalf("%q: status %d, want 408", bad, st)
		}
		if err := s.rec.waitTerminated(t, "room:d", 1); err != channel.ErrClosed {
			t.Fatalf("%q: Terminate reason %v", bad, err)
		}
		if st := lpPublish(t, s, token, nil, `["1","2","room:d","echo",{}]`); st != 410 {
			t.Fatalf("%q: publish after: status %d, want 410", bad, st)
		}
	}
}

func TestLongPollPoll(t *testing.T) {
	t.Parallel()
	t.Run("in handler", func(t *testing.T) { testLongPollPoll(t, -1) })
	t.Run("parked", func(t *testing.T) { testLongPollPoll(t, 20*time.Millisecond) })
}

func testLongPollPoll(t *testing.T, parkAfter time.Duration) {
	s := newServer(t, &socket.Options{LongPoll: &transport.LongPollOptions{Window: 200 * time.Millisecond, ParkAfter: parkAfter}})
	token := lpOpen(t, s, "vsn=2.0.0")

	// Nothing buffered: 204 after the window.
	start := time.Now()
	if st, msgs := lpPoll(t, s, token); st != 204 || msgs != nil {
		t.Fatalf("empty poll: %d %v", st, msgs)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("empty poll answered after %v, before the window", d)
	}

	// A waiting poll is woken by the first message.
	h, body := ndjson(`["1","1","room:p","phx_join",{}]`)
	if st := lpPublish(t, s, token, h, body); st != 200 {
		t.Fatal(st)
	}
	lpPoll(t, s, token)
	got := make(chan []wstest.Msg, 1)
	go func() {
		_, msgs := lpPoll(t, s, token)
		got <- msgs
	}()
	time.Sleep(50 * time.Millisecond)
	if err := s.Broadcast(context.Background(), "room:p", "shout", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	expectMsgs(t, <-got, wstest.M(wstest.Null, wstest.Null, "room:p", "shout", `{"n":1}`))

	// A newer poll takes over: the older one ends with 204 and the newer
	// gets the message.
	older := make(chan int, 1)
	go func() {
		st, _ := lpPoll(t, s, token)
		older <- st
	}()
	time.Sleep(50 * time.Millisecond)
	newer := make(chan []wstest.Msg, 1)
	go func() {
		_, msgs := lpPoll(t, s, token)
		newer <- msgs
	}()
	if st := <-older; st != 204 {
		t.Fatalf("replaced poll: status %d, want 204", st)
	}
	if err := s.Broadcast(context.Background(), "room:p", "shout", map[string]int{"n": 2}); err != nil {
		t.Fatal(err)
	}
	expectMsgs(t, <-newer, wstest.M(wstest.Null, wstest.Null, "room:p", "shout", `{"n":2}`))
}

// TestLongPollMaxWaitingPolls: while MaxWaitingPolls polls wait in their
// handlers, a new poll parks at once (its answer closes the connection)
// and still gets what is broadcast to it; the waiting one keeps its
// connection.
func TestLongPollMaxWaitingPolls(t *testing.T) {
	t.Parallel()
	// ParkAfter beyond the window: without the bound, no poll would park.
	s := newServer(t, &socket.Options{LongPoll: &transport.LongPollOptions{Window: 300 * time.Millisecond, ParkAfter: time.Minute, MaxWaitingPolls: 1}})
	first, second := lpOpen(t, s, "vsn=2.0.0"), lpOpen(t, s, "vsn=2.0.0")
	h, body := ndjson(`["1","1","room:w","phx_join",{}]`)
	if st := lpPublish(t, s, second, h, body); st != 200 {
		t.Fatal(st)
	}
	lpPoll(t, s, second) // The join's reply.

	waiting := make(chan lpAnswer, 1)
	go func() { waiting <- lpDo(t, s, "GET", "vsn=2.0.0&token="+first, nil, "") }()
	time.Sleep(50 * time.Millisecond)
	parked := make(chan lpAnswer, 1)
	go func() { parked <- lpDo(t, s, "GET", "vsn=2.0.0&token="+second, nil, "") }()
	time.Sleep(50 * time.Millisecond)
	if err := s.Broadcast(context.Background(), "room:w", "shout", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	a := <-parked
	if a.Status != 200 || len(a.Messages) != 1 || !a.closed || a.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("poll over the bound: status %d, %d messages, closed %v, header %v; want 200, 1, a parked answer", a.Status, len(a.Messages), a.closed, a.header)
	}
	if a = <-waiting; a.Status != 204 || a.closed {
		t.Fatalf("poll within the bound: status %d, closed %v; want 204 in the handler", a.Status, a.closed)
	}
}

// TestLongPollNoLoss broadcasts while the client polls in a loop: every
// message arrives once, in order.
func TestLongPollNoLoss(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, m mode) {
		if !m.lp {
			return
		}
		// A window long enough that a poll under -race on a busy machine
		// comes back before the session's inactivity check (1.5 to 3
		// windows) ends it, short enough that pauses let polls time out.
		const window = 100 * time.Millisecond
		s := newServer(t, &socket.Options{LongPoll: &transport.LongPollOptions{Window: window, ParkAfter: 5 * time.Millisecond}})
		c := s.dial(t, m, "")
		joinOK(t, c, m, "room:n", "")
		const n = 500
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range n {
				if err := s.Broadcast(context.Background(), "room:n", "shout", map[string]int{"i": i}); err != nil {
					t.Error(err)
				}
				if i%100 == 0 {
					time.Sleep(window + 10*time.Millisecond) // Let some polls time out.
				}
			}
		})
		for i := range n {
			c.Expect(wstest.M(wstest.Null, wstest.Null, "room:n", "shout", fmt.Sprintf(`{"i":%d}`, i)))
		}
		wg.Wait()
	})
}

func TestLongPollInactiveSessionEnds(t *testing.T) {
	t.Parallel()
	s := newServer(t, &socket.Options{LongPoll: &transport.LongPollOptions{Window: 100 * time.Millisecond}})
	token := lpOpen(t, s, "vsn=2.0.0")
	h, body := ndjson(`["1","1","room:idle","phx_join",{}]`)
	if st := lpPublish(t, s, token, h, body); st != 200 {
		t.Fatal(st)
	}
	// No poll: the session ends after 1.5 to 3 windows, with its channels.
	if err := s.rec.waitTerminated(t, "room:idle", 1); err != channel.ErrClosed {
		t.Fatalf("Terminate reason %v", err)
	}
	if st := lpPublish(t, s, token, h, body); st != 410 {
		t.Fatalf("publish to an expired session: %d, want 410", st)
	}
}

func TestLongPollSessionKeptAliveByPolls(t *testing.T) {
	t.Parallel()
	s := newServer(t, &socket.Options{LongPoll: &transport.LongPollOptions{Window: 50 * time.Millisecond}})
	token := lpOpen(t, s, "vsn=2.0.0")
	for range 10 { // 10 windows: several inactivity checks.
		if st, _ := lpPoll(t, s, token); st != 204 {
			t.Fatalf("poll: %d", st)
		}
	}
	if st := lpPublish(t, s, token, nil, `["1","1","room:alive","phx_join",{}]`); st != 200 {
		t.Fatalf("publish: %d", st)
	}
}

// TestLongPollAndWebSocket: clients on both transports see each other's
// broadcasts, each with its own transport in intercepted events.
func TestLongPollAndWebSocket(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	ws := s.dial(t, modes[1], "")
	lp := s.dial(t, modes[3], "")
	jrWS := joinOK(t, ws, modes[1], "room:mix", "")
	jrLP := joinOK(t, lp, modes[3], "room:mix", "")

	ref := lp.Push("room:mix", "new_msg", `{"from":"lp"}`)
	lp.Expect(wstest.Reply(jrLP, ref, "room:mix", "ok", `{}`))
	lp.Expect(wstest.M(jrLP, wstest.Null, "room:mix", "new_msg", `{"from":"lp","transport":"longpoll"}`))
	ws.Expect(wstest.M(jrWS, wstest.Null, "room:mix", "new_msg", `{"from":"lp","transport":"websocket"}`))

	ws.Push("room:mix", "shout", `{"from":"ws"}`)
	ws.Expect(wstest.M(wstest.Null, wstest.Null, "room:mix", "shout", `{"from":"ws"}`))
	lp.Expect(wstest.M(wstest.Null, wstest.Null, "room:mix", "shout", `{"from":"ws"}`))
}
