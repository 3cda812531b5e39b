// V2 binary frames (docs/protocol.md, "V2 binary frames", "Text or binary"): exact byte layouts of the
// client push (kind 0), server reply (kind 1) and server broadcast (kind 2).
//
// Long-poll (docs/protocol.md, "Publish", "Poll") carries binary pushes client → server
// as base64 lines of an ndjson POST, but no binary frames server → client:
// the server drops them. So the byte-layout cases of server frames are
// WebSocket-only, and the long-poll cases below observe a binary push
// through a WebSocket subscriber of the same topic, or through a JSON reply.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { V2, layoutServerBroadcast, layoutServerReply, show } from "./lib/frames.mjs";
import { LONGPOLL, TRANSPORTS, WEBSOCKET, clientPool } from "./lib/client.mjs";
import { uniq } from "./lib/env.mjs";
import { UNMATCHED, eqFrame, joinRoom } from "./lib/room.mjs";

const T = { timeout: 15_000 };

function eqBytes(f, want, note) {
  assert.ok(f.binary, `${note}: expected a binary frame, got text ${show(f)}`);
  assert.equal(f.raw.toString("hex"), Buffer.from(want).toString("hex"), `${note}: got ${show(f)}`);
}

describe(`binary frames [V2 vsn=${V2.vsn}]`, () => {
  test("echo with a binary payload gets a binary reply, byte for byte (§3.3 worked example)", T, async (t) => {
    const c = await clientPool(t)(V2);
    const topic = "room:binlayout";
    await joinRoom(c, topic); // join_ref "11", ref "1"
    // Client push: 00 02 01 0e 04 "11" "2" "room:binlayout" "echo" 65 66 67
    const push = Buffer.concat([Buffer.from([0, 2, 1, 14, 4]), Buffer.from("112room:binlayoutecho"), Buffer.from([101, 102, 103])]);
    c.sendRaw(push, { binary: true });
    const f = await c.expectNext();
    // Server reply: 01 02 01 0e 02 "11" "2" "room:binlayout" "ok" 65 66 67
    eqBytes(f, Buffer.concat([Buffer.from([1, 2, 1, 14, 2]), Buffer.from("112room:binlayoutok"), Buffer.from([101, 102, 103])]), "reply");
    assert.equal(f.kind, 1);
    assert.equal(f.join_ref, "11");
    assert.equal(f.ref, "2");
    assert.equal(f.payload.status, "ok");
  });

  test("binary echo: arbitrary bytes, empty payload and 64 KiB payload", T, async (t) => {
    const c = await clientPool(t)(V2);
    const topic = uniq("room:bin");
    const { join_ref } = await joinRoom(c, topic);
    const big = Buffer.alloc(64 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    for (const payload of [Buffer.from([0, 1, 2, 0xff, 0x80, 0x0a, 0x7b]), Buffer.alloc(0), big]) {
      const ref = c.nextRef();
      c.sendBinary({ join_ref, ref, topic, event: "echo", payload });
      const f = await c.expectNext();
      eqBytes(f, layoutServerReply({ join_ref, ref, topic, status: "ok", payload }), `echo of ${payload.length} bytes`);
    }
  });

  test("binary field lengths count UTF-8 bytes (non-ASCII topic)", T, async (t) => {
    const c = await clientPool(t)(V2);
    const topic = uniq("room:bïnär-✓");
    const { join_ref } = await joinRoom(c, topic);
    const ref = c.nextRef();
    const payload = Buffer.from("ünïcödé ✓", "utf8");
    c.sendBinary({ join_ref, ref, topic, event: "echo", payload });
    const f = await c.expectNext();
    eqBytes(f, layoutServerReply({ join_ref, ref, topic, status: "ok", payload }), "reply");
    assert.equal(f.topic, topic);
  });

  test("binary shout is broadcast as kind 2 to every subscriber, no reply", T, async (t) => {
    const open = clientPool(t);
    const a = await open(V2);
    const b = await open(V2, { joinRefStart: 21, refStart: 51 });
    const topic = uniq("room:binshout");
    await joinRoom(a, topic);
    await joinRoom(b, topic);
    await a.expect((f) => f.event === "user_entered");
    const payload = Buffer.from([9, 8, 7, 0, 255]);
    a.sendBinary({ ref: a.nextRef(), topic, event: "shout", payload });
    const want = layoutServerBroadcast({ topic, event: "shout", payload });
    eqBytes(await a.expectNext(), want, "sender's copy");
    eqBytes(await b.expectNext(), want, "other subscriber's copy");
    await a.expectNone(300);
  });

  test("binary async gets a binary reply about 10 ms later", T, async (t) => {
    const c = await clientPool(t)(V2);
    const topic = uniq("room:binasync");
    const { join_ref } = await joinRoom(c, topic);
    const ref = c.nextRef();
    const payload = Buffer.from([1, 2, 3, 4]);
    c.sendBinary({ join_ref, ref, topic, event: "async", payload });
    eqBytes(await c.expectNext(), layoutServerReply({ join_ref, ref, topic, status: "ok", payload }), "async reply");
  });

  test("binary push with a stale join_ref is dropped; with the current one it is answered", T, async (t) => {
    // (An empty join_ref field decodes to "" in Phoenix, not null, so it is
    // not the V2 JSON "null join_ref" case; no assertion is made on it.)
    const c = await clientPool(t)(V2);
    const topic = uniq("room:binjr");
    const { join_ref } = await joinRoom(c, topic);
    const stale = c.nextRef();
    c.sendBinary({ join_ref: "99", ref: stale, topic, event: "echo", payload: Buffer.from([1]) });
    await c.expectNone(300);
    const ref = c.nextRef();
    c.sendBinary({ join_ref, ref, topic, event: "echo", payload: Buffer.from([2]) });
    eqBytes(await c.expectNext(), layoutServerReply({ join_ref, ref, topic, status: "ok", payload: Buffer.from([2]) }), "reply");
  });

});

for (const tr of TRANSPORTS) {
  test(`[${tr.name}] binary push to a topic that was never joined: JSON unmatched topic reply`, T, async (t) => {
    const c = await clientPool(t, tr)(V2);
    const topic = uniq("room:binnojoin");
    const ref = c.nextRef();
    c.sendBinary({ join_ref: "11", ref, topic, event: "echo", payload: Buffer.from([1, 2]) });
    const f = await c.expectNext();
    assert.ok(!f.binary, `expected a text frame, got ${show(f)}`);
    eqFrame(f, [null, ref, topic, "phx_reply", UNMATCHED]);
  });
}

describe(`binary pushes over long-poll (base64 ndjson lines) [V2 vsn=${V2.vsn}]`, () => {
  /** A long-poll client and a WebSocket watcher joined to one topic. */
  async function pair(t, prefix) {
    const open = clientPool(t);
    const lp = await open(V2, { transport: LONGPOLL });
    const ws = await open(V2, { transport: WEBSOCKET, joinRefStart: 21, refStart: 51 });
    const topic = uniq(prefix);
    const jl = await joinRoom(lp, topic, { user: "lp" });
    await joinRoom(ws, topic, { user: "ws" });
    await lp.expect((f) => f.event === "user_entered" && f.payload.user === "ws", 2000, "the watcher's user_entered");
    return { lp, ws, topic, jl };
  }

  test("binary shout from long-poll reaches a WebSocket subscriber as kind 2, byte for byte; the long-poll subscriber gets nothing", T, async (t) => {
    const { lp, ws, topic } = await pair(t, "room:lpbïn-✓");
    const big = Buffer.alloc(64 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 13 + 5) & 0xff;
    for (const payload of [Buffer.from([9, 8, 7, 0, 255, 0x0a, 0x0d]), Buffer.alloc(0), big]) {
      lp.sendBinary({ ref: lp.nextRef(), topic, event: "shout", payload });
      await lp.flushed();
      const post = lp.posts.at(-1);
      assert.equal(post.contentType, "application/x-ndjson");
      assert.equal(post.lines.length, 1);
      assert.ok(!post.lines[0].startsWith("["), `a binary push must be a base64 line, got ${post.lines[0].slice(0, 40)}`);
      eqBytes(await ws.expectNext(), layoutServerBroadcast({ topic, event: "shout", payload }), `watcher's copy of ${payload.length} bytes`);
    }
    await lp.expectNone(300, () => true, "frame (binary broadcasts are not sent over long-poll)");
    const hb = lp.heartbeat();
    eqFrame(await lp.expectNext(), [null, hb, "phoenix", "phx_reply", { status: "ok", response: {} }]);
  });

  test("binary echo over long-poll: the binary reply is dropped, the session and channel go on", T, async (t) => {
    const { lp, topic, jl } = await pair(t, "room:lpbinecho");
    const ref = lp.nextRef();
    lp.sendBinary({ join_ref: jl.join_ref, ref, topic, event: "echo", payload: Buffer.from([1, 2, 3]) });
    await lp.expectNone(400, (f) => f.ref === ref, `reply to the binary echo (ref ${ref}); long-poll carries no binary frames`);
    assert.ok(lp.isOpen);
    const e = lp.push(topic, "echo", { json: true });
    eqFrame(await lp.expectNext(2000, topic), [jl.join_ref, e.ref, topic, "phx_reply", { status: "ok", response: { json: true } }]);
  });

  test("ndjson batch mixing JSON and base64 lines is handled in order; a stale join_ref binary line is dropped", T, async (t) => {
    const { lp, ws, topic, jl } = await pair(t, "room:lpbinmix");
    const e1 = lp.push(topic, "echo", { n: 1 });
    lp.sendBinary({ join_ref: "99", ref: lp.nextRef(), topic, event: "shout", payload: Buffer.from([0xde, 0xad]) });
    lp.sendBinary({ ref: lp.nextRef(), topic, event: "shout", payload: Buffer.from([0xbe, 0xef]) });
    const e2 = lp.push(topic, "echo", { n: 2 });
    await lp.flushed();
    assert.equal(lp.posts.at(-1).lines.length, 4, "the four frames went in one ndjson POST");
    eqFrame(await lp.expectNext(2000, topic), [jl.join_ref, e1.ref, topic, "phx_reply", { status: "ok", response: { n: 1 } }]);
    eqFrame(await lp.expectNext(2000, topic), [jl.join_ref, e2.ref, topic, "phx_reply", { status: "ok", response: { n: 2 } }]);
    eqBytes(await ws.expectNext(), layoutServerBroadcast({ topic, event: "shout", payload: Buffer.from([0xbe, 0xef]) }), "the current join_ref's shout");
    await ws.expectNone(300, () => true, "frame (the stale join_ref's shout must be dropped)");
  });
});
