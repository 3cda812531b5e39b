// RoomChannel behaviour (examples/testapp/README.md) over raw Phoenix frames, each behaviour
// written once and run with both serializers (docs/protocol.md, "V1 JSON", "V2 JSON", "Reserved events", "Server semantics")
// over both transports: WebSocket (lib/client.mjs) and long-poll
// (lib/longpoll.mjs, docs/protocol.md, "Long-poll": frames POSTed as ndjson for V2 and as
// one application/json frame per POST for V1, server frames read by polling).
// V1: objects, no join_ref on the wire (expected null). V2: arrays, join_refs
// from "11" and refs from "1".
//
// Nothing here is WebSocket-only: close codes, frame limits and malformed
// frames are in socket.test.mjs / malformed.test.mjs, binary server frames
// in binary.test.mjs.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MODES, V1, V2 } from "./lib/frames.mjs";
import { LONGPOLL, TRANSPORTS, WEBSOCKET, clientPool } from "./lib/client.mjs";
import { uniq } from "./lib/env.mjs";
import { ERR, OK, UNMATCHED, eqFrame, joinRoom, replyTo } from "./lib/room.mjs";

const T = { timeout: 15_000 };
const BYE = { message: "bye!" };

for (const tr of TRANSPORTS) for (const mode of MODES) {
  describe(`channels [${tr.name} ${mode.name} vsn=${mode.vsn}]`, () => {
    test("heartbeat before any join", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const ref = c.heartbeat();
      eqFrame(await c.expectNext(), [null, ref, "phoenix", "phx_reply", OK()]);
      const ref2 = c.heartbeat();
      eqFrame(await c.expectNext(), [null, ref2, "phoenix", "phx_reply", OK()]);
    });

    test("heartbeat while channels are joined, and after a refused join on topic phoenix", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      await joinRoom(c, uniq("room:hb"));
      let ref = c.heartbeat();
      eqFrame(await c.expect((f) => f.topic === "phoenix"), [null, ref, "phoenix", "phx_reply", OK()]);
      // No route matches "phoenix": the join is refused, heartbeats still work.
      const j = c.join("phoenix", {});
      eqFrame(await c.expectNext(), [null, j.ref, "phoenix", "phx_reply", UNMATCHED]);
      ref = c.heartbeat();
      eqFrame(await c.expectNext(), [null, ref, "phoenix", "phx_reply", OK()]);
    });

    test("heartbeat event on a topic other than phoenix is an unmatched-topic message", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:hbx");
      const ref = c.nextRef();
      c.send({ join_ref: null, ref, topic, event: "heartbeat", payload: {} });
      eqFrame(await c.expectNext(), [null, ref, topic, "phx_reply", UNMATCHED]);
    });

    test("join: ok reply, then user_entered broadcast, then joined push", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:join");
      const { join_ref, ref } = c.join(topic, { user: "alice" });
      eqFrame(await c.expectNext(), [c.jr(join_ref), ref, topic, "phx_reply", OK()]);
      eqFrame(await c.expectNext(), [null, null, topic, "user_entered", { user: "alice" }]);
      eqFrame(await c.expectNext(), [c.jr(join_ref), null, topic, "joined", { status: "connected", user_id: null }]);
      await c.expectNone(200);
    });

    test("join without a user: user_entered carries user null", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:anon");
      const { join_ref, ref } = c.join(topic, {});
      eqFrame(await c.expectNext(), [c.jr(join_ref), ref, topic, "phx_reply", OK()]);
      eqFrame(await c.expectNext(), [null, null, topic, "user_entered", { user: null }]);
      eqFrame(await c.expectNext(), [c.jr(join_ref), null, topic, "joined", { status: "connected", user_id: null }]);
    });

    test("join of topic room: (empty suffix) matches room:*", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const { join_ref, ref } = c.join("room:", {});
      eqFrame(await c.expectNext(), [c.jr(join_ref), ref, "room:", "phx_reply", OK()]);
    });

    test("join rejected: error {reason: rejected}, no phx_close, channel not kept", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:rej");
      const { join_ref, ref } = c.join(topic, { reject: true });
      eqFrame(await c.expectNext(), [c.jr(join_ref), ref, topic, "phx_reply", ERR({ reason: "rejected" })]);
      await c.expectNone(300);
      const p = c.push(topic, "echo", { a: 1 });
      eqFrame(await c.expectNext(), [null, p.ref, topic, "phx_reply", UNMATCHED]);
      await joinRoom(c, topic, {});
    });

    test("join with reject as the string \"true\" is accepted (only boolean true refuses)", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:rejstr");
      const { join_ref, ref } = c.join(topic, { reject: "true" });
      eqFrame(await c.expectNext(), [c.jr(join_ref), ref, topic, "phx_reply", OK()]);
    });

    test("join of an unmatched topic: error with join_ref null", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      for (const topic of ["unmatched-topic", "room", "rooms:1"]) {
        const { ref } = c.join(topic, {});
        eqFrame(await c.expectNext(), [null, ref, topic, "phx_reply", UNMATCHED], topic);
      }
      await c.expectNone(200);
    });

    test("event to a topic that was never joined: unmatched topic error, join_ref null", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:nojoin");
      const ref = c.nextRef();
      c.send({ join_ref: mode.v1 ? null : "11", ref, topic, event: "new_msg", payload: { body: "hi" } });
      eqFrame(await c.expectNext(), [null, ref, topic, "phx_reply", UNMATCHED]);
      await c.expectNone(200);
    });

    test("leave: phx_reply ok, phx_close, you_left, in that order; then the topic is unmatched", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:leave");
      const { join_ref } = await joinRoom(c, topic);
      const { ref } = c.push(topic, "phx_leave", {});
      eqFrame(await c.expectNext(2000, topic), [c.jr(join_ref), ref, topic, "phx_reply", OK()]);
      eqFrame(await c.expectNext(2000, topic), [c.jr(join_ref), c.jr(join_ref), topic, "phx_close", {}]);
      eqFrame(await c.expectNext(2000, topic), [c.jr(join_ref), null, topic, "you_left", BYE]);
      const p = c.push(topic, "new_msg", { body: "after leave" });
      eqFrame(await c.expectNext(2000, topic), [null, p.ref, topic, "phx_reply", UNMATCHED]);
    });

    test("leave of a topic with no channel: ok reply echoing join_ref and ref, no phx_close", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:leave-none");
      const join_ref = c.nextJoinRef();
      const ref = c.nextRef();
      c.send({ join_ref, ref, topic, event: "phx_leave", payload: {} });
      eqFrame(await c.expectNext(), [c.jr(join_ref), ref, topic, "phx_reply", OK()]);
      await c.expectNone(300);
    });

    test(`new_msg is intercepted: every subscriber gets a push with its own join_ref and transport ${tr.name}; sender gets ok {}`, T, async (t) => {
      const open = clientPool(t, tr);
      const a = await open(mode);
      const b = await open(mode, { joinRefStart: 21, refStart: 51 });
      const topic = uniq("room:msg");
      const ja = await joinRoom(a, topic, { user: "a" });
      const jb = await joinRoom(b, topic, { user: "b" });
      await a.expect((f) => f.event === "user_entered" && f.payload.user === "b");
      const { ref } = a.push(topic, "new_msg", { body: "hello", n: 1 });
      const expected = { body: "hello", n: 1, transport: tr.name };
      eqFrame(await replyTo(a, topic, ref), [a.jr(ja.join_ref), ref, topic, "phx_reply", OK({})]);
      eqFrame(await a.expect((f) => f.event === "new_msg"), [a.jr(ja.join_ref), null, topic, "new_msg", expected]);
      eqFrame(await b.expect((f) => f.event === "new_msg"), [b.jr(jb.join_ref), null, topic, "new_msg", expected]);
      await a.expectNone(200);
      await b.expectNone(0);
    });

    test("shout: broadcast [null, null, ...] to every subscriber, no reply", T, async (t) => {
      const open = clientPool(t, tr);
      const a = await open(mode);
      const b = await open(mode, { joinRefStart: 21, refStart: 51 });
      const topic = uniq("room:shout");
      await joinRoom(a, topic);
      await joinRoom(b, topic);
      await a.expect((f) => f.event === "user_entered");
      a.push(topic, "shout", { body: "hey", list: [1, 2] });
      const expected = [null, null, topic, "shout", { body: "hey", list: [1, 2] }];
      eqFrame(await a.expectNext(), expected);
      eqFrame(await b.expectNext(), expected);
      await a.expectNone(300);
      await b.expectNone(0);
    });

    test("echo: ok reply with the payload", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:echo");
      const { join_ref } = await joinRoom(c, topic);
      const payload = { a: 1, b: [true, null, "x"], nested: { "ü": "ñ ✓" } };
      const { ref } = c.push(topic, "echo", payload);
      eqFrame(await c.expectNext(), [c.jr(join_ref), ref, topic, "phx_reply", OK(payload)]);
    });

    test("echo of non-object JSON payloads (string, array, number) comes back unchanged", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:echo-any");
      const { join_ref } = await joinRoom(c, topic);
      for (const payload of ["text", [1, "two"], 42]) {
        const { ref } = c.push(topic, "echo", payload);
        eqFrame(await c.expectNext(), [c.jr(join_ref), ref, topic, "phx_reply", OK(payload)], JSON.stringify(payload));
      }
    });

    test("error: error reply {reason: requested}", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:err");
      const { join_ref } = await joinRoom(c, topic);
      const { ref } = c.push(topic, "error", {});
      eqFrame(await c.expectNext(), [c.jr(join_ref), ref, topic, "phx_reply", ERR({ reason: "requested" })]);
    });

    test("async: ok reply with the payload, about 10 ms later", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:async");
      const { join_ref } = await joinRoom(c, topic);
      const sent = Date.now();
      const { ref } = c.push(topic, "async", { later: true });
      const f = await c.expectNext();
      eqFrame(f, [c.jr(join_ref), ref, topic, "phx_reply", OK({ later: true })]);
      assert.ok(f.at - sent >= 8, `async reply came after ${f.at - sent} ms, expected about 10 ms`);
    });

    test("boom: you_left then phx_error channel_crash (ref == join_ref); socket and other channels survive", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const t1 = uniq("room:boom");
      const t2 = uniq("room:boom-other");
      const j1 = await joinRoom(c, t1);
      const j2 = await joinRoom(c, t2);
      const { ref } = c.push(t1, "boom", {});
      eqFrame(await c.expectNext(2000, t1), [c.jr(j1.join_ref), null, t1, "you_left", BYE]);
      eqFrame(await c.expectNext(2000, t1), [c.jr(j1.join_ref), c.jr(j1.join_ref), t1, "phx_error", { reason: "channel_crash" }]);
      await c.expectNone(300, (f) => f.ref === ref, `reply to boom (ref ${ref})`);
      assert.ok(c.isOpen, "socket must stay open after a channel crash");
      const hb = c.heartbeat();
      eqFrame(await c.expectNext(), [null, hb, "phoenix", "phx_reply", OK()]);
      const e = c.push(t2, "echo", { still: "here" });
      eqFrame(await c.expectNext(), [c.jr(j2.join_ref), e.ref, t2, "phx_reply", OK({ still: "here" })]);
      const gone = c.push(t1, "echo", {});
      eqFrame(await c.expectNext(), [null, gone.ref, t1, "phx_reply", UNMATCHED]);
      await joinRoom(c, t1); // rejoin works
    });

    test("stop: phx_close then you_left, no reply; socket survives", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:stop");
      const { join_ref } = await joinRoom(c, topic);
      const { ref } = c.push(topic, "stop", {});
      eqFrame(await c.expectNext(2000, topic), [c.jr(join_ref), c.jr(join_ref), topic, "phx_close", {}]);
      eqFrame(await c.expectNext(2000, topic), [c.jr(join_ref), null, topic, "you_left", BYE]);
      await c.expectNone(300, (f) => f.ref === ref, `reply to stop (ref ${ref})`);
      const hb = c.heartbeat();
      eqFrame(await c.expectNext(), [null, hb, "phoenix", "phx_reply", OK()]);
      const gone = c.push(topic, "echo", {});
      eqFrame(await c.expectNext(), [null, gone.ref, topic, "phx_reply", UNMATCHED]);
    });

    test("unknown event: you_left then phx_error, no reply", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:unknown");
      const { join_ref } = await joinRoom(c, topic);
      const { ref } = c.push(topic, "no_such_event", { x: 1 });
      eqFrame(await c.expectNext(2000, topic), [c.jr(join_ref), null, topic, "you_left", BYE]);
      eqFrame(await c.expectNext(2000, topic), [c.jr(join_ref), c.jr(join_ref), topic, "phx_error", { reason: "channel_crash" }]);
      await c.expectNone(300, (f) => f.ref === ref, `reply to the unknown event (ref ${ref})`);
      assert.ok(c.isOpen);
    });

    test("event with a stale join_ref is dropped silently", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:stale");
      const { join_ref } = await joinRoom(c, topic);
      const stale = c.nextRef();
      // V1 clients may still carry a join_ref key; the V1 decoder reads it.
      c.send({ join_ref: "99", v1_join_ref: mode.v1 ? "99" : undefined, ref: stale, topic, event: "echo", payload: { stale: true } });
      await c.expectNone(300);
      const { ref } = c.push(topic, "echo", { fresh: true });
      eqFrame(await c.expectNext(), [c.jr(join_ref), ref, topic, "phx_reply", OK({ fresh: true })]);
    });

    test("phx_leave with a stale join_ref is ignored and the channel stays", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:stale-leave");
      const { join_ref } = await joinRoom(c, topic);
      const stale = c.nextRef();
      c.send({ join_ref: "99", v1_join_ref: mode.v1 ? "99" : undefined, ref: stale, topic, event: "phx_leave", payload: {} });
      await c.expectNone(300);
      const { ref } = c.push(topic, "echo", { alive: true });
      eqFrame(await c.expectNext(), [c.jr(join_ref), ref, topic, "phx_reply", OK({ alive: true })]);
    });

    test("event with a null join_ref is accepted; the reply carries the channel's join_ref", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:nulljr");
      const { join_ref } = await joinRoom(c, topic);
      const ref = c.nextRef();
      c.send({ join_ref: null, ref, topic, event: "echo", payload: { n: 1 } });
      eqFrame(await c.expectNext(), [c.jr(join_ref), ref, topic, "phx_reply", OK({ n: 1 })]);
    });

    test("phx_leave with a null join_ref is accepted", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:nulljr-leave");
      const { join_ref } = await joinRoom(c, topic);
      const ref = c.nextRef();
      c.send({ join_ref: null, ref, topic, event: "phx_leave", payload: {} });
      eqFrame(await c.expectNext(2000, topic), [c.jr(join_ref), ref, topic, "phx_reply", OK()]);
      eqFrame(await c.expectNext(2000, topic), [c.jr(join_ref), c.jr(join_ref), topic, "phx_close", {}]);
    });

    test("duplicate join: the new join's ok reply, then phx_close for the OLD join_ref", T, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const topic = uniq("room:dup");
      const old = await joinRoom(c, topic);
      const neu = c.join(topic, {});
      eqFrame(await c.expectNext(2000, topic), [c.jr(neu.join_ref), neu.ref, topic, "phx_reply", OK()]);
      eqFrame(
        await c.expect((f) => f.topic === topic && f.event === "phx_close", 2000, "phx_close for the old join"),
        [c.jr(old.join_ref), c.jr(old.join_ref), topic, "phx_close", {}],
      );
      await c.expect((f) => f.topic === topic && f.event === "joined" && f.join_ref === c.jr(neu.join_ref), 2000, "joined push of the new join");
      const { ref } = c.push(topic, "echo", { new: true });
      eqFrame(await replyTo(c, topic, ref), [c.jr(neu.join_ref), ref, topic, "phx_reply", OK({ new: true })]);
      if (!mode.v1) {
        const stale = c.nextRef();
        c.send({ join_ref: old.join_ref, ref: stale, topic, event: "echo", payload: {} });
        await c.expectNone(300, (f) => f.ref === stale, `reply to the old join_ref ${old.join_ref}`);
      }
    });

    test("100 joins succeed, the 101st gets 'too many channels joined' with its join_ref and ref", { timeout: 60_000 }, async (t) => {
      const c = await clientPool(t, tr)(mode);
      const base = uniq("room:many");
      const joins = [];
      for (let i = 1; i <= 100; i++) joins.push({ topic: `${base}-${i}`, ...c.join(`${base}-${i}`, {}) });
      for (const j of joins) {
        const f = await c.expect((x) => x.topic === j.topic && x.event === "phx_reply", 5000, `join reply on ${j.topic}`);
        eqFrame(f, [c.jr(j.join_ref), j.ref, j.topic, "phx_reply", OK()]);
      }
      const over = `${base}-101`;
      const j101 = c.join(over, {});
      if (!mode.v1) assert.equal(j101.join_ref, "111");
      assert.equal(j101.ref, "101");
      const f = await c.expect((x) => x.topic === over, 5000, `reply to join #101`);
      eqFrame(f, [c.jr(j101.join_ref), j101.ref, over, "phx_reply", ERR({ reason: "too many channels joined" })]);
      // Leaving one frees a slot.
      const leave = c.push(joins[0].topic, "phx_leave", {}, { join_ref: joins[0].join_ref });
      await c.expect((x) => x.topic === joins[0].topic && x.event === "phx_close", 3000, "phx_close after leave");
      assert.ok(leave.ref);
      const again = c.join(over, {});
      eqFrame(await c.expect((x) => x.topic === over, 3000, "join after a slot was freed"), [c.jr(again.join_ref), again.ref, over, "phx_reply", OK()]);
    });
  });
}

