package channeltest

import (
	"context"
	"fmt"
	"strings"

	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// Channel is a topic the client joined: phoenix.js's channel, and the
// socket Phoenix.ChannelTest's subscribe_and_join returns. Push sends
// events to the server's channel; the Assert and Refute methods check what
// came back.
//
// Each Channel has two mailboxes. One holds the frames its client
// received on the topic: replies, pushes, fast-lane broadcasts, phx_close
// and phx_error. The other holds the broadcasts made on the topic, as the
// test's own PubSub subscription saw them. An Assert method waits up to
// the client's timeout ([Options.Timeout]) for the first message that
// matches, takes it from its mailbox and leaves the others, as ExUnit's
// assert_receive does; when none comes, it fails the test with t.Fatal,
// listing what did arrive. A Refute method waits the shorter
// [Options.RefuteTimeout] and fails if a matching message is there.
//
// Expected payloads (want) are compared as JSON values, so key order and
// spacing do not matter. want follows channel.Socket.Push's rules: a Go
// value goes through encoding/json, a json.RawMessage or a
// protocol.Payload made with protocol.JSON is JSON text, and
// protocol.Binary(b) expects a binary payload of exactly b. A nil want
// matches any payload, as Phoenix's default pattern %{} does; pass
// map[string]any{} to expect exactly {}. Every Assert method returns the
// payload it matched, for checks of your own.
//
// Channel's methods follow the rules of [Client]'s.
type Channel struct {
	c        *Client
	topic    string
	joinRef  string
	sub      *pubsub.Subscription // The test's subscription to topic; nil without a PubSub.
	response protocol.Payload     // The join reply's response.

	// Guarded by c.mu.
	inbox      []*frame       // Frames received and not asserted yet, in order.
	sent       map[Ref]string // The event of each ref pushed.
	broadcasts []*broadcast   // Broadcasts on topic not asserted yet, in order.
	presence   presenceView
}

// broadcast is one broadcast the test's subscription received.
type broadcast struct {
	event   string
	payload protocol.Payload
}

// Topic is the channel's topic.
func (ch *Channel) Topic() string { return ch.topic }

// JoinRef is the join's ref, which the server's frames for this channel
// carry as join_ref (V2) and channel.Socket.JoinRef returns.
func (ch *Channel) JoinRef() string { return ch.joinRef }

// JoinResponse is the response of the join's ok reply: what the
// Handler's Join returned ({} for nil). Phoenix: the reply of
// {:ok, reply, socket} = subscribe_and_join(...).
func (ch *Channel) JoinResponse() protocol.Payload { return ch.response }

// Push sends event with payload to the server's channel, which gets it in
// InHandler.HandleIn, and returns its ref for [Channel.AssertReply]. payload
// follows channel.Socket.Push's rules (nil is {}); protocol.Binary(b)
// sends a binary frame (V2 only). phoenix.js: channel.push(event,
// payload); Phoenix: push(socket, event, payload).
func (ch *Channel) Push(event string, payload any) Ref {
	ch.c.t.Helper()
	p, err := payloadOf(payload)
	if err != nil {
		ch.c.t.Fatalf("channeltest: push %q on %q: the payload does not encode to JSON: %v", event, ch.topic, err)
		return ""
	}
	c := ch.c
	c.mu.Lock()
	ref := c.nextRef()
	c.refs[ref] = ch
	ch.sent[ref] = event
	c.mu.Unlock()
	c.send(ch.joinRef, ref, ch.topic, event, p)
	return ref
}

// BroadcastFrom broadcasts event with payload on the channel's topic
// through the PubSub, as another part of the application would, except
// that this Channel's own subscription does not get it: every channel on
// the topic does, intercepting it (OutHandler) or passing it to its client
// (the fast lane). payload must be a JSON object or binary. Phoenix:
// broadcast_from!(socket, event, payload).
func (ch *Channel) BroadcastFrom(event string, payload any) {
	ch.c.t.Helper()
	if !ch.needPubSub("BroadcastFrom") {
		return
	}
	p, err := payloadOf(payload)
	if err == nil && !p.IsBinary() && !p.IsObject() {
		err = fmt.Errorf("a broadcast payload must be a JSON object or binary, not %s", showPayload(p))
	}
	if err != nil {
		ch.c.t.Fatalf("channeltest: broadcast %q on %q: %v", event, ch.topic, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := ch.c.ps.Broadcast(ctx, &pubsub.Message{Topic: ch.topic, Event: event, Payload: p, From: ch.sub}); err != nil {
		ch.c.t.Fatalf("channeltest: broadcast %q on %q: %v", event, ch.topic, err)
	}
}

// Leave leaves the topic, as phoenix.js's channel.leave(), and fails the
// test unless the server replies ok and closes the channel (phx_close).
// The server's Terminate runs after that (with channel.ErrLeft); Leave
// does not wait for it. Phoenix: leave(socket) and assert_reply ref, :ok.
func (ch *Channel) Leave() {
	ch.c.t.Helper()
	ref := ch.Push(eventLeave, nil)
	if ref == "" {
		return
	}
	ch.AssertReply(ref, "ok", nil)
	ch.AssertClosed()
}

// AssertReply waits for the reply to the push with ref and fails the test
// unless it has status ("ok", "error" or any other) and a response
// matching want (nil matches any). It returns the response. The first
// reply to ref is the one checked, as phoenix.js uses the first. Phoenix:
// assert_reply ref, status, payload.
func (ch *Channel) AssertReply(ref Ref, status string, want any) protocol.Payload {
	ch.c.t.Helper()
	w, ok := ch.want("AssertReply", want)
	if !ok {
		return protocol.Payload{}
	}
	var f *frame
	if !ch.c.wait(ch.c.timeout, true, func() bool {
		f = ch.take(isReplyTo(ref))
		return f != nil
	}) {
		ch.fail(ch.report(fmt.Sprintf("no reply to %s within %v", ch.describe(ref), ch.c.timeout), nil, ""))
		return protocol.Payload{}
	}
	d := w.diff(f.payload)
	if f.status != status {
		d = append([]string{fmt.Sprintf("status: got %q, want %q", f.status, status)}, d...)
	}
	if d != nil {
		ch.fail(fmt.Sprintf("channeltest: the reply to %s on %q does not match\n\tgot:  %s %s\n\twant: %s %s\n%s",
			ch.describe(ref), ch.topic, f.status, showPayload(f.payload), status, w, indent(d, 1)))
	}
	return f.payload
}

// RefuteReply fails the test if a reply to the push with ref comes within
// the refute timeout. Phoenix: refute_reply.
func (ch *Channel) RefuteReply(ref Ref) {
	ch.c.t.Helper()
	var f *frame
	if ch.c.wait(ch.c.refuteTimeout, true, func() bool {
		f = ch.find(isReplyTo(ref))
		return f != nil
	}) {
		ch.fail(fmt.Sprintf("channeltest: got a reply to %s on %q, want none within %v\n\t%s", ch.describe(ref), ch.topic, ch.c.refuteTimeout, f))
	}
}

// AssertPush waits for the client to receive event on the topic with a
// payload matching want (nil matches any), and fails the test if it does
// not within the timeout. Pushes (channel.Socket.Push) and broadcasts
// that reach the client (the fast lane, or pushed by HandleOut) both
// count, as in Phoenix. It returns the payload. Phoenix: assert_push
// event, payload.
func (ch *Channel) AssertPush(event string, want any) protocol.Payload {
	ch.c.t.Helper()
	w, ok := ch.want("AssertPush", want)
	if !ok {
		return protocol.Payload{}
	}
	return ch.assertPush(event, w.match, w, "")
}

// AssertPushFunc is AssertPush for the first payload of event that match
// accepts, for partial matches and guards: Phoenix's
// assert_push "tick", %{"n" => n} when n > 0. A nil match accepts any
// payload.
func (ch *Channel) AssertPushFunc(event string, match func(protocol.Payload) bool) protocol.Payload {
	ch.c.t.Helper()
	if match == nil {
		match = func(protocol.Payload) bool { return true }
	}
	return ch.assertPush(event, match, nil, " accepted by the match function")
}

func (ch *Channel) assertPush(event string, match func(protocol.Payload) bool, w *want, how string) protocol.Payload {
	ch.c.t.Helper()
	var f *frame
	if !ch.c.wait(ch.c.timeout, true, func() bool {
		f = ch.take(func(f *frame) bool { return f.event == event && f.event != eventReply && match(f.payload) })
		return f != nil
	}) {
		head := fmt.Sprintf("no push %q%s within %v", event, how, ch.c.timeout)
		if w != nil && !w.any {
			head += "\n\twant: " + w.String()
		}
		ch.fail(ch.report(head, w, event))
		return protocol.Payload{}
	}
	return f.payload
}

// RefutePush fails the test if the client receives event on the topic
// with a payload matching want (nil matches any) within the refute
// timeout. Phoenix: refute_push event, payload.
func (ch *Channel) RefutePush(event string, want any) {
	ch.c.t.Helper()
	w, ok := ch.want("RefutePush", want)
	if !ok {
		return
	}
	var f *frame
	if ch.c.wait(ch.c.refuteTimeout, true, func() bool {
		f = ch.find(func(f *frame) bool { return f.event == event && f.event != eventReply && w.match(f.payload) })
		return f != nil
	}) {
		ch.fail(fmt.Sprintf("channeltest: got push %q on %q, want none within %v\n\t%s", event, ch.topic, ch.c.refuteTimeout, f))
	}
}

// AssertBroadcast waits for a broadcast of event on the channel's topic
// with a payload matching want (nil matches any), and fails the test if
// none comes within the timeout. It sees every broadcast on the topic
// made since the join began, through the test's own subscription (see
// [Client.Join]), whether or not this client receives it:
// channel.Socket.BroadcastFrom's, intercepted events, presence_diff. It
// returns the payload. Phoenix: assert_broadcast event, payload.
func (ch *Channel) AssertBroadcast(event string, want any) protocol.Payload {
	ch.c.t.Helper()
	w, ok := ch.want("AssertBroadcast", want)
	if !ok {
		return protocol.Payload{}
	}
	return ch.assertBroadcast(event, w.match, w, "")
}

// AssertBroadcastFunc is AssertBroadcast for the first payload of event
// that match accepts. A nil match accepts any payload.
func (ch *Channel) AssertBroadcastFunc(event string, match func(protocol.Payload) bool) protocol.Payload {
	ch.c.t.Helper()
	if match == nil {
		match = func(protocol.Payload) bool { return true }
	}
	return ch.assertBroadcast(event, match, nil, " accepted by the match function")
}

func (ch *Channel) assertBroadcast(event string, match func(protocol.Payload) bool, w *want, how string) protocol.Payload {
	ch.c.t.Helper()
	if !ch.needPubSub("AssertBroadcast") {
		return protocol.Payload{}
	}
	var b *broadcast
	if !ch.c.wait(ch.c.timeout, false, func() bool {
		for i, x := range ch.broadcasts {
			if x.event == event && match(x.payload) {
				b = x
				ch.broadcasts = append(ch.broadcasts[:i:i], ch.broadcasts[i+1:]...)
				return true
			}
		}
		return false
	}) {
		head := fmt.Sprintf("no broadcast %q%s within %v", event, how, ch.c.timeout)
		if w != nil && !w.any {
			head += "\n\twant: " + w.String()
		}
		ch.fail(ch.reportBroadcasts(head, w, event))
		return protocol.Payload{}
	}
	return b.payload
}

// RefuteBroadcast fails the test if event is broadcast on the channel's
// topic with a payload matching want (nil matches any) within the refute
// timeout. Phoenix: refute_broadcast event, payload.
func (ch *Channel) RefuteBroadcast(event string, want any) {
	ch.c.t.Helper()
	w, ok := ch.want("RefuteBroadcast", want)
	if !ok || !ch.needPubSub("RefuteBroadcast") {
		return
	}
	var b *broadcast
	if ch.c.wait(ch.c.refuteTimeout, false, func() bool {
		for _, x := range ch.broadcasts {
			if x.event == event && w.match(x.payload) {
				b = x
				return true
			}
		}
		return false
	}) {
		ch.fail(fmt.Sprintf("channeltest: got broadcast %q on %q, want none within %v\n\t%s", event, ch.topic, ch.c.refuteTimeout, showPayload(b.payload)))
	}
}

// AssertClosed waits for the server to close the channel (phx_close): the
// channel stopped normally, a callback having returned channel.ErrStop,
// after a leave, or when a duplicate join replaced it. phoenix.js then
// closes the channel without rejoining.
func (ch *Channel) AssertClosed() {
	ch.c.t.Helper()
	ch.assertControl(eventClose, "closed (phx_close)")
}

// AssertErrored waits for the server to report the channel crashed
// (phx_error, {"reason": "channel_crash"}): a callback panicked or
// returned an error other than channel.ErrStop. phoenix.js then rejoins;
// join again with [Client.Join] to do the same.
func (ch *Channel) AssertErrored() {
	ch.c.t.Helper()
	ch.assertControl(eventError, "errored (phx_error)")
}

func (ch *Channel) assertControl(event, what string) {
	ch.c.t.Helper()
	if !ch.c.wait(ch.c.timeout, true, func() bool {
		return ch.take(func(f *frame) bool { return f.event == event }) != nil
	}) {
		ch.fail(ch.report(fmt.Sprintf("channel not %s within %v", what, ch.c.timeout), nil, ""))
	}
}

// want prepares the expected payload of method, failing the test when it
// cannot be encoded.
func (ch *Channel) want(method string, v any) (*want, bool) {
	ch.c.t.Helper()
	w, err := newWant(v)
	if err != nil {
		ch.fail(fmt.Sprintf("channeltest: %s on %q: %v", method, ch.topic, err))
		return nil, false
	}
	return w, true
}

func (ch *Channel) needPubSub(method string) bool {
	ch.c.t.Helper()
	if ch.c.ps == nil {
		ch.fail(fmt.Sprintf("channeltest: %s on %q needs the server's PubSub: connect to a *socket.Server, or set Options.PubSub", method, ch.topic))
		return false
	}
	return true
}

func (ch *Channel) fail(msg string) {
	ch.c.t.Helper()
	ch.c.t.Fatal(msg)
}

// deliver is the test's subscriber to the topic: it must not block.
func (ch *Channel) deliver(m *pubsub.Message) {
	ch.c.mu.Lock()
	ch.broadcasts = append(ch.broadcasts, &broadcast{event: m.Event, payload: m.Payload})
	ch.c.signal()
	ch.c.mu.Unlock()
}

func (ch *Channel) unsubscribe() {
	ch.sub.Unsubscribe()
}

// take removes and returns the first frame of the inbox that ok accepts,
// or nil.
//
// c.mu must be held.
func (ch *Channel) take(ok func(*frame) bool) *frame {
	for i, f := range ch.inbox {
		if ok(f) {
			ch.inbox = append(ch.inbox[:i:i], ch.inbox[i+1:]...)
			return f
		}
	}
	return nil
}

// find returns the first frame of the inbox that ok accepts, or nil.
//
// c.mu must be held.
func (ch *Channel) find(ok func(*frame) bool) *frame {
	for _, f := range ch.inbox {
		if ok(f) {
			return f
		}
	}
	return nil
}

func isReplyTo(ref Ref) func(*frame) bool {
	return func(f *frame) bool { return f.event == eventReply && f.ref == string(ref) }
}

// describe names the message that had ref: push "ping" (ref "3").
func (ch *Channel) describe(ref Ref) string {
	ch.c.mu.Lock()
	event, ok := ch.sent[ref]
	ch.c.mu.Unlock()
	switch {
	case !ok:
		return fmt.Sprintf("ref %q", ref)
	case event == eventJoin:
		return fmt.Sprintf("the join (ref %q)", ref)
	}
	return fmt.Sprintf("push %q (ref %q)", event, ref)
}

// report is a failure message: "channeltest: " head, then the frames
// received on the topic and not asserted yet; under each frame of event,
// how its payload differs from w. It also says if the connection has
// ended, and shows frames that did not decode.
func (ch *Channel) report(head string, w *want, event string) string {
	c := ch.c
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "channeltest: on %q: %s\n", ch.topic, head)
	if len(ch.inbox) == 0 {
		b.WriteString("\treceived on the topic and not asserted: nothing")
	} else {
		fmt.Fprintf(&b, "\treceived on the topic and not asserted (%d):", len(ch.inbox))
		for _, f := range ch.inbox {
			fmt.Fprintf(&b, "\n\t\t%s", f)
			if w != nil && f.event == event {
				if d := w.diff(f.payload); d != nil {
					b.WriteString("\n" + indent(d, 3))
				}
			}
		}
	}
	c.writeConnState(&b)
	return b.String()
}

// reportBroadcasts is report for the broadcasts mailbox.
func (ch *Channel) reportBroadcasts(head string, w *want, event string) string {
	c := ch.c
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "channeltest: on %q: %s\n", ch.topic, head)
	if len(ch.broadcasts) == 0 {
		b.WriteString("\tbroadcasts on the topic not asserted: none")
	} else {
		fmt.Fprintf(&b, "\tbroadcasts on the topic not asserted (%d):", len(ch.broadcasts))
		for _, x := range ch.broadcasts {
			fmt.Fprintf(&b, "\n\t\t%q %s", x.event, showPayload(x.payload))
			if w != nil && x.event == event {
				if d := w.diff(x.payload); d != nil {
					b.WriteString("\n" + indent(d, 3))
				}
			}
		}
	}
	return b.String()
}

// writeConnState adds how the connection ended, if it has, and the frames
// that did not decode.
//
// c.mu must be held.
func (c *Client) writeConnState(b *strings.Builder) {
	for _, s := range c.bad {
		fmt.Fprintf(b, "\n\tthe server sent a frame that does not decode: %s", s)
	}
	if c.readErr != nil {
		fmt.Fprintf(b, "\n\tthe connection has closed: %s", describeClose(c.readErr))
	}
}

// indent puts each line on its own line, after depth tabs.
func indent(lines []string, depth int) string {
	tabs := strings.Repeat("\t", depth)
	return tabs + strings.Join(lines, "\n"+tabs)
}
