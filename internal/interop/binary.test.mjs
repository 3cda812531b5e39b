// V2 binary frames (PROTOCOL.md §3.3, §3.4): exact byte layouts of the
// client push (kind 0), server reply (kind 1) and server broadcast (kind 2).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { V2, layoutServerBroadcast, layoutServerReply, show } from "./lib/frames.mjs";
import { clientPool } from "./lib/client.mjs";
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

  test("binary push to a topic that was never joined: JSON unmatched topic reply", T, async (t) => {
    const c = await clientPool(t)(V2);
    const topic = uniq("room:binnojoin");
    const ref = c.nextRef();
    c.sendBinary({ join_ref: "11", ref, topic, event: "echo", payload: Buffer.from([1, 2]) });
    const f = await c.expectNext();
    assert.ok(!f.binary, `expected a text frame, got ${show(f)}`);
    eqFrame(f, [null, ref, topic, "phx_reply", UNMATCHED]);
  });
});
