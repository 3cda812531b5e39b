// The official phoenix.js client (npm phoenix, see package.json) against the
// server, unchanged. Node 20 has no global WebSocket, so the `ws` package is
// passed as the transport; without it phoenix.js would silently use long-poll.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "phoenix";
import WebSocket from "ws";
import { BASE, broadcast, sleep, uniq } from "./lib/env.mjs";

const T = { timeout: 20_000 };
const WS_BASE = BASE.replace(/^http/, "ws");

/** A phoenix.js Socket with short backoffs, disconnected after the test. */
function newSocket(t, opts = {}) {
  const socket = new Socket(`${WS_BASE}/socket`, {
    transport: WebSocket,
    timeout: 3000,
    reconnectAfterMs: () => 50,
    rejoinAfterMs: () => 50,
    ...opts,
  });
  assert.equal(socket.transport, WebSocket, "phoenix.js must use the ws transport");
  t.after(() => new Promise((resolve) => {
    const timer = setTimeout(resolve, 3000);
    socket.disconnect(() => { clearTimeout(timer); resolve(); });
  }));
  return socket;
}

/** Runs executor(resolve, reject) and rejects after ms. */
function within(ms, what, executor) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    executor((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

/** Resolves with the payload of the next `event` on channel. */
function nextEvent(channel, event, ms = 3000, pred = () => true) {
  return within(ms, `${event} on ${channel.topic}`, (resolve) => {
    const ref = channel.on(event, (payload) => {
      if (!pred(payload)) return;
      channel.off(event, ref);
      resolve(payload);
    });
  });
}

/** Joins and resolves with {status, response} of the join reply. */
function join(channel, ms = 4000) {
  return within(ms, `join of ${channel.topic}`, (resolve) => {
    channel.join()
      .receive("ok", (response) => resolve({ status: "ok", response }))
      .receive("error", (response) => resolve({ status: "error", response }))
      .receive("timeout", () => resolve({ status: "timeout" }));
  });
}

/** Pushes and resolves with {status, response} or {status: "timeout"}. */
function push(channel, event, payload, timeout = 3000) {
  return within(timeout + 2000, `reply to ${event}`, (resolve) => {
    channel.push(event, payload, timeout)
      .receive("ok", (response) => resolve({ status: "ok", response }))
      .receive("error", (response) => resolve({ status: "error", response }))
      .receive("timeout", () => resolve({ status: "timeout" }));
  });
}

function connected(socket, ms = 3000) {
  return within(ms, "socket open", (resolve) => {
    if (socket.isConnected()) return resolve();
    socket.onOpen(() => resolve());
  });
}

describe("phoenix.js client over WebSocket", () => {
  test("connects (vsn 2.0.0) and joins; joined push and user_entered broadcast reach channel.on", T, async (t) => {
    const socket = newSocket(t);
    assert.match(socket.endPointURL(), /\/socket\/websocket\?vsn=2\.0\.0$/);
    socket.connect();
    await connected(socket);
    const topic = uniq("room:js");
    const channel = socket.channel(topic, { user: "js" });
    const joined = nextEvent(channel, "joined");
    const entered = nextEvent(channel, "user_entered");
    assert.deepEqual(await join(channel), { status: "ok", response: {} });
    assert.equal(channel.state, "joined");
    assert.deepEqual(await joined, { status: "connected", user_id: null });
    assert.deepEqual(await entered, { user: "js" });
  });

  test("join refused: receive('error') with {reason: rejected}", T, async (t) => {
    const socket = newSocket(t);
    socket.connect();
    const channel = socket.channel(uniq("room:js-rej"), { reject: true });
    assert.deepEqual(await join(channel), { status: "error", response: { reason: "rejected" } });
    channel.leave();
  });

  test("join of an unmatched topic: receive('error') with {reason: unmatched topic}", T, async (t) => {
    const socket = newSocket(t);
    socket.connect();
    const channel = socket.channel(uniq("nowhere"), {});
    assert.deepEqual(await join(channel), { status: "error", response: { reason: "unmatched topic" } });
    channel.leave();
  });

  test("push: receive ok (echo, async), error (error), timeout (shout never replies)", T, async (t) => {
    const socket = newSocket(t);
    socket.connect();
    const channel = socket.channel(uniq("room:js-push"), {});
    assert.equal((await join(channel)).status, "ok");
    assert.deepEqual(await push(channel, "echo", { hello: "world", n: [1, 2] }), { status: "ok", response: { hello: "world", n: [1, 2] } });
    assert.deepEqual(await push(channel, "error", {}), { status: "error", response: { reason: "requested" } });
    assert.deepEqual(await push(channel, "async", { later: 1 }), { status: "ok", response: { later: 1 } });
    const shout = nextEvent(channel, "shout");
    assert.deepEqual(await push(channel, "shout", { loud: true }, 300), { status: "timeout" });
    assert.deepEqual(await shout, { loud: true });
  });

  test("channel.on receives broadcasts from other clients and from POST /broadcast", T, async (t) => {
    const s1 = newSocket(t);
    const s2 = newSocket(t);
    s1.connect();
    s2.connect();
    const topic = uniq("room:js-bcast");
    const c1 = s1.channel(topic, { user: "one" });
    const c2 = s2.channel(topic, { user: "two" });
    assert.equal((await join(c1)).status, "ok");
    assert.equal((await join(c2)).status, "ok");
    let got = [nextEvent(c1, "shout"), nextEvent(c2, "shout")];
    c1.push("shout", { from: "one" });
    assert.deepEqual(await Promise.all(got), [{ from: "one" }, { from: "one" }]);
    got = [nextEvent(c1, "new_msg"), nextEvent(c2, "new_msg")];
    assert.deepEqual(await push(c2, "new_msg", { body: "hi" }), { status: "ok", response: {} });
    assert.deepEqual(await Promise.all(got), [{ body: "hi", transport: "websocket" }, { body: "hi", transport: "websocket" }]);
    got = [nextEvent(c1, "news"), nextEvent(c2, "news")];
    const res = await broadcast(topic, "news", { from: "server" });
    assert.equal(res.status, 200);
    assert.deepEqual(await Promise.all(got), [{ from: "server" }, { from: "server" }]);
  });

  test("boom: phx_error, the channel rejoins by itself and the join callback fires again", T, async (t) => {
    const socket = newSocket(t);
    socket.connect();
    const channel = socket.channel(uniq("room:js-boom"), {});
    let joins = 0;
    let errors = 0;
    channel.onError(() => { errors += 1; });
    const firstJoined = nextEvent(channel, "joined", 4000);
    await within(4000, "first join", (resolve) => {
      channel.join().receive("ok", () => { joins += 1; resolve(); });
    });
    await firstJoined;
    const rejoined = nextEvent(channel, "joined", 5000);
    channel.push("boom", {});
    await rejoined;
    assert.equal(errors >= 1, true, "onError did not fire");
    for (let i = 0; i < 50 && joins < 2; i++) await sleep(20);
    assert.equal(joins, 2, "the join receive('ok') hook should fire again on rejoin");
    assert.equal(channel.state, "joined");
    assert.deepEqual(await push(channel, "echo", { after: "boom" }), { status: "ok", response: { after: "boom" } });
  });

  test("stop: onClose fires and the channel does not rejoin", T, async (t) => {
    const socket = newSocket(t);
    socket.connect();
    const channel = socket.channel(uniq("room:js-stop"), {});
    assert.equal((await join(channel)).status, "ok");
    let errors = 0;
    channel.onError(() => { errors += 1; });
    const closed = within(3000, "onClose", (resolve) => channel.onClose(() => resolve()));
    channel.push("stop", {});
    await closed;
    assert.equal(channel.state, "closed");
    await sleep(300);
    assert.equal(channel.state, "closed", "a stopped channel must not rejoin");
    assert.equal(errors, 0);
  });

  test("leave: receive('ok') and onClose", T, async (t) => {
    const socket = newSocket(t);
    socket.connect();
    const channel = socket.channel(uniq("room:js-leave"), {});
    assert.equal((await join(channel)).status, "ok");
    const closed = within(3000, "onClose", (resolve) => channel.onClose(() => resolve()));
    const left = await within(3000, "leave reply", (resolve) => {
      channel.leave().receive("ok", () => resolve("ok")).receive("timeout", () => resolve("timeout"));
    });
    assert.equal(left, "ok");
    await closed;
    assert.equal(channel.state, "closed");
  });

  test("reconnects and rejoins after the server closes the socket (socket-id disconnect, code 1001)", T, async (t) => {
    const socket = newSocket(t, { params: { user_id: "2001" } });
    const closes = [];
    let opens = 0;
    socket.onClose((e) => closes.push(e.code));
    socket.onOpen(() => { opens += 1; });
    socket.connect();
    const channel = socket.channel(uniq("room:js-reconnect"), {});
    let joins = 0;
    const firstJoined = nextEvent(channel, "joined", 4000);
    await within(4000, "first join", (resolve) => channel.join().receive("ok", () => { joins += 1; resolve(); }));
    await firstJoined;
    const rejoined = nextEvent(channel, "joined", 8000);
    const res = await broadcast("user_sockets:2001", "disconnect", {});
    assert.equal(res.status, 200);
    await rejoined;
    for (let i = 0; i < 50 && joins < 2; i++) await sleep(20);
    assert.deepEqual(closes, [1001], "close codes seen by phoenix.js");
    assert.equal(opens, 2);
    assert.equal(joins, 2);
    assert.deepEqual(await push(channel, "echo", { back: true }), { status: "ok", response: { back: true } });
  });

  test("ArrayBuffer echo: binary push comes back as an ArrayBuffer with the same bytes", T, async (t) => {
    const socket = newSocket(t);
    socket.connect();
    const channel = socket.channel(uniq("room:js-bin"), {});
    assert.equal((await join(channel)).status, "ok");
    const bytes = new Uint8Array([0, 1, 2, 3, 254, 255, 128, 10]);
    const reply = await push(channel, "echo", bytes.buffer);
    assert.equal(reply.status, "ok");
    assert.ok(reply.response instanceof ArrayBuffer, `response is ${Object.prototype.toString.call(reply.response)}`);
    assert.deepEqual([...new Uint8Array(reply.response)], [...bytes]);
  });

  test("heartbeats: ping gets an answer and a 100 ms heartbeat interval keeps the socket up", T, async (t) => {
    const socket = newSocket(t, { heartbeatIntervalMs: 100 });
    const closes = [];
    socket.onClose((e) => closes.push(e.code));
    socket.connect();
    await connected(socket);
    const rtt = await within(2000, "ping", (resolve) => assert.ok(socket.ping(resolve)));
    assert.equal(typeof rtt, "number");
    await sleep(700);
    assert.ok(socket.isConnected());
    assert.deepEqual(closes, [], "no heartbeat timeout or close expected");
  });

  test("connect refused (reject=true): onError fires and the socket never opens", T, async (t) => {
    const socket = newSocket(t, { params: { reject: "true" }, reconnectAfterMs: () => 1000 });
    let opened = false;
    socket.onOpen(() => { opened = true; });
    const errored = within(3000, "onError", (resolve) => socket.onError(() => resolve()));
    socket.connect();
    await errored;
    assert.equal(opened, false);
    assert.equal(socket.isConnected(), false);
  });
});
