// Helpers for tests that drive the official phoenix.js client.

import assert from "node:assert/strict";
import { Socket } from "phoenix";
import { BASE } from "./env.mjs";

export const WS_BASE = BASE.replace(/^http/, "ws");

/**
 * A phoenix.js Socket on the test app's /socket with transport tr.transport
 * and short backoffs, disconnected after the test. opts are more Socket
 * options.
 */
export function newSocket(t, tr, opts = {}) {
  const socket = new Socket(`${WS_BASE}/socket`, {
    transport: tr.transport,
    timeout: 3000,
    reconnectAfterMs: () => 50,
    rejoinAfterMs: () => 50,
    ...opts,
  });
  assert.equal(socket.transport, tr.transport, `phoenix.js must use the ${tr.name} transport`);
  t.after(() => new Promise((resolve) => {
    const timer = setTimeout(resolve, 3000);
    socket.disconnect(() => { clearTimeout(timer); resolve(); });
  }));
  return socket;
}

/** Runs executor(resolve, reject) and rejects after ms. */
export function within(ms, what, executor) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    executor((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}
