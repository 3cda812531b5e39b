// Raw Phoenix wire clients. RawClient speaks WebSocket frames on `ws`; the
// long-poll client with the same interface is in lib/longpoll.mjs, and both
// share lib/frameclient.mjs (refs, encoding, the expect() buffer).
// TRANSPORTS lists both, so a test body can run once per transport:
//
//   for (const tr of TRANSPORTS) test(`... [${tr.name}]`, async (t) => {
//     const c = await clientPool(t, tr)(mode);
//     ...
//   });

import WebSocket from "ws";
import { wsURL } from "./env.mjs";
import { decodeBinary } from "./frames.mjs";
import { ConnectRefused, FrameClient } from "./frameclient.mjs";
import { LongPollClient } from "./longpoll.mjs";

export { ConnectRefused };

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

export class RawClient extends FrameClient {
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

  constructor(ws, mode, opts) {
    super(mode, opts);
    this.kind = "socket";
    this.transport = "websocket";
    this.ws = ws;
    ws.on("close", (code, reason) => this._closedWith(code, reason.toString("utf8")));
    ws.on("error", () => {}); // surfaced through close
    ws.on("message", (data, isBinary) => {
      if (!isBinary) return this._receiveText(data.toString("utf8"));
      let f;
      try {
        f = decodeBinary(data);
      } catch (err) {
        f = { event: "__undecodable__", error: err.message, raw: Buffer.from(data), binary: true };
      }
      this._receive(f);
    });
  }

  get localPort() {
    return this.ws._socket?.localPort;
  }

  _write(data, binary) {
    this.ws.send(data, { binary });
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

/**
 * The transports a raw client can use. name is also the "transport" value
 * RoomChannel adds to intercepted new_msg pushes (examples/testapp/README.md).
 *  WEBSOCKET: <mount>/websocket. A server-side disconnect closes with 1001.
 *  LONGPOLL: <mount>/longpoll (only /socket serves it on the test app).
 *    The end of the session shows up as a poll answered 410; the client
 *    then reports code 3410 "session_gone", as phoenix.js does.
 */
export const WEBSOCKET = Object.freeze({ name: "websocket", connect: (mode, opts) => RawClient.connect(mode, opts), disconnectCode: 1001 });
export const LONGPOLL = Object.freeze({ name: "longpoll", connect: (mode, opts) => LongPollClient.connect(mode, opts), disconnectCode: 3410 });
export const TRANSPORTS = [WEBSOCKET, LONGPOLL];

/**
 * Returns open(mode, opts), which connects a raw client over `transport`
 * (WEBSOCKET unless given, or opts.transport) and closes every client it
 * opened after the test.
 */
export function clientPool(t, transport = WEBSOCKET) {
  const clients = [];
  t.after(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });
  return async (mode, { transport: tr = transport, ...opts } = {}) => {
    const c = await tr.connect(mode, opts);
    clients.push(c);
    return c;
  };
}
