// The long-poll transport at the HTTP level (docs/protocol.md, "Long-poll", and Phoenix's
// long_poll_channels_test.exs / long_poll_socket_test.exs, §10.2 and §10.4):
// every JSON answer is HTTP 200 with the outcome in the body's `status`;
// sessions and tokens; CORS preflight; ndjson batches; the 204 window.
// Channel behaviour over long-poll runs in channels.test.mjs (one body for
// both transports); this file checks the raw requests and answers.
//
// The test app's /socket mount uses the default 10 s window. The one case
// that waits for it (a poll answered 204) is started before the others and
// checked at the end, so the file does not wait twice.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { MODES, V1, V2, decodeText, encodeBinaryPush, encodeText, show, tuple } from "./lib/frames.mjs";
import { clientPool, WEBSOCKET } from "./lib/client.mjs";
import { BASE, HOST, PORT, broadcast, sleep, uniq } from "./lib/env.mjs";
import { jsonAnswerProblems, lpRequest, lpURL } from "./lib/longpoll.mjs";
import { OK, UNMATCHED, eqFrame, joinRoom } from "./lib/room.mjs";

const T = { timeout: 15_000 };
const WINDOW_MS = 10_000; // the test app's long-poll window (the default)
const BYE = { message: "bye!" };

/** Asserts the §6.1 basics of a JSON answer (HTTP 200, headers) and returns its body. */
function jsonBody(res, what) {
  assert.deepEqual(jsonAnswerProblems(res), [], `${what}: ${res.text}`);
  return res.json;
}

/** Opens a session; returns its token. */
async function openSession(mode = V2, params = {}) {
  const res = await lpRequest("GET", { vsn: mode.vsn, params, headers: { accept: "application/json" } });
  const body = jsonBody(res, "session GET");
  assert.equal(body.status, 410, res.text);
  assert.deepEqual(Object.keys(body).sort(), ["messages", "status", "token"], res.text);
  assert.deepEqual(body.messages, []);
  assert.equal(typeof body.token, "string");
  assert.ok(body.token.length >= 16, `token ${body.token} looks guessable`);
  return body.token;
}

/** POSTs frames (messages, encoded for mode) as the client of that mode does: ndjson for V2, one application/json frame for V1. */
async function publish(mode, token, msgs, opts = {}) {
  if (mode.v1) {
    assert.equal(msgs.length, 1, "V1 clients POST one frame at a time");
    return lpRequest("POST", { vsn: mode.vsn, token, body: encodeText(mode, msgs[0]), contentType: "application/json", ...opts });
  }
  return lpRequest("POST", { vsn: mode.vsn, token, body: msgs.map((m) => encodeText(mode, m)).join("\n"), contentType: "application/x-ndjson", ...opts });
}

async function publishOK(mode, token, msgs, opts) {
  const res = await publish(mode, token, msgs, opts);
  assert.deepEqual(jsonBody(res, "publish"), { status: 200 }, res.text);
}

/**
 * Polls with token until `until(frames)` holds (by default: n frames were
 * received), each poll answered 200 with the same token and frames as JSON
 * strings. Bounded: a poll that would wait for the window fails the test.
 */
async function pollUntil(mode, token, { n, until = (fs) => fs.length >= n, timeoutMs = 4000, raw = [] } = {}) {
  const frames = [];
  const deadline = Date.now() + timeoutMs;
  while (!until(frames)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`polled ${frames.length} frame(s) within ${timeoutMs} ms, wanted more:\n${frames.map(show).join("\n")}`);
    let res;
    try {
      res = await lpRequest("GET", { vsn: mode.vsn, token, headers: { accept: "application/json" }, timeoutMs: left });
    } catch (err) {
      throw new Error(`poll did not answer (${err.message}); frames so far:\n${frames.map(show).join("\n")}`);
    }
    const body = jsonBody(res, "poll");
    assert.equal(body.status, 200, `poll status: ${res.text}; frames so far:\n${frames.map(show).join("\n")}`);
    assert.equal(body.token, token, "a poll answers with the session's token");
    assert.ok(body.messages.length > 0, `200 poll without messages: ${res.text}`);
    raw.push(res.text);
    for (const m of body.messages) {
      assert.equal(typeof m, "string", `each message is one frame's text as a JSON string: ${res.text}`);
      frames.push(decodeText(mode, m));
    }
  }
  return frames;
}

