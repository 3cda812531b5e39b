// Socket-level behaviour (examples/testapp/README.md, "What it serves";
// docs/protocol.md, "Endpoint layout", "Connecting", "Socket id and disconnect", "Heartbeat and idle timeout"): connect refusal, vsn negotiation, origin
// check, idle timeout, extra mounts, connect_info, socket-id disconnect and
// server broadcasts, in both serializer modes. The socket-id disconnect and
// POST /broadcast cases run over long-poll too (one body, both transports);
// the rest is WebSocket-only: the /ws* mounts serve no long-poll, and HTTP
// 403 on upgrade, idle close and close codes have no long-poll equivalent
// (long-poll's are in longpoll.test.mjs).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MODES, V1 } from "./lib/frames.mjs";
import { LONGPOLL, TRANSPORTS, clientPool, openWS } from "./lib/client.mjs";
import { HOST, PORT, broadcast, uniq, wsURL } from "./lib/env.mjs";
import { OK, eqFrame, joinRoom } from "./lib/room.mjs";

const T = { timeout: 15_000 };

/** Tries a WebSocket upgrade and returns {status, body}; 101 when it opened (then closes it). */
async function upgrade(mount, params, vsn, headers = {}) {
  const res = await openWS(wsURL(mount, params, vsn), { headers });
  if (res.ok) {
    await new Promise((resolve) => {
      const t = setTimeout(() => { res.ws.terminate(); resolve(); }, 1000);
      res.ws.once("close", () => { clearTimeout(t); resolve(); });
      res.ws.close(1000);
    });
    return { status: 101, body: "" };
  }
  return { status: res.status, body: res.body };
}

