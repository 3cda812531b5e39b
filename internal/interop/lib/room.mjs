// Helpers for RoomChannel (examples/testapp/README.md) exchanges on a RawClient.

import assert from "node:assert/strict";
import { show, tuple } from "./frames.mjs";

export const OK = (response = {}) => ({ status: "ok", response });
export const ERR = (response) => ({ status: "error", response });
export const UNMATCHED = ERR({ reason: "unmatched topic" });

/**
 * Asserts that frame f is [join_ref, ref, topic, event, payload] == want,
 * quoting the frame as it came off the wire when it is not.
 */
export function eqFrame(f, want, note) {
  assert.deepStrictEqual(tuple(f), want, `${note ? note + ": " : ""}got ${show(f)}\n  want ${JSON.stringify(want)}`);
}

/**
 * Joins topic and consumes the join's own frames: the ok reply (must be the
 * next frame on the topic), then the user_entered broadcast and the joined
 * push (order checked by the dedicated test, not here).
 */
export async function joinRoom(c, topic, payload = {}) {
  const { join_ref, ref } = c.join(topic, payload);
  const reply = await c.expectNext(3000, topic);
  eqFrame(reply, [c.jr(join_ref), ref, topic, "phx_reply", OK()], `join reply for ${topic}`);
  const user = payload.user ?? null;
  await c.expect((f) => f.topic === topic && f.event === "user_entered" && f.payload?.user === user, 2000, `user_entered on ${topic}`);
  await c.expect((f) => f.topic === topic && f.event === "joined" && f.join_ref === c.jr(join_ref), 2000, `joined push on ${topic}`);
  return { join_ref, ref };
}

/** Waits for the phx_reply with this ref (on topic) and returns its tuple. */
export async function replyTo(c, topic, ref, timeoutMs = 2000) {
  const f = await c.expect((x) => x.topic === topic && x.event === "phx_reply" && x.ref === ref, timeoutMs, `phx_reply ref ${ref} on ${topic}`);
  return f;
}