/** node:http request, for exact control over headers (duplicates, empty values, none). */
function rawHTTP(method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    // Node sends a DELETE's body without framing unless told its length.
    if (body !== undefined) h["content-length"] = Buffer.byteLength(body);
    const req = http.request({ host: HOST, port: PORT, method, path, headers: h, agent: false, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ http: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function lpPath(vsn = "2.0.0", token) {
  const u = new URL(lpURL("/socket", {}, vsn, token));
  return u.pathname + u.search;
}

/** A token with one character of its signature changed. */
function forge(token) {
  const last = token.at(-2);
  return token.slice(0, -2) + (last === "A" ? "B" : "A") + token.at(-1);
}

describe("long-poll HTTP (docs/protocol.md: Long-poll)", () => {
  // §6.3: a poll with nothing to send is answered 204 after the window.
  // Started first, checked by the last test of this file.
  let slow;
  before(async () => {
    const token = await openSession(V2);
    const started = Date.now();
    slow = lpRequest("GET", { token, headers: { accept: "application/json" }, timeoutMs: WINDOW_MS + 5000 })
      .then((res) => ({ res, token, elapsed: Date.now() - started }), (err) => ({ err, token, elapsed: Date.now() - started }));
  });
  after(async () => { await slow; });

  for (const mode of MODES) {
    describe(`[${mode.name} vsn=${mode.vsn}]`, () => {
      test("GET without a token opens a session: HTTP 200, {status: 410, token, messages: []}, JSON, no-store, CORS *", T, async () => {
        const a = await openSession(mode);
        const b = await openSession(mode);
        assert.notEqual(a, b, "every session has its own token");
      });

      test("join by POST, then poll: 200 with the same token and the frames as JSON strings: reply, user_entered, joined; then new_msg and an unjoined topic", T, async () => {
        const token = await openSession(mode);
        const topic = uniq("room:lpjoin");
        await publishOK(mode, token, [{ join_ref: "1", ref: "1", topic, event: "phx_join", payload: { user: "lp" } }]);
        const raw = [];
        let fs = await pollUntil(mode, token, { n: 3, raw });
        assert.match(raw[0], /^\{"messages":\["/, "messages are JSON strings (frames double-encoded)");
        const jr = mode.v1 ? null : "1";
        eqFrame(fs[0], [jr, "1", topic, "phx_reply", OK()]);
        eqFrame(fs[1], [null, null, topic, "user_entered", { user: "lp" }]);
        eqFrame(fs[2], [jr, null, topic, "joined", { status: "connected", user_id: null }]);
        // Phoenix's "publishing events" (§10.2 #35): a message without join_ref, then one to an unjoined topic.
        await publishOK(mode, token, [{ join_ref: null, ref: "2", topic, event: "new_msg", payload: { body: "hi" } }]);
        fs = await pollUntil(mode, token, { n: 2 });
        const reply = fs.find((f) => f.event === "phx_reply");
        const msg = fs.find((f) => f.event === "new_msg");
        assert.ok(reply && msg, `want a reply and a new_msg, got ${fs.map(show).join(" ")}`);
        eqFrame(reply, [jr, "2", topic, "phx_reply", OK()]);
        eqFrame(msg, [jr, null, topic, "new_msg", { body: "hi", transport: "longpoll" }]);
        await publishOK(mode, token, [{ join_ref: null, ref: "12300", topic: "room:private-room", event: "new_msg", payload: {} }]);
        eqFrame((await pollUntil(mode, token, { n: 1 }))[0], [null, "12300", "room:private-room", "phx_reply", UNMATCHED]);
      });

      test("boom → you_left, phx_error channel_crash; leave → reply, phx_close, you_left (raw requests)", T, async () => {
        const token = await openSession(mode);
        const jr = mode.v1 ? null : "11";
        const t1 = uniq("room:lpboom");
        await publishOK(mode, token, [{ join_ref: "11", ref: "1", topic: t1, event: "phx_join", payload: {} }]);
        await pollUntil(mode, token, { n: 3 });
        await publishOK(mode, token, [{ join_ref: "11", ref: "2", topic: t1, event: "boom", payload: {} }]);
        let fs = await pollUntil(mode, token, { until: (x) => x.some((f) => f.event === "phx_error") });
        assert.deepEqual(fs.map(tuple), [
          [jr, null, t1, "you_left", BYE],
          [jr, jr, t1, "phx_error", { reason: "channel_crash" }],
        ], fs.map(show).join("\n"));
        const t2 = uniq("room:lpleave");
        await publishOK(mode, token, [{ join_ref: "12", ref: "3", topic: t2, event: "phx_join", payload: {} }]);
        await pollUntil(mode, token, { n: 3 });
        const jr2 = mode.v1 ? null : "12";
        // A stale join_ref on phx_leave is ignored (§10.2 #45); a null one is accepted.
        await publishOK(mode, token, [{ join_ref: "stale", v1_join_ref: mode.v1 ? "stale" : undefined, ref: "4", topic: t2, event: "phx_leave", payload: {} }]);
        await publishOK(mode, token, [{ join_ref: null, ref: "5", topic: t2, event: "phx_leave", payload: {} }]);
        fs = await pollUntil(mode, token, { until: (x) => x.some((f) => f.event === "you_left") });
        assert.deepEqual(fs.map(tuple), [
          [jr2, "5", t2, "phx_reply", OK()],
          [jr2, jr2, t2, "phx_close", {}],
          [jr2, null, t2, "you_left", BYE],
        ], fs.map(show).join("\n"));
      });

      test("connect refused: reject=true → {status: 403}; vsn=123.1.1 → {status: 403}", T, async () => {
        for (const [params, vsn] of [[{ reject: "true" }, mode.vsn], [{}, "123.1.1"]]) {
          const res = await lpRequest("GET", { params, vsn });
          assert.deepEqual(jsonBody(res, "refused GET"), { status: 403 }, `${JSON.stringify(params)} vsn=${vsn}: ${res.text}`);
        }
        // A POST with reject=true and no session is just a POST without a session.
        const res = await lpRequest("POST", { params: { reject: "true" }, vsn: mode.vsn, body: "{}", contentType: "application/json" });
        assert.deepEqual(jsonBody(res, "POST"), { status: 410 });
      });
    });
  }

  test("missing vsn means V1 (objects), vsn 2.0.9 means V2 (arrays)", T, async () => {
    for (const [vsn, mode] of [[null, V1], ["2.0.9", V2]]) {
      const res = await lpRequest("GET", { vsn });
      const { token } = jsonBody(res, "GET");
      const hb = mode.v1 ? { topic: "phoenix", event: "heartbeat", payload: {}, ref: "1" } : [null, "1", "phoenix", "heartbeat", {}];
      const post = await lpRequest("POST", { vsn, token, body: JSON.stringify(hb), contentType: "application/json" });
      assert.deepEqual(jsonBody(post, "POST"), { status: 200 });
      const fs = await pollUntil(mode, token, { n: 1 });
      assert.equal(Array.isArray(fs[0].json), !mode.v1, `vsn=${vsn}: ${fs[0].raw}`);
      eqFrame(fs[0], [null, "1", "phoenix", "phx_reply", OK()]);
    }
  });

  test("methods other than GET, POST, OPTIONS → HTTP 400, empty body", T, async () => {
    for (const method of ["PUT", "DELETE", "PATCH"]) {
      const res = await rawHTTP(method, lpPath(), { headers: { "content-type": "application/json" }, body: "{}" });
      assert.equal(res.http, 400, method);
      assert.equal(res.text, "", method);
      assert.equal(res.headers["access-control-allow-origin"], "*", `${method}: every answer allows any origin`);
    }
  });

  test("OPTIONS preflight: 200, empty body, allow-headers echo the request's joined by \", \", methods, max-age", T, async () => {
    const res = await rawHTTP("OPTIONS", lpPath(), {
      headers: {
        origin: "http://elsewhere.example",
        "access-control-request-method": "POST",
        // Two header lines: Phoenix joins the values with ", ".
        "access-control-request-headers": ["x-phoenix-longpoll-token", "content-type, x-phoenix-authtoken"],
      },
    });
    assert.equal(res.http, 200);
    assert.equal(res.text, "");
    assert.equal(res.headers["access-control-allow-origin"], "*");
    assert.equal(res.headers["access-control-allow-headers"], "x-phoenix-longpoll-token, content-type, x-phoenix-authtoken");
    assert.equal(res.headers["access-control-allow-methods"], "get, post, options");
    assert.equal(res.headers["access-control-max-age"], "3600");
  });

  test("POST without a session: no token, garbage, forged signature → {status: 410}", T, async () => {
    const valid = await openSession(V2);
    const hb = JSON.stringify([null, "1", "phoenix", "heartbeat", {}]);
    for (const [what, opts] of [["no token", {}], ["garbage token", { token: "garbage" }], ["forged token", { token: forge(valid) }], ["forged header token", { headerToken: forge(valid) }]]) {
      const res = await lpRequest("POST", { body: hb, contentType: "application/x-ndjson", ...opts });
      assert.deepEqual(jsonBody(res, what), { status: 410 }, `${what}: ${res.text}`);
    }
  });

  test("GET with a garbage or forged token starts a new session: 410 and a new token, which works", T, async () => {
    const valid = await openSession(V2);
    for (const bad of ["garbage", forge(valid)]) {
      const res = await lpRequest("GET", { token: bad });
      const body = jsonBody(res, "GET");
      assert.equal(body.status, 410, res.text);
      assert.deepEqual(body.messages, []);
      assert.ok(body.token && body.token !== bad && body.token !== valid, `new token: ${res.text}`);
      await publishOK(V2, body.token, [{ join_ref: null, ref: "1", topic: "phoenix", event: "heartbeat", payload: {} }]);
      eqFrame((await pollUntil(V2, body.token, { n: 1 }))[0], [null, "1", "phoenix", "phx_reply", OK()]);
    }
    // The forged token did not take over the valid session.
    await publishOK(V2, valid, [{ join_ref: null, ref: "7", topic: "phoenix", event: "heartbeat", payload: {} }]);
    eqFrame((await pollUntil(V2, valid, { n: 1 }))[0], [null, "7", "phoenix", "phx_reply", OK()]);
  });

  test("token in x-phoenix-longpoll-token wins over the token query param (both ways)", T, async () => {
    const token = await openSession(V2);
    const hb = (ref) => JSON.stringify([null, ref, "phoenix", "heartbeat", {}]);
    // Valid header, bogus param: POST and GET use the header's session.
    let res = await lpRequest("POST", { token: "bogus", headerToken: token, body: hb("1"), contentType: "application/x-ndjson" });
    assert.deepEqual(jsonBody(res, "POST"), { status: 200 });
    res = await lpRequest("GET", { token: "bogus", headerToken: token });
    let body = jsonBody(res, "GET");
    assert.equal(body.status, 200, res.text);
    assert.equal(body.token, token);
    assert.deepEqual(body.messages.map((m) => tuple(decodeText(V2, m))), [[null, "1", "phoenix", "phx_reply", OK()]]);
    // Bogus header, valid param: the header still wins, so there is no session.
    res = await lpRequest("POST", { token, headerToken: "bogus", body: hb("2"), contentType: "application/x-ndjson" });
    assert.deepEqual(jsonBody(res, "POST"), { status: 410 }, "a bogus header token must win over a valid param");
    res = await lpRequest("GET", { token, headerToken: "bogus" });
    body = jsonBody(res, "GET");
    assert.equal(body.status, 410, res.text);
    assert.notEqual(body.token, token);
    // The token param alone still works (phoenix.js 1.8.16 sends only that).
    await publishOK(V2, token, [{ join_ref: null, ref: "3", topic: "phoenix", event: "heartbeat", payload: {} }]);
    eqFrame((await pollUntil(V2, token, { n: 1 }))[0], [null, "3", "phoenix", "phx_reply", OK()]);
  });

  test("content type: an empty or missing content-type is one JSON frame; only exactly application/x-ndjson is split into lines", T, async () => {
    const token = await openSession(V2);
    const hb = (ref) => JSON.stringify([null, ref, "phoenix", "heartbeat", {}]);
    for (const [ref, headers] of [["1", { "content-type": "" }], ["2", {}], ["3", { "content-type": "application/json" }]]) {
      const res = await rawHTTP("POST", lpPath("2.0.0", token), { headers, body: hb(ref) });
      assert.deepEqual(jsonBody({ ...res, headers: new Headers(res.headers) }, `POST with ${JSON.stringify(headers)}`), { status: 200 });
      eqFrame((await pollUntil(V2, token, { n: 1 }))[0], [null, ref, "phoenix", "phx_reply", OK()], JSON.stringify(headers));
    }
    // Two lines under another content type are one frame, which is not valid
    // JSON: the session ends (Phoenix's session crashes; the publish gets 408)
    // and the next poll starts a new one.
    const res = await lpRequest("POST", { token, body: `${hb("4")}\n${hb("5")}`, contentType: "application/x-ndjson; charset=utf-8" });
    assert.deepEqual(jsonBody(res, "POST"), { status: 408 }, res.text);
    const again = await lpRequest("GET", { token });
    const body = jsonBody(again, "GET after the bad frame");
    assert.equal(body.status, 410, again.text);
    assert.notEqual(body.token, token);
  });

  test("ndjson batch (§10.2 #37): lines handled in order, LF and CRLF, stale join_ref line dropped, base64 binary line decoded", T, async (t) => {
    const token = await openSession(V2);
    const topic = uniq("room:lpbatch");
    // A WebSocket subscriber sees the binary shout (long-poll carries no binary frames out).
    const ws = await clientPool(t, WEBSOCKET)(V2, { joinRefStart: 21, refStart: 51 });
    await joinRoom(ws, topic, { user: "ws" });
    await publishOK(V2, token, [{ join_ref: "1", ref: "1", topic, event: "phx_join", payload: {} }]);
    await pollUntil(V2, token, { n: 3 });
    await ws.expect((f) => f.event === "user_entered", 2000, "the long-poll client's user_entered");
    const line = (m) => encodeText(V2, m);
    const bin = Buffer.from([1, 2, 3, 0, 255]);
    const body = [
      line({ join_ref: "1", ref: "2", topic, event: "new_msg", payload: { body: "hi1" } }),
      line({ join_ref: "1", ref: "3", topic, event: "new_msg", payload: { body: "hi2" } }),
      line({ join_ref: "stale", ref: "4", topic, event: "new_msg", payload: { body: "stale" } }),
      encodeBinaryPush({ join_ref: "1", ref: "5", topic, event: "shout", payload: bin }).toString("base64"),
      encodeBinaryPush({ join_ref: "1", ref: "6", topic: "room:lp-nowhere", event: "echo", payload: bin }).toString("base64"),
      line({ join_ref: "1", ref: "7", topic, event: "new_msg", payload: { body: "hi3" } }),
    ];
    const res = await lpRequest("POST", { token, body: `${body[0]}\n${body[1]}\r\n${body[2]}\n${body[3]}\r\n${body[4]}\n${body[5]}`, contentType: "application/x-ndjson" });
    assert.deepEqual(jsonBody(res, "batch POST"), { status: 200 });
    // hi3 is broadcast after everything before it was handled.
    const fs = await pollUntil(V2, token, { until: (x) => x.some((f) => f.event === "new_msg" && f.payload.body === "hi3") && x.some((f) => f.ref === "7") && x.some((f) => f.ref === "6") });
    // The channel's replies come in line order. The unmatched-topic reply
    // comes from the socket itself, so it may overtake them (as in Phoenix,
    // where the socket only hands events to the channel process).
    const replies = fs.filter((f) => f.event === "phx_reply" && f.topic === topic);
    assert.deepEqual(replies.map(tuple), [
      ["1", "2", topic, "phx_reply", OK()],
      ["1", "3", topic, "phx_reply", OK()],
      ["1", "7", topic, "phx_reply", OK()],
    ], fs.map(show).join("\n"));
    assert.deepEqual(fs.filter((f) => f.topic === "room:lp-nowhere").map(tuple), [[null, "6", "room:lp-nowhere", "phx_reply", UNMATCHED]], "the base64 line to an unjoined topic");
    assert.deepEqual(fs.filter((f) => f.event === "new_msg").map(tuple), ["hi1", "hi2", "hi3"].map((b) => ["1", null, topic, "new_msg", { body: b, transport: "longpoll" }]), fs.map(show).join("\n"));
    assert.equal(fs.length, 7, `no other frame (stale line, binary shout): ${fs.map(show).join("\n")}`);
    // The WebSocket subscriber gets hi1, hi2, hi3 in order and the binary
    // shout (not intercepted, so it may overtake the new_msg pushes, which go
    // through the subscriber's channel), but nothing of the stale line.
    const msgs = [];
    while (msgs.length < 3) msgs.push((await ws.expect((x) => x.event === "new_msg", 2000, "hi1, hi2, hi3 at the WebSocket subscriber")).payload.body);
    assert.deepEqual(msgs, ["hi1", "hi2", "hi3"]);
    const shout = await ws.expect((x) => x.event === "shout", 2000, "the binary shout at the WebSocket subscriber");
    assert.ok(shout.binary && shout.kind === 2, show(shout));
    assert.equal(shout.payload.toString("hex"), bin.toString("hex"));
    await ws.expectNone(200, (x) => x.event === "new_msg" || x.event === "shout", "stale new_msg");
  });

  test("an ndjson POST of 101 lines handles exactly the first 100, in order (§10.2 #40)", T, async () => {
    const token = await openSession(V2);
    const topic = uniq("room:lp101");
    await publishOK(V2, token, [{ join_ref: "1", ref: "1", topic, event: "phx_join", payload: {} }]);
    await pollUntil(V2, token, { n: 3 });
    const msgs = [];
    for (let i = 1; i <= 101; i++) msgs.push({ join_ref: "1", ref: `e${i}`, topic, event: "echo", payload: { i } });
    await publishOK(V2, token, msgs);
    // A later POST's echo marks the end: the channel handles its events in order.
    await publishOK(V2, token, [{ join_ref: "1", ref: "fence", topic, event: "echo", payload: {} }]);
    const fs = await pollUntil(V2, token, { until: (x) => x.some((f) => f.ref === "fence") });
    const refs = fs.map((f) => f.ref);
    const want = [];
    for (let i = 1; i <= 100; i++) want.push(`e${i}`);
    assert.deepEqual(refs, [...want, "fence"], `line 101 must not be handled; got ${refs.length} replies, last ${refs.slice(-3)}`);
  });

  test("an invalid base64 line → HTTP error status, the lines after it are not handled, the session goes on", T, async () => {
    const token = await openSession(V2);
    const hb = (ref) => JSON.stringify([null, ref, "phoenix", "heartbeat", {}]);
    const res = await lpRequest("POST", { token, body: `${hb("1")}\n%%% not base64 %%%\n${hb("2")}`, contentType: "application/x-ndjson" });
    // Phoenix fails the request (docs/protocol.md, "Publish" infers 500); Pyre answers 400.
    assert.ok(res.http >= 400, `HTTP ${res.http} ${res.text}`);
    await publishOK(V2, token, [{ join_ref: null, ref: "3", topic: "phoenix", event: "heartbeat", payload: {} }]);
    const fs = await pollUntil(V2, token, { until: (x) => x.some((f) => f.ref === "3") });
    assert.deepEqual(fs.map((f) => f.ref), ["1", "3"], fs.map(show).join("\n"));
  });

  test("a POST body over the ~8 MB read limit → HTTP 400; the session goes on", T, async () => {
    const token = await openSession(V2);
    const res = await lpRequest("POST", { token, body: "A".repeat(8_500_000), contentType: "application/x-ndjson", timeoutMs: 10_000 });
    assert.equal(res.http, 400, res.text);
    await publishOK(V2, token, [{ join_ref: null, ref: "1", topic: "phoenix", event: "heartbeat", payload: {} }]);
    eqFrame((await pollUntil(V2, token, { n: 1 }))[0], [null, "1", "phoenix", "phx_reply", OK()]);
  });

  test("a newer poll takes over: the older one is answered 204 at once and the frames go to the newer one", T, async () => {
    const token = await openSession(V2);
    const started = Date.now();
    const older = lpRequest("GET", { token, timeoutMs: WINDOW_MS + 5000 }).then((res) => ({ res, at: Date.now() }));
    await sleep(200);
    const newer = lpRequest("GET", { token, timeoutMs: 5000 });
    const o = await older;
    assert.deepEqual(jsonBody(o.res, "older poll"), { messages: [], status: 204, token });
    assert.ok(o.at - started < 3000, `the older poll was answered after ${o.at - started} ms`);
    await publishOK(V2, token, [{ join_ref: null, ref: "1", topic: "phoenix", event: "heartbeat", payload: {} }]);
    const n = await newer;
    const body = jsonBody(n, "newer poll");
    assert.equal(body.status, 200, n.text);
    assert.deepEqual(body.messages.map((m) => tuple(decodeText(V2, m))), [[null, "1", "phoenix", "phx_reply", OK()]]);
  });

  test("socket-id disconnect (POST /broadcast user_sockets:<id> disconnect) ends the session: the poll in flight returns, the next gets 410 and a new token, POST 410", T, async () => {
    const id = uniq("lpuser");
    const token = await openSession(V2, { user_id: id });
    const topic = uniq("room:lpdisc");
    await publishOK(V2, token, [{ join_ref: "1", ref: "1", topic, event: "phx_join", payload: {} }]);
    const fs = await pollUntil(V2, token, { n: 3 });
    eqFrame(fs[2], ["1", null, topic, "joined", { status: "connected", user_id: id }]);
    const started = Date.now();
    const inflight = lpRequest("GET", { token, params: { user_id: id }, timeoutMs: WINDOW_MS + 5000 }).then((res) => ({ res, at: Date.now() }));
    await sleep(100);
    assert.equal((await broadcast(`user_sockets:${id}`, "disconnect", {})).status, 200);
    const p = await inflight;
    const pb = jsonBody(p.res, "poll in flight");
    // Pyre answers the waiting poll when the session ends (Phoenix lets it run to the window).
    assert.ok(p.at - started < 3000, `the poll in flight was answered after ${p.at - started} ms`);
    let status = pb.status;
    for (let i = 0; i < 3 && status !== 410; i++) {
      assert.ok([200, 204].includes(status), `poll after disconnect: ${JSON.stringify(pb)}`);
      const r = await lpRequest("GET", { token, params: { user_id: id }, timeoutMs: 3000 });
      const b = jsonBody(r, "poll after disconnect");
      status = b.status;
      if (status === 410) assert.notEqual(b.token, token);
    }
    assert.equal(status, 410, "the session must be gone");
    const post = await lpRequest("POST", { token, body: JSON.stringify([null, "9", "phoenix", "heartbeat", {}]), contentType: "application/x-ndjson" });
    assert.deepEqual(jsonBody(post, "POST after disconnect"), { status: 410 });
  });

  test("long-poll is served only where enabled: /ws/longpoll → 404", T, async () => {
    const res = await fetch(`${BASE}/ws/longpoll?vsn=2.0.0`, { signal: AbortSignal.timeout(5000) });
    await res.text();
    assert.equal(res.status, 404);
  });

  test("an idle poll is answered {status: 204, messages: [], same token} after the 10 s window, and the session lives on", { timeout: WINDOW_MS + 10_000 }, async () => {
    const { res, err, token, elapsed } = await slow;
    if (err) throw err;
    assert.deepEqual(jsonBody(res, "idle poll"), { messages: [], status: 204, token });
    assert.ok(elapsed >= WINDOW_MS - 500 && elapsed <= WINDOW_MS + 3000, `answered after ${elapsed} ms, want about ${WINDOW_MS} ms`);
    await publishOK(V2, token, [{ join_ref: null, ref: "1", topic: "phoenix", event: "heartbeat", payload: {} }]);
    eqFrame((await pollUntil(V2, token, { n: 1 }))[0], [null, "1", "phoenix", "phx_reply", OK()]);
  });
});
