// The nodes of the cluster under test, and phoenix.js helpers that pick a
// node. internal/interop/cluster/run.sh starts three test apps on one
// broker and sets PYRE_CLUSTER_URLS (their base URLs, comma-separated) and
// PYRE_BROKER (redis or nats).

import { Socket } from "phoenix";
import WebSocket from "ws";

const raw = process.env.PYRE_CLUSTER_URLS;
if (!raw) {
  throw new Error("PYRE_CLUSTER_URLS is not set: run internal/interop/cluster/run.sh, or start three test apps on one broker (cd examples && go run ./testapp -addr 127.0.0.1:PORT -pubsub redis://127.0.0.1:6379 -node node-N -secret S) and set PYRE_CLUSTER_URLS=http://127.0.0.1:A,http://127.0.0.1:B,http://127.0.0.1:C and PYRE_BROKER=redis");
}

/** Base URLs of node-1, node-2 and node-3 (no trailing slash). */
export const NODES = raw.split(",").map((u) => u.trim().replace(/\/+$/, ""));
if (NODES.length !== 3) throw new Error(`PYRE_CLUSTER_URLS must list three nodes, got ${JSON.stringify(raw)}`);

/** The broker linking the nodes, for test names. */
export const BROKER = process.env.PYRE_BROKER || "unknown broker";

/** HTTP request to node i (0-based), bounded in time. Returns {status, body, headers}. */
export async function http(i, path, { method = "GET", body, headers = {}, timeoutMs = 5000 } = {}) {
  const res = await fetch(NODES[i] + path, { method, body, headers, signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** POST /broadcast?topic=T&event=E on node i with a JSON body. */
export function broadcast(i, topic, event, body = {}) {
  const q = new URLSearchParams({ topic, event });
  return http(i, `/broadcast?${q}`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
}

let counter = 0;
/** A name unique to this run, so tests never see each other's traffic. */
export function uniq(prefix) {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * A phoenix.js Socket on node i's /socket (WebSocket from `ws` unless
 * transport is given: Node 20 has no global WebSocket) with short
 * backoffs, connected, and disconnected after the test. It records every
 * open and close (close codes) in socket.opens and socket.closes.
 */
export function newSocket(t, i, { transport = WebSocket, params = {} } = {}) {
  const socket = new Socket(`${NODES[i].replace(/^http/, "ws")}/socket`, {
    transport,
    params,
    timeout: 3000,
    reconnectAfterMs: () => 50,
    rejoinAfterMs: () => 50,
  });
  if (socket.transport !== transport) throw new Error(`phoenix.js did not take the ${transport.name} transport`);
  socket.opens = 0;
  socket.closes = [];
  socket.onOpen(() => { socket.opens += 1; });
  socket.onClose((e) => { socket.closes.push(e?.code); });
  t.after(() => new Promise((resolve) => {
    const timer = setTimeout(resolve, 3000);
    socket.disconnect(() => { clearTimeout(timer); resolve(); });
  }));
  socket.connect();
  return socket;
}

/** Runs executor(resolve, reject) and rejects after ms. what: a string, or a function giving one when it fails. */
export function within(ms, what, executor) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${typeof what === "function" ? what() : what}`)), ms);
    executor((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

/** Joins and resolves with {status, response} of the join reply. */
export function join(channel, ms = 5000) {
  return within(ms, `join of ${channel.topic}`, (resolve) => {
    channel.join()
      .receive("ok", (response) => resolve({ status: "ok", response }))
      .receive("error", (response) => resolve({ status: "error", response }))
      .receive("timeout", () => resolve({ status: "timeout" }));
  });
}

/** Pushes and resolves with {status, response} or {status: "timeout"}. */
export function push(channel, event, payload, timeout = 3000) {
  return within(timeout + 2000, `reply to ${event}`, (resolve) => {
    channel.push(event, payload, timeout)
      .receive("ok", (response) => resolve({ status: "ok", response }))
      .receive("error", (response) => resolve({ status: "error", response }))
      .receive("timeout", () => resolve({ status: "timeout" }));
  });
}

/**
 * Records every `event` payload that reaches channel, from now on, in
 * rec.got; rec.next(pred, ms, what) resolves with the first recorded (or
 * later) payload matching pred.
 */
export function record(channel, event) {
  const rec = { got: [], waiters: new Set() };
  channel.on(event, (payload) => {
    rec.got.push(payload);
    for (const w of rec.waiters) w();
  });
  rec.next = (pred, ms = 5000, what = `${event} on ${channel.topic}`) => within(ms, () => `${what}; got ${JSON.stringify(rec.got)}`, (resolve) => {
    const check = () => {
      const p = rec.got.find(pred);
      if (p !== undefined) {
        rec.waiters.delete(check);
        resolve(p);
      }
    };
    rec.waiters.add(check);
    check();
  });
  return rec;
}

/** Polls pred every 20 ms until it holds, for at most ms. what: a string, or a function giving one when it fails. */
export async function eventually(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === "function" ? what() : what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
