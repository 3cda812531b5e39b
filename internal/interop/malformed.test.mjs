// Malformed input (docs/protocol.md, "V1 JSON", "Close codes"): a frame the serializer
// cannot decode ends that connection with close code 1011 (what Phoenix on
// Cowboy sends); other connections are unaffected.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MODES, V2 } from "./lib/frames.mjs";
import { clientPool } from "./lib/client.mjs";
import { uniq } from "./lib/env.mjs";
import { OK, eqFrame, joinRoom } from "./lib/room.mjs";

const T = { timeout: 15_000 };

/** Sends data on a fresh socket, expects close 1011, then checks a bystander still works. */
async function expectCrashClose(t, mode, data, { binary = false } = {}) {
  const open = clientPool(t);
  const bystander = await open(mode, { joinRefStart: 21, refStart: 51 });
  const topic = uniq("room:bystander");
  const { join_ref } = await joinRoom(bystander, topic);
  const bad = await open(mode);
  const badTopic = uniq("room:bad");
  await joinRoom(bad, badTopic);
  bad.sendRaw(data, { binary });
  const info = await bad.waitClose(3000);
  assert.equal(info.code, 1011, `close code ${info.code} ${JSON.stringify(info.reason)}, want 1011`);
  const hb = bystander.heartbeat();
  eqFrame(await bystander.expectNext(), [null, hb, "phoenix", "phx_reply", OK()], "bystander heartbeat");
  const { ref } = bystander.push(topic, "echo", { ok: 1 });
  eqFrame(await bystander.expectNext(), [bystander.jr(join_ref), ref, topic, "phx_reply", OK({ ok: 1 })], "bystander echo");
}

for (const mode of MODES) {
  describe(`malformed input [${mode.name} vsn=${mode.vsn}]`, () => {
    // Phoenix does not check the topic's type: a topic that is not a
    // string matches no channel and the reply echoes it as it was sent.
    test("a topic that is not a string gets 'unmatched topic' with the topic as sent; the socket goes on", T, async (t) => {
      const open = clientPool(t);
      const c = await open(mode);
      const raw = mode.v1
        ? JSON.stringify({ topic: 123, event: "phx_join", payload: {}, ref: "7" })
        : JSON.stringify(["5", "7", 123, "phx_join", {}]);
      c.sendRaw(raw);
      eqFrame(await c.expectNext(), [null, "7", 123, "phx_reply", { status: "error", response: { reason: "unmatched topic" } }], "unmatched topic reply");
      const hb = c.heartbeat();
      eqFrame(await c.expectNext(), [null, hb, "phoenix", "phx_reply", OK()], "heartbeat after");
    });

    test("a text frame that is not JSON closes the socket with 1011", T, async (t) => {
      await expectCrashClose(t, mode, "this is {not json");
    });

    if (mode.v1) {
      test("V1: a JSON array (V2 frame) closes the socket with 1011", T, async (t) => {
        await expectCrashClose(t, mode, JSON.stringify([null, "1", "phoenix", "heartbeat", {}]));
      });
      test("V1: an object missing the ref key closes the socket with 1011", T, async (t) => {
        await expectCrashClose(t, mode, JSON.stringify({ topic: "phoenix", event: "heartbeat", payload: {} }));
      });
    } else {
      test("V2: a JSON object (V1 frame) closes the socket with 1011", T, async (t) => {
        await expectCrashClose(t, mode, JSON.stringify({ topic: "phoenix", event: "heartbeat", payload: {}, ref: "1" }));
      });
      test("V2: an array with fewer than 5 elements closes the socket with 1011", T, async (t) => {
        await expectCrashClose(t, mode, JSON.stringify([null, "1", "phoenix", "heartbeat"]));
      });
    }
  });
}

describe(`malformed binary frames [V2 vsn=${V2.vsn}]`, () => {
  test("a binary frame with unknown kind 7 closes the socket with 1011", T, async (t) => {
    await expectCrashClose(t, V2, Buffer.from([7, 0, 1, 7, 9, 0x31, ...Buffer.from("phoenix"), ...Buffer.from("heartbeat")]), { binary: true });
  });

  test("a binary frame of a server-only kind (1, reply) closes the socket with 1011", T, async (t) => {
    const topic = "room:x";
    await expectCrashClose(t, V2, Buffer.concat([Buffer.from([1, 0, 1, topic.length, 2]), Buffer.from("1"), Buffer.from(topic), Buffer.from("ok")]), { binary: true });
  });

  test("a binary push shorter than its declared lengths closes the socket with 1011", T, async (t) => {
    await expectCrashClose(t, V2, Buffer.from([0, 2, 1, 40, 4, 0x31, 0x31, 0x31, 0x72]), { binary: true });
  });
});
