// Channels across three test apps linked through one broker
// (internal/interop/cluster/run.sh sets PYRE_CLUSTER_URLS and PYRE_BROKER):
// official phoenix.js clients on different nodes see each other's
// broadcasts, broadcast_from spares only its sender, intercepted events
// are tagged per subscriber wherever it is, and a socket-id disconnect
// sent to one node closes the socket on another.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { LongPoll } from "phoenix";
import { BROKER, broadcast, eventually, join, newSocket, push, record, uniq } from "./nodes.mjs";

const T = { timeout: 30_000 };
const OK = { status: "ok", response: {} };

describe(`channels across three nodes on ${BROKER}`, () => {
  test("shout from node-1 reaches node-2 and back; POST /broadcast on node-3 reaches both", T, async (t) => {
    const topic = uniq("room:x");
    const c1 = newSocket(t, 0).channel(topic, { user: "one" });
    const c2 = newSocket(t, 1).channel(topic, { user: "two" });
    const [r1, r2] = [record(c1, "shout"), record(c2, "shout")];
    assert.deepEqual(await join(c1), OK);
    assert.deepEqual(await join(c2), OK);

    c1.push("shout", { from: "node-1" });
    assert.deepEqual(await r2.next((p) => p.from === "node-1"), { from: "node-1" });
    await r1.next((p) => p.from === "node-1", 5000, "the sender's own shout (a broadcast)");
    c2.push("shout", { from: "node-2" });
    assert.deepEqual(await r1.next((p) => p.from === "node-2"), { from: "node-2" });
    await r2.next((p) => p.from === "node-2", 5000, "the sender's own shout (a broadcast)");
    // Each once, in order, on both nodes.
    assert.deepEqual(r1.got, [{ from: "node-1" }, { from: "node-2" }]);
    assert.deepEqual(r2.got, [{ from: "node-1" }, { from: "node-2" }]);

    const [n1, n2] = [record(c1, "news"), record(c2, "news")];
    const res = await broadcast(2, topic, "news", { from: "node-3" });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(await Promise.all([n1.next(() => true), n2.next(() => true)]), [{ from: "node-3" }, { from: "node-3" }]);
  });

  test("shout_from (broadcast_from) on node-1: not the sender; its neighbour on node-1 and the clients on node-2 and node-3", T, async (t) => {
    const topic = uniq("room:from");
    const sender = newSocket(t, 0).channel(topic, { user: "sender" });
    const others = [
      ["node-1", newSocket(t, 0).channel(topic, { user: "neighbour" })],
      ["node-2", newSocket(t, 1).channel(topic, { user: "two" })],
      ["node-3", newSocket(t, 2).channel(topic, { user: "three" })],
    ];
    const rs = record(sender, "shout");
    const ro = others.map(([node, c]) => [node, record(c, "shout")]);
    for (const c of [sender, ...others.map(([, c]) => c)]) assert.deepEqual(await join(c), OK);

    sender.push("shout_from", { n: 1 }); // no reply
    for (const [node, r] of ro) assert.deepEqual(await r.next((p) => p.n === 1, 5000, `shout_from at ${node}`), { n: 1 });
    // A plain shout sent after it reaches the sender, with nothing before:
    // the shout_from was not delivered to it.
    sender.push("shout", { n: 2 });
    await rs.next((p) => p.n === 2, 5000, "the sender's later shout");
    assert.deepEqual(rs.got, [{ n: 2 }], "the sender must not get its own shout_from");
    for (const [node, r] of ro) {
      await r.next((p) => p.n === 2, 5000, `the later shout at ${node}`);
      assert.deepEqual(r.got, [{ n: 1 }, { n: 2 }], `${node}: each shout once, in order`);
    }
  });

  test("new_msg on node-1 is intercepted per subscriber: websocket on node-2, longpoll on node-3", T, async (t) => {
    const topic = uniq("room:intercept");
    const c1 = newSocket(t, 0).channel(topic, {});
    const c2 = newSocket(t, 1).channel(topic, {});
    const lp = newSocket(t, 2, { transport: LongPoll });
    const c3 = lp.channel(topic, {});
    const rs = [c1, c2, c3].map((c) => record(c, "new_msg"));
    for (const c of [c1, c2, c3]) assert.deepEqual(await join(c), OK);
    assert.ok(lp.conn instanceof LongPoll, `node-3's client is connected with ${lp.conn?.constructor?.name}, want LongPoll`);

    assert.deepEqual(await push(c1, "new_msg", { body: "hi" }), OK);
    const got = await Promise.all(rs.map((r) => r.next(() => true)));
    assert.deepEqual(got, [
      { body: "hi", transport: "websocket" },
      { body: "hi", transport: "websocket" },
      { body: "hi", transport: "longpoll" },
    ]);
  });

  test("disconnect of user_sockets:<id> posted on node-2 closes the socket on node-1 with 1001; phoenix.js reconnects", T, async (t) => {
    const uid = uniq("u");
    const s = newSocket(t, 0, { params: { user_id: uid } });
    const bystander = newSocket(t, 1, { params: { user_id: uniq("u") } });
    const c = s.channel(uniq("room:dc"), {});
    assert.deepEqual(await join(c), OK);
    assert.deepEqual(await join(bystander.channel(c.topic, {})), OK);
    // Connected means reachable: node-1 completed the handshake once the
    // broker had confirmed its subscription to the socket id.
    assert.equal(s.opens, 1);
    assert.deepEqual(s.closes, []);

    const res = await broadcast(1, `user_sockets:${uid}`, "disconnect", {});
    assert.equal(res.status, 200, res.body);
    await eventually(() => s.closes.length > 0, 5000, "the socket on node-1 to close");
    assert.deepEqual(s.closes, [1001]);
    await eventually(() => s.opens === 2 && c.state === "joined", 5000, () => `phoenix.js to reconnect and rejoin (opens ${s.opens}, channel ${c.state})`);
    assert.deepEqual(bystander.closes, [], "another user's socket stays up");
  });
});