for (const mode of MODES) {
  describe(`socket [${mode.name} vsn=${mode.vsn}]`, () => {
    test("connect refused with reject=true: HTTP 403, empty body", T, async () => {
      for (const mount of ["/socket", "/ws"]) {
        assert.deepEqual(await upgrade(mount, { reject: "true" }, mode.vsn), { status: 403, body: "" }, mount);
      }
      // Only the exact string "true" refuses.
      assert.equal((await upgrade("/socket", { reject: "false" }, mode.vsn)).status, 101);
    });

    test("/ws origin check //example.com: example.com on any scheme/port ok, other hosts 403", T, async () => {
      const cases = [
        ["https://example.com", 101],
        ["http://example.com", 101],
        ["http://example.com:8080", 101],
        ["http://notallowed.com", 403],
        ["https://sub.example.com", 403],
        ["null", 403],
      ];
      for (const [origin, want] of cases) {
        const got = await upgrade("/ws", {}, mode.vsn, { Origin: origin });
        assert.equal(got.status, want, `Origin ${origin}`);
        if (want === 403) assert.equal(got.body, "", `body of the 403 for Origin ${origin}`);
      }
      assert.equal((await upgrade("/ws", {}, mode.vsn)).status, 101, "no Origin header is allowed");
      assert.equal((await upgrade("/socket", {}, mode.vsn, { Origin: "http://notallowed.com" })).status, 101, "/socket has no origin check");
    });

    test("/ws idle timeout 200 ms: after a heartbeat and silence the server closes within 400 ms", T, async (t) => {
      const c = await clientPool(t)(mode, { path: "/ws" });
      const sent = Date.now();
      const ref = c.heartbeat();
      const f = await c.expectNext();
      eqFrame(f, [null, ref, "phoenix", "phx_reply", OK()]);
      const info = await c.waitClose(2000);
      const sinceReply = info.at - f.at;
      const sinceSend = info.at - sent;
      assert.ok(sinceReply <= 400, `closed ${sinceReply} ms after the heartbeat reply (code ${info.code}); want <= 400 ms`);
      assert.ok(sinceSend >= 150, `closed only ${sinceSend} ms after the last client frame; the idle timeout is 200 ms`);
    });

    test("/ws: frames from the client keep the connection alive past the idle timeout", T, async (t) => {
      const c = await clientPool(t)(mode, { path: "/ws" });
      for (let i = 0; i < 8; i++) {
        const ref = c.heartbeat();
        eqFrame(await c.expectNext(), [null, ref, "phoenix", "phx_reply", OK()], `heartbeat ${i}`);
        await c.expectNone(100);
      }
      assert.ok(c.isOpen, "socket closed although the client sent a frame every ~100 ms");
    });

    test("/socket has the default idle timeout: silence of 600 ms does not close it", T, async (t) => {
      const c = await clientPool(t)(mode);
      await c.expectNone(600);
      assert.ok(c.isOpen);
      const ref = c.heartbeat();
      eqFrame(await c.expectNext(), [null, ref, "phoenix", "phx_reply", OK()]);
    });

    test("/ws/admin mount (two path segments) serves the UserSocket", T, async (t) => {
      const c = await clientPool(t)(mode, { path: "/ws/admin" });
      const { join_ref, ref } = c.join("room:admin-lobby1", {});
      assert.equal(ref, "1");
      eqFrame(await c.expectNext(), [c.jr(join_ref), "1", "room:admin-lobby1", "phx_reply", OK()]);
    });

    test("/ws/connect_info: joined push carries peer_data, x_headers and uri", T, async (t) => {
      const c = await clientPool(t)(mode, { path: "/ws/connect_info", headers: { "x-application": "Phoenix", "y-not-an-x-header": "no" } });
      const topic = uniq("room:info");
      const { join_ref, ref } = c.join(topic, {});
      eqFrame(await c.expectNext(), [c.jr(join_ref), ref, topic, "phx_reply", OK()]);
      const joined = await c.expect((f) => f.event === "joined", 2000, "joined push");
      assert.equal(joined.join_ref, c.jr(join_ref));
      const p = joined.payload;
      const ctx = JSON.stringify(p);
      assert.equal(p.status, "connected", ctx);
      assert.equal(p.user_id, null, ctx);
      const ci = p.connect_info;
      assert.ok(ci && typeof ci === "object", `connect_info missing: ${ctx}`);
      assert.equal(ci.peer_data?.address, "127.0.0.1", ctx);
      assert.equal(ci.peer_data?.port, c.localPort, `peer_data.port should be the client's port ${c.localPort}: ${ctx}`);
      assert.deepEqual(ci.x_headers, { "x-application": "Phoenix" }, ctx);
      const uri = ci.uri ?? {};
      assert.deepEqual(
        { scheme: uri.scheme, host: uri.host, port: uri.port, path: uri.path, query: uri.query },
        { scheme: "http", host: HOST, port: PORT, path: "/ws/connect_info/websocket", query: `vsn=${mode.vsn}` },
        ctx,
      );
    });

    test("/socket (UserSocket) joined push has no connect_info", T, async (t) => {
      const c = await clientPool(t)(mode, { headers: { "x-application": "Phoenix" } });
      const topic = uniq("room:noinfo");
      const { join_ref } = c.join(topic, {});
      const joined = await c.expect((f) => f.event === "joined", 2000, "joined push");
      eqFrame(joined, [c.jr(join_ref), null, topic, "joined", { status: "connected", user_id: null }]);
    });
  });
}

