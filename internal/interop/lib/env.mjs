// Where the server under test is, and small HTTP helpers.

const raw = process.env.PYRE_URL;
if (!raw) {
  throw new Error("PYRE_URL is not set: start the test app (cd examples && go run ./testapp -addr 127.0.0.1:PORT) and set PYRE_URL=http://127.0.0.1:PORT, or use internal/interop/run.sh");
}

/** Base URL of the server under test, e.g. http://127.0.0.1:4000 (no trailing slash). */
export const BASE = raw.replace(/\/+$/, "");
const base = new URL(BASE);
export const HOST = base.hostname;
export const PORT = Number(base.port || (base.protocol === "https:" ? 443 : 80));

/** ws:// URL of a socket mount's WebSocket endpoint with query params (vsn last, as phoenix.js does). */
export function wsURL(mount = "/socket", params = {}, vsn) {
  const u = new URL(BASE);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  u.pathname = `${mount.replace(/\/+$/, "")}/websocket`;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) q.append(k, String(v));
  if (vsn !== undefined && vsn !== null) q.append("vsn", vsn);
  u.search = q.toString();
  return u.toString();
}

/** HTTP request to the server with a bounded time. Returns {status, body, headers}. */
export async function http(path, { method = "GET", body, headers = {}, timeoutMs = 5000 } = {}) {
  const res = await fetch(BASE + path, { method, body, headers, signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** POST /broadcast?topic=T&event=E with a JSON body (string or object, undefined for an empty body). */
export function broadcast(topic, event, body) {
  const q = new URLSearchParams();
  if (topic !== undefined) q.set("topic", topic);
  if (event !== undefined) q.set("event", event);
  const data = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  return http(`/broadcast?${q}`, { method: "POST", body: data, headers: { "content-type": "application/json" } });
}

let counter = 0;
/** A topic suffix unique to this run, so tests never see each other's traffic. */
export function uniq(prefix = "room:t") {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Resolves after ms (only for pacing inside bounded loops, never as a synchronisation point). */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
