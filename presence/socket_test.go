package presence_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/internal/chanrt"
	"github.com/pyrehq/pyre/internal/sendbatch"
	"github.com/pyrehq/pyre/internal/workq"
	"github.com/pyrehq/pyre/presence"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// fakeConn is a chanrt.Conn that records the frames a client would get.
type fakeConn struct {
	mu     sync.Mutex
	frames []string
}

func (f *fakeConn) Serializer() protocol.Serializer     { return protocol.V2 }
func (f *fakeConn) Transport() string                   { return "fake" }
func (f *fakeConn) ID() string                          { return "" }
func (f *fakeConn) ChannelClosed(*chanrt.Channel, bool) {}
func (f *fakeConn) SlowConsumer()                       { panic("fakeConn: slow consumer") }

func (f *fakeConn) SendBatch(fr protocol.Frame, _ *sendbatch.Batch) bool { return f.Send(fr) }

func (f *fakeConn) Send(fr protocol.Frame) bool {
	f.mu.Lock()
	f.frames = append(f.frames, string(fr.Data))
	f.mu.Unlock()
	return true
}

// events returns the events of the frames received, and their payloads.
func (f *fakeConn) events(t testing.TB) (events []string, payloads []string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fr := range f.frames {
		var arr []json.RawMessage
		if err := json.Unmarshal([]byte(fr), &arr); err != nil || len(arr) != 5 {
			t.Fatalf("bad frame %s", fr)
		}
		var ev string
		_ = json.Unmarshal(arr[3], &ev)
		events = append(events, ev)
		payloads = append(payloads, string(arr[4]))
	}
	return events, payloads
}

// presenceRoom is the channel of a Phoenix presence app: after the join
// it tracks the user and pushes presence_state.
type presenceRoom struct {
	tr     *presence.Tracker
	user   string
	crash  bool // Panic after tracking.
	refs   chan string
	update map[string]any
}

type afterJoin struct{}

func (r *presenceRoom) Join(_ context.Context, s *channel.Socket, _ string, _ protocol.Payload) (any, error) {
	s.Send(afterJoin{})
	return nil, nil
}

func (r *presenceRoom) HandleInfo(ctx context.Context, s *channel.Socket, msg any) error {
	ref, err := r.tr.TrackAndPushState(ctx, s, r.user, map[string]any{"user": r.user})
	if err != nil {
		return err
	}
	r.refs <- ref
	if r.crash {
		panic("after tracking")
	}
	return nil
}

func (r *presenceRoom) HandleIn(_ context.Context, s *channel.Socket, in *channel.Message) error {
	if in.Event == "update" {
		ref, err := r.tr.UpdateSocket(s, r.user, r.update)
		if err != nil {
			return err
		}
		r.refs <- ref
		return in.Reply("ok", nil)
	}
	return errors.New("unknown event")
}

// join starts a channel on a fake connection, as the socket package does.
func join(t testing.TB, ps *pubsub.PubSub, wg *workq.Group, topic string, h channel.Handler) (*chanrt.Channel, *fakeConn) {
	t.Helper()
	conn := &fakeConn{}
	c := chanrt.New(chanrt.Config{
		Topic: topic, JoinRef: protocol.StringRef("1"), Ref: protocol.StringRef("1"),
		Handler: h, Conn: conn, PubSub: ps, Group: wg, Logger: discard,
	})
	if _, st := c.Join(protocol.JSON([]byte(`{}`))); st != "ok" {
		t.Fatal("join refused")
	}
	c.Activate(func() {
		conn.Send(protocol.Frame{Data: []byte(`["1","1","` + topic + `","phx_reply",{"status":"ok","response":{}}]`)})
	})
	return c, conn
}

func TestTrackAndPushStateOrder(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ps := newPubSub(t, "n1")
		tr := newTracker(t, ps, nil)
		var wg workq.Group
		w := watch(ps, "room:1")

		a := &presenceRoom{tr: tr, user: "ann", refs: make(chan string, 4)}
		ca, connA := join(t, ps, &wg, "room:1", a)
		settle()
		refA := <-a.refs
		b := &presenceRoom{tr: tr, user: "bob", refs: make(chan string, 4)}
		cb, connB := join(t, ps, &wg, "room:1", b)
		settle()
		refB := <-b.refs

		metaA := fmt.Sprintf(`{"metas":[{"phx_ref":%q,"user":"ann"}]}`, refA)
		metaB := fmt.Sprintf(`{"metas":[{"phx_ref":%q,"user":"bob"}]}`, refB)
		events, payloads := connB.events(t)
		// Phoenix's order: the join reply, presence_state (with itself), then
		// the diff of its own join.
		if strings.Join(events, ",") != "phx_reply,presence_state,presence_diff" {
			t.Fatalf("bob got %v", events)
		}
		if want := `{"ann":` + metaA + `,"bob":` + metaB + `}`; payloads[1] != want {
			t.Fatalf("bob's presence_state %s\nwant %s", payloads[1], want)
		}
		if want := `{"joins":{"bob":` + metaB + `},"leaves":{}}`; payloads[2] != want {
			t.Fatalf("bob's diff %s\nwant %s", payloads[2], want)
		}
		events, payloads = connA.events(t)
		if strings.Join(events, ",") != "phx_reply,presence_state,presence_diff,presence_diff" || payloads[1] != `{"ann":`+metaA+`}` {
			t.Fatalf("ann got %v %v", events, payloads)
		}

		// An update: one diff, old meta left, new meta joined.
		b.update = map[string]any{"user": "bob", "status": "away"}
		cb.HandleIn(protocol.Message{Topic: "room:1", Event: "update", Ref: protocol.StringRef("2"), Payload: protocol.JSON([]byte(`{}`))})
		settle()
		refB2 := <-b.refs
		_, payloads = connA.events(t)
		want := fmt.Sprintf(`{"joins":{"bob":{"metas":[{"phx_ref":%q,"phx_ref_prev":%q,"status":"away","user":"bob"}]}},"leaves":{"bob":%s}}`, refB2, refB, metaB)
		if got := payloads[len(payloads)-1]; got != want {
			t.Fatalf("update diff %s\nwant %s", got, want)
		}

		// bob leaves: his entry goes, by itself.
		cb.Leave(protocol.Message{Topic: "room:1", Event: "phx_leave", Ref: protocol.StringRef("3")})
		settle()
		if list := tr.List(context.Background(), "room:1"); len(list) != 1 || list["ann"] == nil {
			t.Fatalf("after bob left: %s", mustJSON(t, list))
		}
		// ann's connection closes: hers goes too.
		ca.Stop(channel.ErrClosed)
		settle()
		if list := tr.List(context.Background(), "room:1"); len(list) != 0 {
			t.Fatalf("after ann's connection closed: %s", mustJSON(t, list))
		}
		if v := w.view(); len(v) != 0 {
			t.Fatalf("a watcher still sees %s", showRefs(v))
		}
		_ = wg.Wait(context.Background())
	})
}