// The cases of the /socket mount that hold for either transport.
for (const tr of TRANSPORTS) {
  for (const mode of MODES) {
    describe(`socket [${tr.name} ${mode.name} vsn=${mode.vsn}]`, () => {
      test(`socket id: disconnect broadcast on user_sockets:<id> ends that connection (${tr.name}: ${tr === LONGPOLL ? "next poll 410, session_gone" : "close 1001"}), others stay`, T, async (t) => {
        const open = clientPool(t, tr);
        const [id, id2, id3] = [1, 2, 3].map(() => uniq("u"));
        const c = await open(mode, { params: { user_id: id } });
        const other = await open(mode, { params: { user_id: id2 } });
        const anon = await open(mode);
        const t1 = uniq("room:sid");
        const t2 = uniq("room:sid");
        const j1 = c.join(t1, {});
        eqFrame(await c.expectNext(2000, t1), [c.jr(j1.join_ref), j1.ref, t1, "phx_reply", OK()]);
        const joined = await c.expect((f) => f.topic === t1 && f.event === "joined", 2000, "joined push");
        eqFrame(joined, [c.jr(j1.join_ref), null, t1, "joined", { status: "connected", user_id: id }], "user_id assign from params");
        await joinRoom(c, t2);
        await joinRoom(other, t1);
        const res = await broadcast(`user_sockets:${id}`, "disconnect", {});
        assert.equal(res.status, 200, res.body);
        const info = await c.waitClose(2000);
        assert.equal(info.code, tr.disconnectCode, `close code ${info.code} ${JSON.stringify(info.reason)}`);
        if (tr === LONGPOLL) {
          // The session is gone for good: a POST with its token is refused (410).
          const res = await c.post(JSON.stringify([null, "99", "phoenix", "heartbeat", {}]));
          assert.deepEqual(res.json, { status: 410 }, res.text);
        }
        for (const [name, s] of [["other user", other], ["anonymous", anon]]) {
          assert.ok(s.isOpen, `${name} socket was closed too`);
          const ref = s.heartbeat();
          eqFrame(await s.expect((f) => f.topic === "phoenix"), [null, ref, "phoenix", "phx_reply", OK()], name);
        }
        // An event other than disconnect on the id topic is ignored.
        const d = await open(mode, { params: { user_id: id3 } });
        assert.equal((await broadcast(`user_sockets:${id3}`, "something_else", {})).status, 200);
        await d.expectNone(300);
        assert.ok(d.isOpen);
      });

      test(`POST /broadcast reaches room subscribers; new_msg is intercepted per subscriber (${tr.name}); empty body is {}`, T, async (t) => {
        const open = clientPool(t, tr);
        const a = await open(mode);
        const b = await open(mode, { joinRefStart: 21, refStart: 51 });
        const topic = uniq("room:http");
        const ja = await joinRoom(a, topic);
        const jb = await joinRoom(b, topic);
        await a.expect((f) => f.event === "user_entered");
        let res = await broadcast(topic, "news", { headline: "hi", n: [1] });
        assert.deepEqual(res.status, 200);
        assert.equal(res.body, "ok");
        for (const c of [a, b]) eqFrame(await c.expectNext(), [null, null, topic, "news", { headline: "hi", n: [1] }]);
        res = await broadcast(topic, "new_msg", { body: "from server" });
        assert.equal(res.status, 200);
        eqFrame(await a.expectNext(), [a.jr(ja.join_ref), null, topic, "new_msg", { body: "from server", transport: tr.name }]);
        eqFrame(await b.expectNext(), [b.jr(jb.join_ref), null, topic, "new_msg", { body: "from server", transport: tr.name }]);
        res = await broadcast(topic, "ping", undefined);
        assert.equal(res.status, 200, res.body);
        for (const c of [a, b]) eqFrame(await c.expectNext(), [null, null, topic, "ping", {}]);
        await a.expectNone(200);
        await b.expectNone(0);
      });
    });
  }
}

describe("serializer negotiation", () => {
  test("missing vsn means 1.0.0 (V1 objects)", T, async (t) => {
    const c = await clientPool(t)(V1, { vsn: null });
    const ref = c.heartbeat();
    const f = await c.expectNext();
    assert.deepEqual(f.json, { topic: "phoenix", event: "phx_reply", payload: { status: "ok", response: {} }, ref }, f.raw);
  });

  test("vsn 123.1.1 is refused with 403", T, async () => {
    assert.deepEqual(await upgrade("/socket", {}, "123.1.1"), { status: 403, body: "" });
  });

  test("vsn matches ~> 1.0.0 / ~> 2.0.0; anything else is 403", T, async () => {
    const cases = [
      ["1.0.7", 101], ["2.0.9", 101],
      ["2.1.0", 403], ["1.1.0", 403], ["3.0.0", 403], ["2.0", 403], ["abc", 403], ["", 403],
    ];
    for (const [vsn, want] of cases) {
      assert.equal((await upgrade("/socket", {}, vsn)).status, want, `vsn=${JSON.stringify(vsn)}`);
    }
  });

  test("vsn 2.0.9 speaks V2 and 1.0.7 speaks V1", T, async (t) => {
    const open = clientPool(t);
    const v2 = await open({ name: "V2", vsn: "2.0.9", v1: false });
    let ref = v2.heartbeat();
    eqFrame(await v2.expectNext(), [null, ref, "phoenix", "phx_reply", OK()]);
    const v1 = await open({ name: "V1", vsn: "1.0.7", v1: true });
    ref = v1.heartbeat();
    const f = await v1.expectNext();
    assert.ok(!Array.isArray(f.json), f.raw);
    eqFrame(f, [null, ref, "phoenix", "phx_reply", OK()]);
  });
});
