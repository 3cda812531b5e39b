// A raw Phoenix wire client on `ws`, in the spirit of Phoenix's own
// test/support/websocket_client.exs: refs count from "1" across the
// connection, join_refs count from "11" (so a server that mixes them up is
// caught), and each non-join message reuses the join_ref of the last join on
// its topic. V1 clients never transmit join_ref, so tests expect null back.

import WebSocket from "ws";
import { wsURL } from "./env.mjs";
import { decodeBinary, decodeText, encodeBinaryPush, encodeText, show } from "./frames.mjs";

const DEFAULT_EXPECT_MS = 2000;

export class ConnectRefused extends Error {
  constructor(status, body, headers) {
    super(`WebSocket upgrade refused: HTTP ${status} ${JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

/**
 * Opens a WebSocket without completing any Phoenix exchange.
 * Resolves {ok: true, ws} on open, or {ok: false, status, body, headers}
 * when the server answers the upgrade with an ordinary HTTP response.
 */
export function openWS(url, { headers = {}, timeoutMs = 3000 } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, handshakeTimeout: timeoutMs });
    let done = false;
    const finish = (fn, v) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        fn(v);
      }
    };
    const timer = setTimeout(() => {
      ws.terminate();
      finish(reject, new Error(`WebSocket open to ${url} timed out after ${timeoutMs} ms`));
    }, timeoutMs + 500);
    ws.on("open", () => finish(resolve, { ok: true, ws }));
    ws.on("unexpected-response", (req, res) => {
      const chunks = [];
      const sock = res.socket; // detached from req once the response ends
      res.on("data", (c) => chunks.push(c));
      const end = () => {
        req.destroy();
        sock?.destroy();
        finish(resolve, { ok: false, status: res.statusCode, body: Buffer.concat(chunks).toString("utf8"), headers: res.headers });
      };
      res.on("end", end);
      res.on("error", end);
      res.on("aborted", end);
    });
    ws.on("error", (err) => finish(reject, err));
  });
}

export class RawClient {
  /**
   * Connects to mount `path` in `mode` (V1/V2). Options:
   *  params: connect params; headers: extra request headers;
   *  vsn: override the vsn sent (null omits it); joinRefStart, refStart.
   * Throws ConnectRefused if the upgrade is answered with HTTP.
   */
  static async connect(mode, { path = "/socket", params = {}, headers = {}, vsn = mode.vsn, joinRefStart = 11, refStart = 1, timeoutMs = 3000 } = {}) {
    const url = wsURL(path, params, vsn);
    const res = await openWS(url, { headers, timeoutMs });
    if (!res.ok) throw new ConnectRefused(res.status, res.body, res.headers);
    return new RawClient(res.ws, mode, { url, joinRefStart, refStart });
  }

  constructor(ws, mode, { url, joinRefStart = 11, refStart = 1 }) {
    this.ws = ws;
    this.mode = mode;
    this.url = url;
    this.refN = refStart - 1;
    this.joinRefN = joinRefStart - 1;
    this.joinRefs = new Map(); // topic -> join_ref of the last join we sent
    this.buffer = []; // frames received and not yet consumed by expect()
    this.log = []; // every frame received, in order
    this.waiters = new Set();
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString("utf8"), at: Date.now() };
        resolve(this.closeInfo);
        this._wake();
      });
    });
    ws.on("error", () => {}); // surfaced through close
    ws.on("message", (data, isBinary) => {
      let f;
      try {
        f = isBinary ? decodeBinary(data) : decodeText(mode, data.toString("utf8"));
      } catch (err) {
        f = { event: "__undecodable__", error: err.message, raw: isBinary ? Buffer.from(data) : data.toString("utf8"), binary: isBinary };
      }
      f.at = Date.now();
      this.log.push(f);
      this.buffer.push(f);
      this._wake();
    });
  }

  get localPort() {
    return this.ws._socket?.localPort;
  }

  nextRef() {
    this.refN += 1;
    return String(this.refN);
  }

  nextJoinRef() {
    this.joinRefN += 1;
    return String(this.joinRefN);
  }

  /** The join_ref a server must send back for `joinRef` in this mode (null for V1). */
  jr(joinRef) {
    return this.mode.v1 ? null : joinRef;
  }

  /** Sends a message as a text frame; fills join_ref from the topic's last join unless given. */
  send(msg) {
    const m = { ...msg };
    if (!("join_ref" in m)) m.join_ref = this.joinRefs.get(m.topic) ?? null;
    this.ws.send(encodeText(this.mode, m));
    return m;
  }

  /** Sends a binary push (kind 0); payload is bytes. */
  sendBinary(msg) {
    const m = { ...msg };
    if (!("join_ref" in m)) m.join_ref = this.joinRefs.get(m.topic) ?? null;
    this.ws.send(encodeBinaryPush(m), { binary: true });
    return m;
  }

  /** Sends raw data as one frame, text unless binary is set. */
  sendRaw(data, { binary = false } = {}) {
    this.ws.send(data, { binary });
  }

  /** Pushes event on topic with a fresh ref. Returns {join_ref, ref}. */
  push(topic, event, payload = {}, extra = {}) {
    const m = this.send({ topic, event, payload, ref: this.nextRef(), ...extra });
    return { join_ref: m.join_ref, ref: m.ref };
  }

  /** Sends phx_join with a fresh join_ref and ref (distinct counters). Returns {join_ref, ref}. */
  join(topic, payload = {}) {
    const join_ref = this.nextJoinRef();
    const ref = this.nextRef();
    this.joinRefs.set(topic, join_ref);
    // V1 frames carry no join_ref; the server then uses the join's ref internally.
    this.send({ join_ref, ref, topic, event: "phx_join", payload });
    return { join_ref, ref };
  }

  heartbeat() {
    const ref = this.nextRef();
    this.send({ join_ref: null, ref, topic: "phoenix", event: "heartbeat", payload: {} });
    return ref;
  }

  _wake() {
    for (const w of this.waiters) w();
  }

  _wait(ms) {
    return new Promise((resolve) => {
      const w = () => {
        clearTimeout(t);
        this.waiters.delete(w);
        resolve();
      };
      const t = setTimeout(w, ms);
      this.waiters.add(w);
    });
  }

  _describe() {
    const seen = this.log.slice(-20).map((f) => "  " + (f.event === "__undecodable__" ? `UNDECODABLE ${f.error}` : show(f))).join("\n");
    const close = this.closeInfo ? `socket closed with code ${this.closeInfo.code} ${JSON.stringify(this.closeInfo.reason)}` : "socket open";
    return `${close}; last frames received:\n${seen || "  (none)"}`;
  }

  /**
   * Waits for the first buffered or future frame matching pred, removes it
   * from the buffer and returns it. Frames that do not match stay buffered.
   */
  async expect(pred, timeoutMs = DEFAULT_EXPECT_MS, what = "a matching frame") {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buffer.findIndex((f) => f.event !== "__undecodable__" && pred(f));
      if (i >= 0) return this.buffer.splice(i, 1)[0];
      const bad = this.buffer.find((f) => f.event === "__undecodable__");
      if (bad) throw new Error(`undecodable frame while waiting for ${what}: ${bad.error}\n${this._describe()}`);
      const left = deadline - Date.now();
      if (this.closeInfo) throw new Error(`socket closed while waiting for ${what}; ${this._describe()}`);
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${this._describe()}`);
      await this._wait(left);
    }
  }

  /** The next frame in arrival order (optionally only among frames on `topic`). */
  async expectNext(timeoutMs = DEFAULT_EXPECT_MS, topic) {
    return this.expect((f) => topic === undefined || f.topic === topic, timeoutMs, topic ? `the next frame on ${topic}` : "the next frame");
  }

  /** Asserts that no frame matching pred arrives within ms (already buffered ones count). */
  async expectNone(ms = 300, pred = () => true, what = "any frame") {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = this.buffer.find(pred);
      if (f) throw new Error(`expected no ${what} but got: ${f.event === "__undecodable__" ? f.error : show(f)}`);
      const left = deadline - Date.now();
      if (left <= 0 || this.closeInfo) return;
      await this._wait(left);
    }
  }

  /** Frames on topic still in the buffer. */
  pending(topic) {
    return this.buffer.filter((f) => topic === undefined || f.topic === topic);
  }

  /** Waits up to timeoutMs for the server to close the socket. Returns {code, reason, at}. */
  async waitClose(timeoutMs = 2000) {
    let t;
    const timeout = new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`socket not closed within ${timeoutMs} ms; ${this._describe()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(t);
    }
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Closes from the client side and waits (bounded) for the close to finish. */
  async close() {
    if (this.closeInfo) return;
    try {
      this.ws.close(1000);
    } catch {
      // already closing
    }
    let t;
    await Promise.race([this.closed, new Promise((r) => { t = setTimeout(r, 1000); })]);
    clearTimeout(t);
    if (!this.closeInfo) this.ws.terminate();
  }
}

/** Runs fn with clients opened through open(), closing all of them afterwards. */
export function clientPool(t) {
  const clients = [];
  t.after(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });
  return async (mode, opts) => {
    const c = await RawClient.connect(mode, opts);
    clients.push(c);
    return c;
  };
}