func TestSocketCrashUntracks(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ps := newPubSub(t, "n1")
		tr := newTracker(t, ps, nil)
		var wg workq.Group
		w := watch(ps, "room:1")
		r := &presenceRoom{tr: tr, user: "ann", crash: true, refs: make(chan string, 1)}
		join(t, ps, &wg, "room:1", r)
		settle()
		ref := <-r.refs
		_ = wg.Wait(context.Background())
		settle()
		if list := tr.List(context.Background(), "room:1"); len(list) != 0 {
			t.Fatalf("a crashed channel is still listed: %s", mustJSON(t, list))
		}
		// The join and the leave may go out merged in one diff: the view is
		// the same.
		var joined, left []any
		for _, d := range w.diffList() {
			for _, m := range d.Joins["ann"].Metas {
				joined = append(joined, m["phx_ref"])
			}
			for _, m := range d.Leaves["ann"].Metas {
				left = append(left, m["phx_ref"])
			}
		}
		if len(joined) != 1 || joined[0] != ref || len(left) != 1 || left[0] != ref || len(w.view()) != 0 {
			t.Fatalf("diffs %+v: want the join and the leave of %s", w.diffList(), ref)
		}
	})
}

func TestSocketHelpers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ps := newPubSub(t, "n1")
		tr := newTracker(t, ps, nil)
		var wg workq.Group
		h := &helperRoom{tr: tr, done: make(chan error, 1)}
		c, conn := join(t, ps, &wg, "room:1", h)
		settle()
		if err := <-h.done; err != nil {
			t.Fatal(err)
		}
		list := tr.List(context.Background(), "room:1")
		if len(list) != 1 || list["second"] == nil || list["second"].Metas[0].Fields["v"] != float64(2) {
			t.Fatalf("after the helpers: %s", mustJSON(t, list))
		}
		events, payloads := conn.events(t)
		if events[1] != "presence_state" || !strings.Contains(payloads[1], `"second"`) {
			t.Fatalf("PushState: %v %v", events, payloads)
		}
		c.Stop(channel.ErrClosed)
		_ = wg.Wait(context.Background())
		settle()
		if n := len(tr.List(context.Background(), "room:1")); n != 0 {
			t.Fatalf("%d keys left after the channel ended", n)
		}
		// Tracking an ended channel untracks it at once.
		if _, err := tr.TrackSocket(c.Socket(), "late", nil); err != nil {
			t.Fatal(err)
		}
		settle()
		if n := len(tr.List(context.Background(), "room:1")); n != 0 {
			t.Fatalf("an ended channel stays tracked (%d keys)", n)
		}
	})
}

// helperRoom uses each socket helper once, after the join.
type helperRoom struct {
	tr   *presence.Tracker
	done chan error
}

func (h *helperRoom) Join(_ context.Context, s *channel.Socket, _ string, _ protocol.Payload) (any, error) {
	s.Send(afterJoin{})
	return nil, nil
}

func (h *helperRoom) HandleInfo(ctx context.Context, s *channel.Socket, _ any) error {
	h.done <- h.steps(ctx, s)
	return nil
}

func (h *helperRoom) steps(ctx context.Context, s *channel.Socket) error {
	if _, err := h.tr.TrackSocket(s, "first", map[string]any{"v": 1}); err != nil {
		return err
	}
	if _, err := h.tr.TrackSocket(s, "first", nil); !errors.Is(err, presence.ErrAlreadyTracked) {
		return fmt.Errorf("second TrackSocket: %v", err)
	}
	if _, err := h.tr.TrackSocket(s, "second", map[string]any{"v": 1}); err != nil {
		return err
	}
	h.tr.UntrackSocket(s, "first")
	if _, err := h.tr.UpdateSocket(s, "first", nil); !errors.Is(err, presence.ErrNoPresence) {
		return fmt.Errorf("UpdateSocket of an untracked key: %v", err)
	}
	if _, err := h.tr.UpdateSocketFunc(s, "second", func(old map[string]any) map[string]any {
		return map[string]any{"v": old["v"].(float64) + 1}
	}); err != nil {
		return err
	}
	return h.tr.PushState(ctx, s)
}
