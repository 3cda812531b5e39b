// The official phoenix.js client (npm phoenix, see package.json) against the
// server, unchanged, once per transport with the same test bodies:
//  - WebSocket: Node 20 has no global WebSocket, so the `ws` package is
//    passed as the transport; without it phoenix.js would silently use
//    long-poll.
//  - LongPoll: phoenix.js's own LongPoll transport. Its Ajax uses
//    XMLHttpRequest when there is one and otherwise fetch + AbortController,
//    which Node 20 has, so nothing is added (no XHR polyfill).
// Where the transports differ on purpose (the close code of a server-side
// disconnect; binary replies, which long-poll does not carry), the
// difference is a field of the transport below.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { LongPoll } from "phoenix";
import WebSocket from "ws";
import { broadcast, sleep, uniq } from "./lib/env.mjs";
import { newSocket, within } from "./lib/phoenixjs.mjs";

const T = { timeout: 20_000 };

const TRANSPORTS = [
  // A server-side disconnect closes the WebSocket with 1001 (docs/protocol.md, "Socket id and disconnect").
  { name: "WebSocket", tag: "websocket", transport: WebSocket, disconnectCloses: [1001], binaryReplies: true },
  // Over long-poll the next poll is answered 410 and phoenix.js closes with
  // 3410 "session_gone" (1.8.2+, docs/protocol.md, "Poll"); binary frames from the
  // server are dropped (§3.4).
  { name: "LongPoll", tag: "longpoll", transport: LongPoll, disconnectCloses: [3410], binaryReplies: false },
];
const [WS_TR, LP_TR] = TRANSPORTS;



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

