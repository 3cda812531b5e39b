// phoenix.js Presence (the official client, unchanged) against the test
// app's PresenceChannel (presence:*, examples/testapp/README.md), once per transport:
// presence_state after each join, presence_diff for joins, updates and
// leaves, in the shapes Presence.syncState / syncDiff read.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { LongPoll, Presence } from "phoenix";
import WebSocket from "ws";
import { uniq } from "./lib/env.mjs";
import { newSocket, within } from "./lib/phoenixjs.mjs";


// dropMs bounds how long the server takes to notice a client that went
// away without a word: a WebSocket's TCP close is seen at once; a
// long-poll client sends nothing when it closes, so its session ends only
// once it has not polled for 1.5 windows, counted from its last poll's
// end (about 30 s with the test app's 10 s window).
const TRANSPORTS = [
  { name: "WebSocket", transport: WebSocket, dropMs: 5000, T: { timeout: 20_000 } },
  { name: "LongPoll", transport: LongPoll, dropMs: 45_000, T: { timeout: 90_000 } },
];



function join(channel, ms = 4000) {
  return within(ms, `join of ${channel.topic}`, (resolve) => {
    channel.join()
      .receive("ok", (response) => resolve({ status: "ok", response }))
      .receive("error", (response) => resolve({ status: "error", response }))
      .receive("timeout", () => resolve({ status: "timeout" }));
  });
}

function push(channel, event, payload) {
  return within(5000, `reply to ${event}`, (resolve) => {
    channel.push(event, payload, 3000)
      .receive("ok", (response) => resolve({ status: "ok", response }))
      .receive("error", (response) => resolve({ status: "error", response }))
      .receive("timeout", () => resolve({ status: "timeout" }));
  });
}

/**
 * A client: a socket, a channel on topic and a phoenix.js Presence on it,
 * recording every onJoin / onLeave and waiting on onSync.
 */
function client(t, tr, topic, { params = {}, joinPayload = {} } = {}) {
  const socket = newSocket(t, tr, { params });
  socket.connect();
  const channel = socket.channel(topic, joinPayload);
  const presence = new Presence(channel);
  const c = { socket, channel, presence, joins: [], leaves: [], syncs: 0, waiters: new Set() };
  presence.onJoin((key, current, joined) => c.joins.push({ key, current, metas: joined.metas }));
  presence.onLeave((key, current, left) => c.leaves.push({ key, current, metas: left.metas }));
  presence.onSync(() => {
    c.syncs += 1;
    for (const w of c.waiters) w();
  });
  return c;
}

/** The keys listed by c's Presence, sorted. */
function keys(c) {
  return c.presence.list((key) => key).sort();
}

/** The metas of key in c's Presence ([] when absent). */
function metas(c, key) {
  return c.presence.list((k, p) => (k === key ? p.metas : null)).find((m) => m) ?? [];
}

/** Waits (bounded) until pred(c) holds after some onSync. */
function synced(c, what, pred, ms = 5000) {
  return within(ms, `${what}; presence lists ${JSON.stringify(c.presence.list())}`, (resolve) => {
    const check = () => {
      if (c.syncs > 0 && pred(c)) {
        c.waiters.delete(check);
        resolve();
      }
    };
    c.waiters.add(check);
    check();
  });
}