for (const tr of TRANSPORTS) {
  describe(`serializer-specific frame shapes [${tr.name}]`, () => {
    test("V1 frames are objects with exactly topic, event, payload, ref (never join_ref)", T, async (t) => {
      const c = await clientPool(t, tr)(V1);
      const topic = uniq("room:v1shape");
      const { ref } = c.join(topic, { user: "v1" });
      const frames = [await c.expectNext(), await c.expectNext(), await c.expectNext()];
      assert.deepEqual(frames.map((f) => f.event), ["phx_reply", "user_entered", "joined"]);
      for (const f of frames) assert.deepEqual(Object.keys(f.json).sort(), ["event", "payload", "ref", "topic"], f.raw);
      assert.equal(frames[0].json.ref, ref);
      assert.equal(frames[1].json.ref, null);
      assert.equal(frames[2].json.ref, null);
    });
  });
}

// Subscribers of one topic on different serializers and transports each get
// a broadcast in their own format, and intercepted new_msg carries each
// subscriber's own transport (examples/testapp/README.md RoomChannel).
describe("mixed serializers and transports on one topic", () => {
  const combos = [
    [[V1, WEBSOCKET], [V2, WEBSOCKET]],
    [[V1, LONGPOLL], [V2, LONGPOLL]],
    [[V2, WEBSOCKET], [V2, LONGPOLL]],
    [[V1, WEBSOCKET], [V1, LONGPOLL]],
    [[V1, LONGPOLL], [V2, WEBSOCKET]],
  ];
  for (const [[ma, ta], [mb, tb]] of combos) {
    test(`${ma.name} ${ta.name} and ${mb.name} ${tb.name}: shout and new_msg from each reach both, in each one's format, tagged with each one's transport`, T, async (t) => {
      const open = clientPool(t);
      const a = await open(ma, { transport: ta });
      const b = await open(mb, { transport: tb, joinRefStart: 21, refStart: 51 });
      const topic = uniq("room:mixed");
      const ja = await joinRoom(a, topic, { user: "a" });
      const jb = await joinRoom(b, topic, { user: "b" });
      await a.expect((f) => f.event === "user_entered" && f.payload.user === "b", 2000, "b's user_entered at a");
      const shape = (c, join_ref, event, payload) => (c.mode.v1
        ? { topic, event, payload, ref: null }
        : [join_ref, null, topic, event, payload]);
      for (const from of [b, a]) {
        from.push(topic, "shout", { mixed: from === a ? "a" : "b" });
        for (const c of [a, b]) {
          const f = await c.expect((x) => x.event === "shout", 2000, `shout at ${c === a ? "a" : "b"}`);
          assert.deepEqual(f.json, shape(c, null, "shout", { mixed: from === a ? "a" : "b" }), f.raw);
        }
        const { ref } = from.push(topic, "new_msg", { body: `from ${from.transport}` });
        eqFrame(await replyTo(from, topic, ref), [from.jr((from === a ? ja : jb).join_ref), ref, topic, "phx_reply", OK({})]);
        for (const [c, j] of [[a, ja], [b, jb]]) {
          const f = await c.expect((x) => x.event === "new_msg", 2000, `new_msg at ${c.transport}`);
          assert.deepEqual(f.json, shape(c, c.jr(j.join_ref), "new_msg", { body: `from ${from.transport}`, transport: c.transport }), f.raw);
        }
      }
      await a.expectNone(200);
      await b.expectNone(0);
    });
  }
});