for (const tr of TRANSPORTS) describe(`phoenix.js client over ${tr.name}`, () => {
  test("connects (vsn 2.0.0) and joins; joined push and user_entered broadcast reach channel.on", T, async (t) => {
    const socket = newSocket(t, tr);
    assert.match(socket.endPointURL(), /\/socket\/websocket\?vsn=2\.0\.0$/);
    socket.connect();
    await connected(socket);
    assert.ok(socket.conn instanceof tr.transport, `connected with ${socket.conn?.constructor?.name}`);
    if (tr.transport === LongPoll) assert.match(socket.conn.pollEndpoint, /\/socket\/longpoll\?vsn=2\.0\.0$/);
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
    const socket = newSocket(t, tr);
    socket.connect();
    const channel = socket.channel(uniq("room:js-rej"), { reject: true });
    assert.deepEqual(await join(channel), { status: "error", response: { reason: "rejected" } });
    channel.leave();
  });

  test("join of an unmatched topic: receive('error') with {reason: unmatched topic}", T, async (t) => {
    const socket = newSocket(t, tr);
    socket.connect();
    const channel = socket.channel(uniq("nowhere"), {});
    assert.deepEqual(await join(channel), { status: "error", response: { reason: "unmatched topic" } });
    channel.leave();
  });

  test("push: receive ok (echo, async), error (error), timeout (shout never replies)", T, async (t) => {
    const socket = newSocket(t, tr);
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
    const s1 = newSocket(t, tr);
    const s2 = newSocket(t, tr);
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
    assert.deepEqual(await Promise.all(got), [{ body: "hi", transport: tr.tag }, { body: "hi", transport: tr.tag }]);
    got = [nextEvent(c1, "news"), nextEvent(c2, "news")];
    const res = await broadcast(topic, "news", { from: "server" });
    assert.equal(res.status, 200);
    assert.deepEqual(await Promise.all(got), [{ from: "server" }, { from: "server" }]);
  });

  test("boom: phx_error, the channel rejoins by itself and the join callback fires again", T, async (t) => {
    const socket = newSocket(t, tr);
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
    const socket = newSocket(t, tr);
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
    const socket = newSocket(t, tr);
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

  test(`reconnects and rejoins after a socket-id disconnect (close ${tr.disconnectCloses})`, T, async (t) => {
    const userId = uniq("js-user");
    const socket = newSocket(t, tr, { params: { user_id: userId } });
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
    const res = await broadcast(`user_sockets:${userId}`, "disconnect", {});
    assert.equal(res.status, 200);
    await rejoined;
    for (let i = 0; i < 50 && joins < 2; i++) await sleep(20);
    assert.deepEqual(closes, tr.disconnectCloses, "close codes seen by phoenix.js");
    assert.equal(opens, 2);
    assert.equal(joins, 2);
    assert.deepEqual(await push(channel, "echo", { back: true }), { status: "ok", response: { back: true } });
  });

  test(tr.binaryReplies
    ? "ArrayBuffer echo: binary push comes back as an ArrayBuffer with the same bytes"
    : "ArrayBuffer push: sent as a base64 ndjson line and handled, but the binary echo reply is dropped by the server, so the push times out", T, async (t) => {
    const socket = newSocket(t, tr);
    socket.connect();
    const channel = socket.channel(uniq("room:js-bin"), {});
    assert.equal((await join(channel)).status, "ok");
    const bytes = new Uint8Array([0, 1, 2, 3, 254, 255, 128, 10]);
    if (tr.binaryReplies) {
      const reply = await push(channel, "echo", bytes.buffer);
      assert.equal(reply.status, "ok");
      assert.ok(reply.response instanceof ArrayBuffer, `response is ${Object.prototype.toString.call(reply.response)}`);
      assert.deepEqual([...new Uint8Array(reply.response)], [...bytes]);
      return;
    }
    // Long-poll carries no binary frames from the server (docs/protocol.md, "Text or binary",
    // §6.5): the echo's binary reply never reaches phoenix.js.
    assert.deepEqual(await push(channel, "echo", bytes.buffer, 1000), { status: "timeout" });
    assert.ok(socket.isConnected(), "the session must survive a dropped binary reply");
    assert.equal(channel.state, "joined");
    // The push did reach the channel: a binary shout from long-poll arrives at
    // a WebSocket subscriber as an ArrayBuffer with the same bytes.
    const watcher = newSocket(t, WS_TR);
    watcher.connect();
    const wch = watcher.channel(channel.topic, {});
    assert.equal((await join(wch)).status, "ok");
    const got = nextEvent(wch, "shout");
    channel.push("shout", bytes.buffer);
    const payload = await got;
    assert.ok(payload instanceof ArrayBuffer, `shout payload is ${Object.prototype.toString.call(payload)}`);
    assert.deepEqual([...new Uint8Array(payload)], [...bytes]);
    assert.deepEqual(await push(channel, "echo", { json: "still works" }), { status: "ok", response: { json: "still works" } });
  });

  test("heartbeats: ping gets an answer and a 100 ms heartbeat interval keeps the socket up", T, async (t) => {
    const socket = newSocket(t, tr, { heartbeatIntervalMs: 100 });
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
    const socket = newSocket(t, tr, { params: { reject: "true" }, reconnectAfterMs: () => 1000 });
    let opened = false;
    socket.onOpen(() => { opened = true; });
    const errored = within(3000, "onError", (resolve) => socket.onError(() => resolve()));
    socket.connect();
    await errored;
    assert.equal(opened, false);
    assert.equal(socket.isConnected(), false);
  });
});

describe("phoenix.js WebSocket and LongPoll clients on one topic", () => {
  test("each sees the other's shout and new_msg, and gets new_msg tagged with its own transport", T, async (t) => {
    const ws = newSocket(t, WS_TR);
    const lp = newSocket(t, LP_TR);
    ws.connect();
    lp.connect();
    const topic = uniq("room:js-mixed");
    const cw = ws.channel(topic, { user: "ws" });
    const cl = lp.channel(topic, { user: "lp" });
    assert.equal((await join(cw)).status, "ok");
    const entered = nextEvent(cw, "user_entered", 3000, (p) => p.user === "lp");
    assert.equal((await join(cl)).status, "ok");
    assert.deepEqual(await entered, { user: "lp" });
    for (const [from, name] of [[cw, "ws"], [cl, "lp"]]) {
      let got = [nextEvent(cw, "shout"), nextEvent(cl, "shout")];
      from.push("shout", { from: name });
      assert.deepEqual(await Promise.all(got), [{ from: name }, { from: name }], `shout from ${name}`);
      got = [nextEvent(cw, "new_msg"), nextEvent(cl, "new_msg")];
      assert.deepEqual(await push(from, "new_msg", { body: `hi from ${name}` }), { status: "ok", response: {} });
      assert.deepEqual(await Promise.all(got), [
        { body: `hi from ${name}`, transport: "websocket" },
        { body: `hi from ${name}`, transport: "longpoll" },
      ], `new_msg from ${name}`);
    }
    assert.ok(ws.conn instanceof WebSocket);
    assert.ok(lp.conn instanceof LongPoll);
  });
});
