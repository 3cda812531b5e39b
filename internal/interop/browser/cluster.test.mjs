// The chat page (examples/chat/static) in headless Chromium on two chat
// nodes linked through one Redis: one person per node, each sees the
// other's messages and both names in the online list (phoenix.js Presence
// fed by the presence trackers of both nodes). Uses Debian's chromium
// through playwright-core; never downloads a browser and never skips.
//
// CHAT_CLUSTER_URLS lists the two nodes, comma-separated
// (internal/interop/browser/run.sh starts redis-server and two chat
// servers with -pubsub and -node chat-1 / chat-2).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "./chromium.mjs";
import { openChatPage, send, signIn, waitForMessage, waitForOnline } from "./chatpage.mjs";

const NODES = (process.env.CHAT_CLUSTER_URLS ?? "").split(",").map((u) => u.trim()).filter(Boolean);

describe("chat page on two nodes of one Redis in headless Chromium", () => {
  let browser;

  before(async () => {
    if (NODES.length !== 2) {
      throw new Error(`CHAT_CLUSTER_URLS must list two chat nodes, got ${JSON.stringify(process.env.CHAT_CLUSTER_URLS)}: run internal/interop/browser/run.sh, or start redis-server and two \`cd examples && go run ./chat -addr 127.0.0.1:PORT -static chat/static -phoenix ../node_modules/phoenix/priv/static/phoenix.mjs -pubsub redis://127.0.0.1:6379 -node chat-N\``);
    }
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  const openPage = (name, url) => openChatPage(browser, name, url);

  async function joinAs(p) {
    await signIn(p);
    const host = new URL(p.url).host;
    assert.ok(
      p.sockets.some((u) => new URL(u).host === host && new URL(u).pathname === "/socket/websocket" && /^[\w-]+\.[\w-]+\.[\w-]+$/.test(new URL(u).searchParams.get("token") ?? "")),
      `${p.name}: expected a WebSocket to ${host}/socket/websocket?token=<a signed token>, saw ${JSON.stringify(p.sockets)}`,
    );
  }

  test("ada on chat-1 and bo on chat-2: messages both ways, both online on both pages", { timeout: 90_000 }, async (t) => {
    const ada = await openPage("ada", NODES[0]);
    const bo = await openPage("bo", NODES[1]);
    t.after(async () => {
      await ada.context.close();
      await bo.context.close();
    });

    await joinAs(ada);
    await joinAs(bo);
    await waitForOnline(ada, ["ada", "bo"]);
    await waitForOnline(bo, ["ada", "bo"]);

    // Nobody talks before both lists are full: chat-2 asked Redis for
    // room:lobby's broadcasts at bo's join, before bo's presence crossed
    // to chat-1 (a broadcast right after a join reply can miss a node
    // that has not been subscribed at the broker yet).
    const hello = `hello from chat-1 ${Date.now()}`;
    await send(ada, hello);
    await waitForMessage(bo, "ada", hello);
    await waitForMessage(ada, "ada", hello);

    const reply = `hi from chat-2 ${Date.now()}`;
    await send(bo, reply);
    await waitForMessage(ada, "bo", reply);
    await waitForMessage(bo, "bo", reply);

    // Each page has both messages once, in order.
    for (const p of [ada, bo]) {
      const items = await p.page.$$eval("#messages li", (lis) => lis.map((li) => [li.querySelector(".user")?.textContent, li.querySelector(".body")?.textContent]));
      assert.deepEqual(items, [["ada", hello], ["bo", reply]], `${p.name}'s messages`);
    }

    // bo closes his tab on chat-2: ada sees him leave on chat-1.
    await bo.context.close();
    await waitForOnline(ada, ["ada"]);

    assert.deepEqual([...ada.problems, ...bo.problems], []);
  });
});
