// One long-poll session whose requests land on a different node each time,
// as behind a load balancer without sticky sessions
// (internal/interop/cluster/run.sh): the session lives on the node that
// opened it, and the others carry each poll and publish to it through the
// broker (every node has the same -secret). Raw requests, so each one can
// go to the node the test picks.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { BROKER, NODES, broadcast, uniq } from "./nodes.mjs";

/**
 * One long-poll request to node i's /socket/longpoll (vsn 2.0.0): a GET
 * (poll, or a new session without token) or a POST of ndjson frames.
 * Asserts the HTTP basics and returns the JSON answer.
 */
async function lp(i, method, { token, frames } = {}) {
  const q = new URLSearchParams({ vsn: "2.0.0" });
  if (token) q.set("token", token);
  const init = { method, signal: AbortSignal.timeout(15_000) };
  if (frames) {
    init.body = frames.map((f) => JSON.stringify(f)).join("\n");
    init.headers = { "content-type": "application/x-ndjson" };
  }
  const res = await fetch(`${NODES[i]}/socket/longpoll?${q}`, init);
  const text = await res.text();
  assert.equal(res.status, 200, `${method} through node-${i + 1}: HTTP ${res.status} ${text}`);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  return JSON.parse(text);
}

/**
 * Polls through node i until a frame matching pred arrives (bounded), and
 * returns it; frames polled on the way are kept in seen.
 */
async function pollFor(i, token, seen, pred, what, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = seen.findIndex(pred);
    if (found >= 0) return seen.splice(found, 1)[0];
    if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms polling through node-${i + 1}; frames: ${JSON.stringify(seen)}`);
    const ans = await lp(i, "GET", { token });
    assert.ok(ans.status === 200 || ans.status === 204, `poll through node-${i + 1}: ${JSON.stringify(ans)}`);
    assert.equal(ans.token, token, "a poll keeps the session's token");
    for (const m of ans.messages) {
      assert.equal(typeof m, "string", `poll messages are frames as JSON strings: ${JSON.stringify(ans.messages)}`);
      seen.push(JSON.parse(m));
    }
  }
}

describe(`long-poll across three nodes on ${BROKER}`, () => {
  test("a session opened on node-1, joined through node-2, polled through node-3, pushed through node-1, polled through node-2", { timeout: 60_000 }, async () => {
    const topic = uniq("room:y");
    const open = await lp(0, "GET");
    assert.equal(open.status, 410, `a new session: ${JSON.stringify(open)}`);
    assert.deepEqual(open.messages, []);
    const { token } = open;
    assert.equal(typeof token, "string");
    const seen = [];

    assert.deepEqual(await lp(1, "POST", { token, frames: [["1", "1", topic, "phx_join", {}]] }), { status: 200 });
    const reply = await pollFor(2, token, seen, (f) => f[3] === "phx_reply" && f[1] === "1", "join reply");
    assert.deepEqual(reply, ["1", "1", topic, "phx_reply", { status: "ok", response: {} }]);
    const joined = await pollFor(2, token, seen, (f) => f[3] === "joined", "joined push");
    assert.deepEqual(joined, ["1", null, topic, "joined", { status: "connected", user_id: null }]);

    assert.deepEqual(await lp(0, "POST", { token, frames: [["1", "2", topic, "echo", { n: 1 }]] }), { status: 200 });
    const echo = await pollFor(1, token, seen, (f) => f[3] === "phx_reply" && f[1] === "2", "echo reply");
    assert.deepEqual(echo, ["1", "2", topic, "phx_reply", { status: "ok", response: { n: 1 } }]);

    const res = await broadcast(2, topic, "shout", { from: "node-3" });
    assert.equal(res.status, 200, res.body);
    const shout = await pollFor(2, token, seen, (f) => f[3] === "shout", "shout broadcast on node-3");
    assert.deepEqual(shout, [null, null, topic, "shout", { from: "node-3" }]);
  });
});
