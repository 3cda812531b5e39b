// phoenix.js Presence across three test apps linked through one broker
// (internal/interop/cluster/run.sh): one client per node on one
// presence:* topic (PresenceChannel, examples/testapp/README.md). Every
// client's list converges to the same people with the same metas, and a
// leave or a dropped socket on one node reaches the others.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Presence } from "phoenix";
import { BROKER, join, newSocket, uniq, within } from "./nodes.mjs";

const CONVERGE_MS = 10_000;

/** A phoenix.js Socket on node i, a channel on topic as name, and a Presence on it. */
function client(t, i, topic, name) {
  const socket = newSocket(t, i);
  const channel = socket.channel(topic, { name });
  const presence = new Presence(channel);
  const c = { name, node: `node-${i + 1}`, socket, channel, presence, leaves: [], syncs: 0, waiters: new Set() };
  presence.onLeave((key) => c.leaves.push(key));
  presence.onSync(() => {
    c.syncs += 1;
    for (const w of c.waiters) w();
  });
  return c;
}

/** The names c's Presence lists, sorted. */
const names = (c) => c.presence.list((key) => key).sort();

/** Waits (bounded) until c's Presence lists exactly want. */
function converged(c, want, ms = CONVERGE_MS) {
  const w = [...want].sort();
  return within(ms, () => `${c.name} on ${c.node} listing ${JSON.stringify(w)}; it lists ${JSON.stringify(c.presence.list((k, p) => ({ k, n: p.metas.length })))}`, (resolve) => {
    const check = () => {
      if (c.syncs > 0 && JSON.stringify(names(c)) === JSON.stringify(w)) {
        c.waiters.delete(check);
        resolve();
      }
    };
    c.waiters.add(check);
    check();
  });
}

describe(`phoenix.js Presence across three nodes on ${BROKER}`, () => {
  test("each node's client lists all three; a leave and a dropped socket reach the others", { timeout: 60_000 }, async (t) => {
    const topic = uniq("presence:cluster");
    const [ann, bob, cat] = [client(t, 0, topic, "ann"), client(t, 1, topic, "bob"), client(t, 2, topic, "cat")];
    const all = [ann, bob, cat];
    for (const c of all) assert.deepEqual(await join(c.channel), { status: "ok", response: {} });
    await Promise.all(all.map((c) => converged(c, ["ann", "bob", "cat"])));

    // One entry per person, and the same meta on every node (the phx_ref
    // made by the node that tracked it).
    const metasOf = (c) => Object.fromEntries(c.presence.list((k, p) => [k, p.metas]));
    const seen = metasOf(ann);
    for (const [k, metas] of Object.entries(seen)) {
      assert.equal(metas.length, 1, `${k} has one meta: ${JSON.stringify(metas)}`);
      assert.equal(typeof metas[0].phx_ref, "string");
      assert.equal(typeof metas[0].online_at, "number");
    }
    assert.deepEqual(metasOf(bob), seen, "node-2 lists the same metas as node-1");
    assert.deepEqual(metasOf(cat), seen, "node-3 lists the same metas as node-1");

    // bob leaves the channel on node-2.
    await within(5000, "bob's leave", (resolve) => bob.channel.leave().receive("ok", resolve));
    await Promise.all([converged(ann, ["ann", "cat"]), converged(cat, ["ann", "cat"])]);
    assert.ok(ann.leaves.includes("bob") && cat.leaves.includes("bob"), "onLeave fired for bob on node-1 and node-3");

    // cat's socket goes away on node-3: the channel ends, a leave.
    await within(5000, "cat's disconnect", (resolve) => cat.socket.disconnect(resolve));
    await converged(ann, ["ann"]);
    assert.ok(ann.leaves.includes("cat"), "onLeave fired for cat on node-1");
  });
});
