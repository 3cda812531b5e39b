package presence

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// peer plays another node by hand: it sends crafted gossip to the tracker
// on node "a" and records what the tracker sends it.
type peer struct {
	t    *testing.T
	ps   *pubsub.PubSub
	ref  replicaRef
	mu   sync.Mutex
	got  []*pubsub.Message
	diff []string // presence_diff payloads on node a's room:1
}

// clusterNode returns a PubSub on a new node of c, closed when the test ends.
func clusterNode(t *testing.T, c *pubsub.Cluster, name string) *pubsub.PubSub {
	ps, err := pubsub.New(context.Background(), &pubsub.Options{Node: name, Adapter: c.Adapter(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close(context.Background()) })
	return ps
}

func newPeerTest(t *testing.T) (*Tracker, *peer) {
	c := pubsub.NewCluster()
	a := clusterNode(t, c, "a")
	tr, err := New(a, &Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	p := &peer{t: t, ps: clusterNode(t, c, "b"), ref: replicaRef{Node: "b", Vsn: "v1"}}
	rec := pubsub.SubscriberFunc(func(m *pubsub.Message) {
		if strings.Contains(string(m.Payload.Bytes()), `{"from":{"node":"b"`) {
			return // The peer's own.
		}
		p.mu.Lock()
		p.got = append(p.got, m)
		p.mu.Unlock()
	})
	if _, err := p.ps.Subscribe(tr.topic, rec); err != nil {
		t.Fatal(err)
	}
	diffs := pubsub.SubscriberFunc(func(m *pubsub.Message) {
		p.mu.Lock()
		p.diff = append(p.diff, string(m.Payload.Bytes()))
		p.mu.Unlock()
	})
	if _, err := a.Subscribe("room:1", diffs); err != nil {
		t.Fatal(err)
	}
	settle()
	if ev := p.events(); !slices.Equal(ev, []string{evHeartbeat}) {
		t.Fatalf("at start the tracker sent %v, want a heartbeat", ev)
	}
	return tr, p
}

func (p *peer) send(event string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.ps.Broadcast(context.Background(), &pubsub.Message{Topic: "phx_presence:pyre", Event: event, Payload: protocol.JSON(b)}); err != nil {
		p.t.Fatal(err)
	}
	settle()
}

// events returns and forgets the events the tracker sent the peer.
func (p *peer) events() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.got {
		out = append(out, m.Event)
	}
	p.got = nil
	return out
}

func (p *peer) diffs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.diff
	p.diff = nil
	return out
}

func add(seq uint64, key, ref string) wireOp {
	return wireOp{Seq: seq, Topic: "room:1", Key: key, Meta: json.RawMessage(fmt.Sprintf(`{"phx_ref":%q}`, ref))}
}

func remove(seq uint64, key, ref string) wireOp {
	return wireOp{Seq: seq, Topic: "room:1", Key: key, Ref: ref}
}

