// phoenix.js's WebSocket → long-poll fallback (docs/protocol.md, "Long-poll") in headless
// Chromium against the test app's /socket mount (PYRE_URL; browser/run.sh
// starts one). The chat page (examples/chat) has no longPollFallbackMs
// option and its server mounts no long-poll, so the page here is a tiny
// one fulfilled by Playwright on the test app's origin: it imports the
// unchanged phoenix.mjs from node_modules and nothing else.
//
// The WebSocket is made unusable in two realistic ways:
//  1. blocked at the network (DevTools request blocking): the WebSocket
//     errors before it opens, so phoenix.js falls back at once;
//  2. a middlebox that accepts the upgrade but passes no frames
//     (page.routeWebSocket without a server): the WebSocket opens, the
//     health-check heartbeat gets no reply, and phoenix.js falls back after
//     longPollFallbackMs.
// Either way the page must end up on long-poll, join, push and receive
// (new_msg tagged "longpoll", while a WebSocket client in Node on the same
// topic gets "websocket"), and remember the fallback in
// sessionStorage["phx:fallback:LongPoll"], which a reload then uses without
// trying the WebSocket again.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { launchChromium } from "./chromium.mjs";
import { BASE, broadcast, uniq } from "../lib/env.mjs";
import { V2 } from "../lib/frames.mjs";
import { clientPool } from "../lib/client.mjs";
import { joinRoom } from "../lib/room.mjs";

const STEP_MS = 10_000;
const FALLBACK_MS = 1500;
const PHOENIX_MJS = readFileSync(new URL("../../../node_modules/phoenix/priv/static/phoenix.mjs", import.meta.url), "utf8");
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>long-poll fallback</title>
<script type="module">
  import { Socket, LongPoll } from "./phoenix.mjs";
  window.phx = { Socket, LongPoll };
