// The chat page (examples/chat/static) driven in a browser page: what the
// single-node and the cluster tests both do with it.

export const STEP_MS = 10_000;

/**
 * Opens url in a fresh browser context as name, recording page errors,
 * console errors, HTTP errors and the WebSockets the page opens.
 */
export async function openChatPage(browser, name, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  const problems = [];
  const sockets = [];
  page.on("pageerror", (err) => problems.push(`${name}: page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`${name}: console error: ${msg.text()}`);
  });
  page.on("response", (res) => {
    if (res.status() >= 400) problems.push(`${name}: HTTP ${res.status()} for ${res.url()}`);
  });
  page.on("websocket", (ws) => sockets.push(ws.url()));
  await page.goto(url, { waitUntil: "load" });
  return { name, url, context, page, problems, sockets };
}

/** Joins the room as p.name and waits until the page says "joined". */
export async function signIn(p) {
  await p.page.fill("#name", p.name);
  await p.page.click("#join");
  await p.page.waitForFunction(() => document.querySelector("#status")?.textContent.trim() === "joined", null, { timeout: STEP_MS });
}

/** Sends body from p's page and waits until the input is cleared. */
export async function send(p, body) {
  await p.page.fill("#body", body);
  await p.page.click("#send");
  await p.page.waitForFunction(() => document.querySelector("#body").value === "", null, { timeout: STEP_MS });
}

/** Waits until p's page lists a message of user with body. */
export async function waitForMessage(p, user, body) {
  try {
    await p.page.waitForFunction(
      ([u, b]) => [...document.querySelectorAll("#messages li")].some((li) => li.querySelector(".user")?.textContent === u && li.querySelector(".body")?.textContent === b),
      [user, body],
      { timeout: STEP_MS },
    );
  } catch (err) {
    const items = await p.page.$$eval("#messages li", (lis) => lis.map((li) => li.textContent));
    throw new Error(`${p.name} did not see ${user}: ${body}; #messages has ${JSON.stringify(items)}; ${err.message}`);
  }
}

/** Waits until p's online list shows exactly names (sorted). */
export async function waitForOnline(p, names) {
  const want = [...names].sort();
  try {
    await p.page.waitForFunction(
      (w) => {
        const got = [...document.querySelectorAll("#online li")].map((li) => li.firstChild?.textContent.trim()).sort();
        return JSON.stringify(got) === JSON.stringify(w) && document.querySelector("#online-count")?.textContent === String(w.length);
      },
      want,
      { timeout: STEP_MS },
    );
  } catch (err) {
    const items = await p.page.$$eval("#online li", (lis) => lis.map((li) => li.textContent));
    throw new Error(`${p.name}: online list ${JSON.stringify(items)}, want ${JSON.stringify(want)}; ${err.message}`);
  }
}