func listed(tr *Tracker) string {
	var out []string
	for k, p := range tr.List(context.Background(), "room:1") {
		for _, m := range p.Metas {
			out = append(out, k+"="+m.Ref)
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func TestGossipDuplicates(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr, p := newPeerTest(t)
		hb := heartbeat{From: p.ref, Base: 0, Seq: 2, Ops: []wireOp{add(1, "x", "X"), add(2, "y", "Y")}}
		p.send(evHeartbeat, hb)
		if ev := p.events(); !slices.Equal(ev, []string{evTransferAck}) {
			t.Fatalf("a new node got %v, want the tracker's state (transfer_ack)", ev)
		}
		p.send(evHeartbeat, hb)                                                                                            // A duplicate.
		p.send(evHeartbeat, heartbeat{From: p.ref, Base: 1, Seq: 3, Ops: []wireOp{add(2, "y", "Y"), remove(3, "x", "X")}}) // Overlaps.
		if got := listed(tr); got != "y=Y" {
			t.Fatalf("listed %q, want y=Y", got)
		}
		diffs := p.diffs()
		want := []string{
			`{"joins":{"x":{"metas":[{"phx_ref":"X"}]},"y":{"metas":[{"phx_ref":"Y"}]}},"leaves":{}}`,
			`{"joins":{},"leaves":{"x":{"metas":[{"phx_ref":"X"}]}}}`,
		}
		if !slices.Equal(diffs, want) {
			t.Fatalf("diffs:\n%s\nwant:\n%s", strings.Join(diffs, "\n"), strings.Join(want, "\n"))
		}
		if ev := p.events(); len(ev) != 0 {
			t.Fatalf("the tracker sent %v; nothing was missing", ev)
		}
	})
}

func TestGossipOutOfOrder(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr, p := newPeerTest(t)
		p.send(evHeartbeat, heartbeat{From: p.ref, Base: 0, Seq: 1, Ops: []wireOp{add(1, "x", "X")}})
		p.events()
		p.diffs()
		// Change 3 arrives before change 2: it waits, and the tracker asks
		// for the state.
		p.send(evHeartbeat, heartbeat{From: p.ref, Base: 2, Seq: 3, Ops: []wireOp{add(3, "z", "Z")}})
		if got := listed(tr); got != "x=X" {
			t.Fatalf("after a gap: listed %q, want x=X only", got)
		}
		if ev := p.events(); !slices.Equal(ev, []string{evTransferReq}) {
			t.Fatalf("after a gap the tracker sent %v, want transfer_req", ev)
		}
		// Change 2 arrives late: 2 and 3 apply, in order.
		p.send(evHeartbeat, heartbeat{From: p.ref, Base: 1, Seq: 2, Ops: []wireOp{add(2, "y", "Y")}})
		if got := listed(tr); got != "x=X y=Y z=Z" {
			t.Fatalf("after the late change: listed %q", got)
		}
		// The state asked for arrives, older than what we have: ignored.
		p.send(evTransferAck, transferAck{From: p.ref, To: tr.self, Seq: 2, Entries: []wireOp{add(0, "x", "X"), add(0, "y", "Y")}})
		if got := listed(tr); got != "x=X y=Y z=Z" {
			t.Fatalf("a stale state changed the list: %q", got)
		}
		// A newer state replaces: x left, w joined, y and z stay.
		p.send(evTransferAck, transferAck{From: p.ref, To: tr.self, Seq: 9, Entries: []wireOp{add(0, "y", "Y"), add(0, "z", "Z"), add(0, "w", "W")}})
		if got := listed(tr); got != "w=W y=Y z=Z" {
			t.Fatalf("after a newer state: listed %q", got)
		}
		diffs := p.diffs()
		if last := diffs[len(diffs)-1]; last != `{"joins":{"w":{"metas":[{"phx_ref":"W"}]}},"leaves":{"x":{"metas":[{"phx_ref":"X"}]}}}` {
			t.Fatalf("state diff %s", last)
		}
		// A state for another tracker is ignored.
		p.send(evTransferAck, transferAck{From: p.ref, To: replicaRef{Node: "a", Vsn: "other"}, Seq: 20})
		if got := listed(tr); got != "w=W y=Y z=Z" {
			t.Fatalf("a state for someone else was applied: %q", got)
		}
	})
}

