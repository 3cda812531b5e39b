// The transport-independent half of the raw Phoenix wire clients
// (lib/client.mjs on WebSocket, lib/longpoll.mjs on long-poll): ref
// counters, message encoding, and a buffer of received frames that tests
// consume with expect(). A subclass delivers frames with _receive(),
// reports the end of the connection with _closedWith(), and writes frames
// in _write(data, binary).
//
// Refs count from "1" across the connection and join_refs from "11" (so a
// server that mixes them up is caught), as in Phoenix's own
// test/support/websocket_client.exs; each non-join message reuses the
// join_ref of the last join on its topic. V1 clients never transmit
// join_ref, so tests expect null back.

import { decodeText, encodeBinaryPush, encodeText, show } from "./frames.mjs";

export const DEFAULT_EXPECT_MS = 2000;

export class ConnectRefused extends Error {
  constructor(status, body, headers) {
    super(`connect refused: HTTP ${status} ${JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

export class FrameClient {
  constructor(mode, { url, joinRefStart = 11, refStart = 1 }) {
    this.mode = mode;
    this.url = url;
    this.refN = refStart - 1;
    this.joinRefN = joinRefStart - 1;
    this.joinRefs = new Map(); // topic -> join_ref of the last join we sent
    this.buffer = []; // frames received and not yet consumed by expect()
    this.log = []; // every frame received, in order
    this.waiters = new Set();
    this.closeInfo = null;
    this.closed = new Promise((resolve) => { this._resolveClosed = resolve; });
  }

  /** Records a received frame (already decoded) or a protocol problem ({event: "__undecodable__", error}). */
  _receive(f) {
    f.at = Date.now();
    this.log.push(f);
    this.buffer.push(f);
    this._wake();
  }

  /** Decodes a text frame in this client's mode and records it. */
  _receiveText(text) {
    let f;
    try {
      f = decodeText(this.mode, text);
    } catch (err) {
      f = { event: "__undecodable__", error: err.message, raw: text, binary: false };
    }
    this._receive(f);
  }

  /** Records the end of the connection: {code, reason}. */
  _closedWith(code, reason) {
    if (this.closeInfo) return;
    this.closeInfo = { code, reason, at: Date.now() };
    this._resolveClosed(this.closeInfo);
    this._wake();
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
    this._write(encodeText(this.mode, m), false);
    return m;
  }

  /** Sends a binary push (kind 0); payload is bytes. */
  sendBinary(msg) {
    const m = { ...msg };
    if (!("join_ref" in m)) m.join_ref = this.joinRefs.get(m.topic) ?? null;
    this._write(encodeBinaryPush(m), true);
    return m;
  }

  /** Sends raw data as one frame, text unless binary is set. */
  sendRaw(data, { binary = false } = {}) {
    this._write(data, binary);
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
    const close = this.closeInfo ? `${this.kind} closed with code ${this.closeInfo.code} ${JSON.stringify(this.closeInfo.reason)}` : `${this.kind} open`;
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
      if (this.closeInfo) throw new Error(`${this.kind} closed while waiting for ${what}; ${this._describe()}`);
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
      const f = this.buffer.find((x) => x.event === "__undecodable__" || pred(x));
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

  /** Waits up to timeoutMs for the server to end the connection. Returns {code, reason, at}. */
  async waitClose(timeoutMs = 2000) {
    let t;
    const timeout = new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`${this.kind} not closed within ${timeoutMs} ms; ${this._describe()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(t);
    }
  }

  get isOpen() {
    return this.closeInfo === null;
  }
}
