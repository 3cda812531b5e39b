// The chat page (examples/chat/static) in headless Chromium: two people join
// room:lobby and see each other in the online list, alice sends a message,
// both see it, and alice sees bob leave when he closes his tab. Uses Debian's chromium
// through playwright-core; never downloads a browser and never skips.
//
// CHAT_URL points at a running chat server (internal/interop/browser/run.sh
// starts one).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchChromium } from "./chromium.mjs";
import { STEP_MS, openChatPage, signIn, waitForMessage, waitForOnline } from "./chatpage.mjs";

const CHAT_URL = process.env.CHAT_URL;

describe("chat page in headless Chromium", () => {
  let browser;

  before(async () => {
    if (!CHAT_URL) throw new Error("CHAT_URL is not set: run internal/interop/browser/run.sh, or start `cd examples && go run ./chat -addr 127.0.0.1:PORT -static chat/static -phoenix ../node_modules/phoenix/priv/static/phoenix.mjs` and set CHAT_URL=http://127.0.0.1:PORT");
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  const openPage = (name) => openChatPage(browser, name, CHAT_URL);

  async function joinAs(p) {
    await signIn(p);
    assert.ok(
      p.sockets.some((u) => new URL(u).pathname === "/socket/websocket" && /^[\w-]+\.[\w-]+\.[\w-]+$/.test(new URL(u).searchParams.get("token") ?? "") && new URL(u).searchParams.get("vsn") === "2.0.0"),
      `${p.name}: expected a WebSocket to /socket/websocket?token=<a signed token>&vsn=2.0.0, saw ${JSON.stringify(p.sockets)}`,
    );
  }

  test("alice and bob join room:lobby; messages reach both pages", { timeout: 90_000 }, async (t) => {
    const alice = await openPage("alice");
    const bob = await openPage("bob");
    t.after(async () => {
      await alice.context.close();
      await bob.context.close();
    });

    assert.equal(await alice.page.textContent("#status"), "not connected");
    await joinAs(alice);
    await waitForOnline(alice, ["alice"]);
    await joinAs(bob);
    // Who is online (phoenix.js Presence): each page lists both.
    await waitForOnline(alice, ["alice", "bob"]);
    await waitForOnline(bob, ["alice", "bob"]);

    const hello = `hello from alice ${Date.now()}`;
    await alice.page.fill("#body", hello);
    await alice.page.click("#send");
    await waitForMessage(alice, "alice", hello);
    await waitForMessage(bob, "alice", hello);
    await alice.page.waitForFunction(() => document.querySelector("#body").value === "", null, { timeout: STEP_MS });

    // Enter sends too.
    const reply = "hi alice";
    await bob.page.fill("#body", reply);
    await bob.page.press("#body", "Enter");
    await waitForMessage(alice, "bob", reply);
    await waitForMessage(bob, "bob", reply);

    // Each message is an li with the user and the body, in order.
    const items = await bob.page.$$eval("#messages li", (lis) => lis.map((li) => [li.querySelector(".user")?.textContent, li.querySelector(".body")?.textContent]));
    assert.deepEqual(items, [["alice", hello], ["bob", reply]]);

    const dir = await mkdtemp(join(tmpdir(), "pyre-chat-"));
    const shot = join(dir, "alice.png");
    await alice.page.screenshot({ path: shot, fullPage: true });
    await bob.page.screenshot({ path: join(dir, "bob.png"), fullPage: true });
    t.diagnostic(`screenshots: ${dir}`);
    assert.ok(existsSync(shot));

    // bob closes his tab: alice sees him leave.
    await bob.context.close();
    await waitForOnline(alice, ["alice"]);

    assert.deepEqual([...alice.problems, ...bob.problems], []);
  });
});