// A node first heard of in the middle of its life is asked for its state;
// its changes wait for it.
func TestGossipUnknownNodeMidLife(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr, p := newPeerTest(t)
		p.send(evHeartbeat, heartbeat{From: p.ref, Base: 5, Seq: 6, Ops: []wireOp{add(6, "y", "Y")}})
		if ev := p.events(); !slices.Equal(ev, []string{evTransferAck, evTransferReq}) {
			t.Fatalf("the tracker sent %v, want its state then a request for ours", ev)
		}
		if got := listed(tr); got != "" {
			t.Fatalf("applied changes without the state: %q", got)
		}
		// Asked at most once per period.
		p.send(evHeartbeat, heartbeat{From: p.ref, Base: 6, Seq: 6})
		if ev := p.events(); len(ev) != 0 {
			t.Fatalf("asked again at once: %v", ev)
		}
		p.send(evTransferAck, transferAck{From: p.ref, To: tr.self, Seq: 5, Entries: []wireOp{add(0, "x", "X")}})
		if got := listed(tr); got != "x=X y=Y" {
			t.Fatalf("after the state: listed %q, want x=X y=Y", got)
		}
		// It answers a transfer request with its state.
		p.send(evTransferReq, transferReq{From: p.ref, To: tr.self})
		p.mu.Lock()
		last := p.got[len(p.got)-1]
		p.mu.Unlock()
		var ack transferAck
		if err := json.Unmarshal(last.Payload.Bytes(), &ack); err != nil || last.Event != evTransferAck || ack.To != p.ref || ack.From != tr.self || len(ack.Entries) != 0 {
			t.Fatalf("answer to transfer_req: %s %s (%v)", last.Event, last.Payload.Bytes(), err)
		}
	})
}

func TestGossipRestartAndGoodbye(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr, p := newPeerTest(t)
		p.send(evHeartbeat, heartbeat{From: p.ref, Base: 0, Seq: 1, Ops: []wireOp{add(1, "x", "X")}})
		// b restarts: a new vsn replaces the old one and its entries.
		p.ref.Vsn = "v2"
		p.send(evHeartbeat, heartbeat{From: p.ref, Base: 0, Seq: 1, Ops: []wireOp{add(1, "y", "Y")}})
		if got := listed(tr); got != "y=Y" {
			t.Fatalf("after the restart: listed %q, want y=Y", got)
		}
		// A goodbye from the old incarnation changes nothing; from the new
		// one it drops its entries.
		p.send(evGoodbye, goodbye{From: replicaRef{Node: "b", Vsn: "v1"}})
		if got := listed(tr); got != "y=Y" {
			t.Fatalf("an old goodbye dropped entries: %q", got)
		}
		p.send(evGoodbye, goodbye{From: p.ref})
		if got := listed(tr); got != "" {
			t.Fatalf("after goodbye: listed %q", got)
		}
		// Garbage is logged and ignored.
		if err := p.ps.Broadcast(context.Background(), &pubsub.Message{Topic: tr.topic, Event: evHeartbeat, Payload: protocol.JSON([]byte(`{"from":1}`))}); err != nil {
			t.Fatal(err)
		}
		p.send(evHeartbeat, heartbeat{From: p.ref, Base: 0, Seq: 1, Ops: []wireOp{{Seq: 1, Topic: "room:1", Key: "bad", Meta: json.RawMessage(`{"no":"ref"}`)}}})
		if got := listed(tr); got != "" {
			t.Fatalf("a bad change was applied: %q", got)
		}
	})
}

// A silent node is dropped after the down period; until then its entries
// stay.
func TestGossipDownPeriod(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr, p := newPeerTest(t)
		p.send(evHeartbeat, heartbeat{From: p.ref, Base: 0, Seq: 1, Ops: []wireOp{add(1, "x", "X")}})
		time.Sleep(20 * time.Second)
		p.send(evHeartbeat, heartbeat{From: p.ref, Base: 1, Seq: 1}) // Alive.
		time.Sleep(29 * time.Second)
		settle()
		if got := listed(tr); got != "x=X" {
			t.Fatalf("dropped before the down period: %q", got)
		}
		time.Sleep(2 * time.Second)
		settle()
		if got := listed(tr); got != "" {
			t.Fatalf("still listed after the down period: %q", got)
		}
		diffs := p.diffs()
		if last := diffs[len(diffs)-1]; last != `{"joins":{},"leaves":{"x":{"metas":[{"phx_ref":"X"}]}}}` {
			t.Fatalf("down diff %s", last)
		}
	})
}