for (const tr of TRANSPORTS) describe(`phoenix.js Presence over ${tr.name}`, () => {
  test("two clients see each other; update; leave; socket drop", tr.T, async (t) => {
    const topic = uniq("presence:js");
    const alice = client(t, tr, topic, { joinPayload: { name: "alice" } });
    assert.deepEqual(await join(alice.channel), { status: "ok", response: {} });
    await synced(alice, "alice listing herself", (c) => keys(c).join() === "alice");
    const [aliceMeta] = metas(alice, "alice");
    assert.equal(typeof aliceMeta.phx_ref, "string");
    assert.ok(aliceMeta.phx_ref.length > 0);
    assert.equal(typeof aliceMeta.online_at, "number");
    assert.ok(Math.abs(aliceMeta.online_at - Date.now()) < 60_000, `online_at ${aliceMeta.online_at} is unix ms`);

    const bob = client(t, tr, topic, { joinPayload: { name: "bob" } });
    assert.equal((await join(bob.channel)).status, "ok");
    await synced(bob, "bob listing both", (c) => keys(c).join() === "alice,bob");
    await synced(alice, "alice listing both", (c) => keys(c).join() === "alice,bob");
    assert.deepEqual(metas(bob, "alice"), [aliceMeta], "bob's presence_state carries alice's meta as it is");
    const [bobMeta] = metas(alice, "bob");
    assert.deepEqual(metas(bob, "bob"), [bobMeta]);
    assert.ok(alice.joins.some((j) => j.key === "bob" && j.current === undefined), "alice's onJoin fired for bob");

    // update: merged into bob's meta, online_at kept; one leave + one join.
    const leavesBefore = alice.leaves.length;
    assert.deepEqual(await push(bob.channel, "update", { status: "away", online_at: 1 }), { status: "ok", response: {} });
    await synced(alice, "bob away", (c) => metas(c, "bob")[0]?.status === "away");
    const [away] = metas(alice, "bob");
    assert.equal(metas(alice, "bob").length, 1, "the old meta is gone");
    assert.equal(away.online_at, bobMeta.online_at);
    assert.equal(away.phx_ref_prev, bobMeta.phx_ref);
    assert.notEqual(away.phx_ref, bobMeta.phx_ref);
    assert.deepEqual(alice.leaves.slice(leavesBefore).map((l) => [l.key, l.metas]), [["bob", [bobMeta]]]);
    await synced(bob, "bob sees his own update", (c) => metas(c, "bob")[0]?.status === "away");

    // bob leaves the channel: alice sees him go.
    await within(4000, "bob's leave", (resolve) => bob.channel.leave().receive("ok", resolve));
    await synced(alice, "bob gone after leave", (c) => keys(c).join() === "alice");
    assert.equal(alice.leaves.at(-1).key, "bob");
    assert.deepEqual(alice.leaves.at(-1).metas, [away]);

    // A third client joins, then its socket drops: alice sees it leave.
    const carol = client(t, tr, topic, { params: { user_id: "carol-id" } });
    assert.equal((await join(carol.channel)).status, "ok");
    await synced(alice, "carol (key from user_id) listed", (c) => keys(c).join() === "alice,carol-id");
    await synced(carol, "carol's own view", (c) => keys(c).join() === "alice,carol-id");
    carol.socket.disconnect();
    await synced(alice, "carol gone after her socket dropped", (c) => keys(c).join() === "alice", tr.dropMs);
  });

  test("two tabs of one user: one key, two metas, one leaves", tr.T, async (t) => {
    const topic = uniq("presence:js-tabs");
    const tab1 = client(t, tr, topic, { joinPayload: { name: "dan" } });
    const tab2 = client(t, tr, topic, { joinPayload: { name: "dan" } });
    const watcher = client(t, tr, topic); // no name, no user_id
    assert.equal((await join(tab1.channel)).status, "ok");
    assert.equal((await join(tab2.channel)).status, "ok");
    assert.equal((await join(watcher.channel)).status, "ok");
    await synced(watcher, "dan twice and anonymous", (c) => keys(c).join() === "anonymous,dan" && metas(c, "dan").length === 2);
    const refs = metas(watcher, "dan").map((m) => m.phx_ref);
    assert.notEqual(refs[0], refs[1]);
    await within(4000, "tab 1's leave", (resolve) => tab1.channel.leave().receive("ok", resolve));
    await synced(watcher, "one of dan's metas left", (c) => metas(c, "dan").length === 1);
    assert.deepEqual(keys(watcher), ["anonymous", "dan"]);
    assert.ok(refs.includes(metas(watcher, "dan")[0].phx_ref));
    await synced(tab2, "tab 2 sees tab 1 go", (c) => metas(c, "dan").length === 1);
  });

  test("a reconnect rejoins and gets a fresh presence_state; the old entry leaves", tr.T, async (t) => {
    const topic = uniq("presence:js-rejoin");
    const eve = client(t, tr, topic, { joinPayload: { name: "eve" } });
    const frank = client(t, tr, topic, { joinPayload: { name: "frank" } });
    assert.equal((await join(eve.channel)).status, "ok");
    assert.equal((await join(frank.channel)).status, "ok");
    await synced(eve, "eve sees frank", (c) => keys(c).join() === "eve,frank");
    await synced(frank, "frank sees eve", (c) => keys(c).join() === "eve,frank");
    const [old] = metas(eve, "eve");
    // The connection drops; phoenix.js reconnects and rejoins by itself,
    // and its Presence waits for the new join's presence_state.
    const syncsBefore = eve.syncs;
    eve.socket.conn.close();
    await synced(eve, "eve resynced after the rejoin",
      (c) => c.syncs > syncsBefore && metas(c, "eve").some((m) => m.phx_ref !== old.phx_ref) && keys(c).join() === "eve,frank", 8000);
    const fresh = metas(eve, "eve").find((m) => m.phx_ref !== old.phx_ref);
    await synced(frank, "frank sees eve's new entry only",
      (c) => metas(c, "eve").map((m) => m.phx_ref).join() === fresh.phx_ref, tr.dropMs);
    await synced(eve, "eve's own view has her new entry only",
      (c) => metas(c, "eve").map((m) => m.phx_ref).join() === fresh.phx_ref, tr.dropMs);
  });
});