</script>`;

describe("phoenix.js WebSocket → long-poll fallback in headless Chromium", () => {
  let browser;

  before(async () => {
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  /** A page on the test app's origin with phoenix.mjs loaded; records sockets, long-poll requests and problems. */
  async function openPage(t) {
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_MS);
    const rec = { page, context, problems: [], sockets: [], longpolls: [] };
    page.on("pageerror", (err) => rec.problems.push(`page error: ${err.message}`));
    page.on("websocket", (ws) => rec.sockets.push(ws.url()));
    page.on("request", (req) => {
      if (new URL(req.url()).pathname === "/socket/longpoll") rec.longpolls.push(`${req.method()} ${req.url()}`);
    });
    page.on("response", (res) => {
      if (res.status() >= 400) rec.problems.push(`HTTP ${res.status()} for ${res.url()}`);
    });
    await page.route("**/__fallback__/**", (route) => {
      const path = new URL(route.request().url()).pathname;
      if (path === "/__fallback__/phoenix.mjs") return route.fulfill({ contentType: "text/javascript; charset=utf-8", body: PHOENIX_MJS });
      if (path === "/__fallback__/") return route.fulfill({ contentType: "text/html; charset=utf-8", body: PAGE });
      return route.fulfill({ status: 404, body: "" });
    });
    rec.load = async () => {
      await page.goto(`${BASE}/__fallback__/`, { waitUntil: "load" });
      await page.waitForFunction(() => window.phx !== undefined);
    };
    await rec.load();
    return rec;
  }

  /** new Socket("/socket", {longPollFallbackMs}) in the page, connected; resolves once it is connected over long-poll. */
  async function connectWithFallback(rec) {
    const started = Date.now();
    await rec.page.evaluate((fallbackMs) => {
      window.logs = [];
      const socket = new window.phx.Socket("/socket", {
        longPollFallbackMs: fallbackMs,
        logger: (kind, msg) => window.logs.push(`${kind}: ${msg}`),
      });
      window.socket = socket;
      socket.connect();
    }, FALLBACK_MS);
    try {
      await rec.page.waitForFunction(() => window.socket.isConnected() && window.socket.conn instanceof window.phx.LongPoll, null, { timeout: STEP_MS });
    } catch (err) {
      throw new Error(`not connected over long-poll: ${err.message}\nphoenix.js log:\n${(await logs(rec)).join("\n")}`);
    }
    return Date.now() - started;
  }

  const logs = (rec) => rec.page.evaluate(() => window.logs);

  /** Joins a room from the page and from a WebSocket client in Node; checks push, receive and each side's transport tag. */
  async function chatOverLongPoll(t, rec) {
    const topic = uniq("room:fallback");
    const ws = await clientPool(t)(V2);
    await joinRoom(ws, topic, { user: "node" });
    const joined = await rec.page.evaluate((topic) => new Promise((resolve) => {
      const ch = window.socket.channel(topic, { user: "browser" });
      window.channel = ch;
      window.got = [];
      for (const ev of ["new_msg", "shout", "news"]) ch.on(ev, (p) => window.got.push([ev, p]));
      ch.join().receive("ok", (r) => resolve(["ok", r])).receive("error", (r) => resolve(["error", r])).receive("timeout", () => resolve(["timeout"]));
    }), topic);
    assert.deepEqual(joined, ["ok", {}]);
    await ws.expect((f) => f.event === "user_entered" && f.payload.user === "browser", 3000, "the browser's user_entered");
    const echo = await rec.page.evaluate(() => new Promise((resolve) => {
      window.channel.push("echo", { from: "browser" }).receive("ok", (r) => resolve(["ok", r])).receive("error", (r) => resolve(["error", r])).receive("timeout", () => resolve(["timeout"]));
    }));
    assert.deepEqual(echo, ["ok", { from: "browser" }]);
    await rec.page.evaluate(() => { window.channel.push("new_msg", { body: "from browser" }); });
    const atNode = await ws.expect((f) => f.event === "new_msg", 3000, "the browser's new_msg at the WebSocket client");
    assert.deepEqual(atNode.payload, { body: "from browser", transport: "websocket" });
    ws.push(topic, "new_msg", { body: "from node" });
    ws.push(topic, "shout", { loud: true });
    assert.equal((await broadcast(topic, "news", { from: "server" })).status, 200);
    try {
      await rec.page.waitForFunction(() => window.got.length >= 4, null, { timeout: STEP_MS });
    } catch (err) {
      throw new Error(`the page received ${JSON.stringify(await rec.page.evaluate(() => window.got))}: ${err.message}`);
    }
    // Intercepted new_msg goes through the channel, shout and news do not, so
    // only the order among the new_msg pushes is fixed.
    const got = await rec.page.evaluate(() => window.got);
    const byEvent = (a, b) => a[0].localeCompare(b[0]);
    assert.deepEqual([...got].sort(byEvent), [
      ["new_msg", { body: "from browser", transport: "longpoll" }],
      ["new_msg", { body: "from node", transport: "longpoll" }],
      ["shout", { loud: true }],
      ["news", { from: "server" }],
    ].sort(byEvent));
  }

  async function assertMemorized(rec) {
    assert.equal(await rec.page.evaluate(() => sessionStorage.getItem("phx:fallback:LongPoll")), "true");
  }

  test("WebSocket blocked at the network: error before open → long-poll at once; chat works; the fallback is remembered across a reload", { timeout: 60_000 }, async (t) => {
    const rec = await openPage(t);
    const cdp = await rec.context.newCDPSession(rec.page);
    await cdp.send("Network.enable");
    await cdp.send("Network.setBlockedURLs", { urls: ["*/socket/websocket*"] });
    const ms = await connectWithFallback(rec);
    const log = await logs(rec);
    assert.ok(rec.sockets.some((u) => new URL(u).pathname === "/socket/websocket"), `the WebSocket was tried first: ${JSON.stringify(rec.sockets)}`);
    assert.ok(log.includes("transport: error") && log.some((l) => l.startsWith("transport: falling back to LongPoll")), log.join("\n"));
    assert.ok(ms < FALLBACK_MS, `an error before open falls back at once, not after the ${FALLBACK_MS} ms timer (took ${ms} ms)`);
    assert.ok(rec.longpolls.some((r) => r.startsWith("GET ") && r.includes("vsn=2.0.0")), JSON.stringify(rec.longpolls));
    await chatOverLongPoll(t, rec);
    assert.ok(rec.longpolls.some((r) => r.startsWith("POST ") && r.includes("token=")), `pushes are POSTed with the token: ${JSON.stringify(rec.longpolls.slice(0, 5))}`);
    await assertMemorized(rec);

    // Unblock and reload: sessionStorage makes phoenix.js go straight to long-poll.
    await cdp.send("Network.setBlockedURLs", { urls: [] });
    rec.sockets.length = 0;
    await rec.load();
    await assertMemorized(rec);
    await connectWithFallback(rec);
    assert.ok((await logs(rec)).some((l) => l.startsWith("transport: falling back to LongPoll")), (await logs(rec)).join("\n"));
    assert.deepEqual(rec.sockets, [], "a remembered fallback must not try the WebSocket");
    await chatOverLongPoll(t, rec);
    assert.deepEqual(rec.problems, []);
  });

  test("WebSocket opens but passes no frames (heartbeat unanswered): long-poll after longPollFallbackMs; chat works; fallback remembered", { timeout: 60_000 }, async (t) => {
    const rec = await openPage(t);
    // Without connectToServer the route answers the upgrade itself and drops every frame.
    const swallowed = [];
    await rec.page.routeWebSocket(/\/socket\/websocket/, (ws) => {
      ws.onMessage((m) => swallowed.push(String(m)));
    });
    const ms = await connectWithFallback(rec);
    const log = await logs(rec);
    assert.ok(log.some((l) => l.startsWith("transport: WebSocket connected")), `the WebSocket opened first:\n${log.join("\n")}`);
    assert.ok(swallowed.some((m) => m.includes('"phoenix","heartbeat"')), `phoenix.js sent a health-check heartbeat: ${JSON.stringify(swallowed)}`);
    assert.ok(ms >= FALLBACK_MS - 100, `fell back after ${ms} ms, before the ${FALLBACK_MS} ms timer`);
    assert.ok(!log.some((l) => l.startsWith("transport: connected to primary")), log.join("\n"));
    await chatOverLongPoll(t, rec);
    await assertMemorized(rec);
    assert.deepEqual(rec.problems, []);
  });
});