// The tracker sends its own changes, numbered, and a heartbeat every
// period.
func TestGossipOutgoing(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr, p := newPeerTest(t)
		// Alone, the tracker only counts its changes.
		if _, err := tr.Track("o", "room:1", "k", nil); err != nil {
			t.Fatal(err)
		}
		settle()
		p.events()
		p.send(evHeartbeat, heartbeat{From: p.ref}) // b appears: it gets the state at seq 1.
		p.mu.Lock()
		var ack transferAck
		_ = json.Unmarshal(p.got[len(p.got)-1].Payload.Bytes(), &ack)
		p.got = nil
		p.mu.Unlock()
		if ack.Seq != 1 || len(ack.Entries) != 1 || ack.Entries[0].Key != "k" {
			t.Fatalf("state sent to b: %+v", ack)
		}
		if _, err := tr.Update("o", "room:1", "k", map[string]any{"v": 2}); err != nil {
			t.Fatal(err)
		}
		settle()
		p.mu.Lock()
		var hb heartbeat
		_ = json.Unmarshal(p.got[len(p.got)-1].Payload.Bytes(), &hb)
		p.got = nil
		p.mu.Unlock()
		if hb.Base != 1 || hb.Seq != 3 || len(hb.Ops) != 2 || hb.Ops[0].Ref == "" || hb.Ops[1].Meta == nil {
			t.Fatalf("update sent as %+v, want a remove (2) and an add (3)", hb)
		}
		time.Sleep(1600 * time.Millisecond)
		settle()
		hb = heartbeat{}
		p.mu.Lock()
		_ = json.Unmarshal(p.got[len(p.got)-1].Payload.Bytes(), &hb)
		p.mu.Unlock()
		if hb.Base != 3 || hb.Seq != 3 || len(hb.Ops) != 0 {
			t.Fatalf("periodic heartbeat %+v, want seq 3 and no changes", hb)
		}
	})
}

// settle, in a synctest bubble, lets the diffs queued so far go out: it
// sleeps past the default DiffWindow (virtual time), then waits for
// every goroutine of the bubble to block.
func settle() {
	time.Sleep(2 * defaultDiffWindow)
	synctest.Wait()
}

// A node that says goodbye and speaks again within one DiffWindow comes
// back with the same phx_refs: the merged diff must carry the join alone,
// or phoenix.js, which applies leaves after joins, would drop the entry.
func TestGossipDownAndBackWithinWindow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr, p := newPeerTest(t)
		p.send(evHeartbeat, heartbeat{From: p.ref, Base: 0, Seq: 1, Ops: []wireOp{add(1, "x", "X")}})
		local, err := tr.Track("o", "room:1", "x", nil)
		if err != nil {
			t.Fatal(err)
		}
		settle()
		raw := func(event string, v any) {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.ps.Broadcast(context.Background(), &pubsub.Message{Topic: tr.topic, Event: event, Payload: protocol.JSON(b)}); err != nil {
				t.Fatal(err)
			}
			synctest.Wait() // Handled, and no time passes: the window is open.
		}
		raw(evGoodbye, goodbye{From: p.ref})
		if got := listed(tr); got != "x="+local {
			t.Fatalf("after goodbye: listed %q", got)
		}
		raw(evHeartbeat, heartbeat{From: p.ref, Base: 0, Seq: 1, Ops: []wireOp{add(1, "x", "X")}})
		settle()
		view := clientView{}
		diffs := p.diffs()
		for _, d := range diffs {
			view.applyWire(t, []byte(d))
		}
		list := clientView{}
		for k, pr := range tr.List(context.Background(), "room:1") {
			for _, m := range pr.Metas {
				list[k] = append(list[k], m.Ref)
			}
		}
		if view.String() != list.String() || len(list["x"]) != 2 || list["x"][1] != "X" {
			t.Fatalf("view %v, List %v (diffs %q)", view, list, diffs)
		}
		if last := diffs[len(diffs)-1]; !strings.Contains(last, `"leaves":{}`) {
			t.Fatalf("the down and back went out as %s, want the join alone", last)
		}
	})
}
