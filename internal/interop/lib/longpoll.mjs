// A raw Phoenix long-poll client (docs/protocol.md, "Long-poll") with the interface of the
// WebSocket RawClient (lib/client.mjs), so one test body runs over both:
//
//  - connect: GET <mount>/longpoll?<params>&vsn=… must answer HTTP 200
//    {"status":410,"token":T,"messages":[]} (a new session), or
//    {"status":403} when connect is refused (→ ConnectRefused(403)).
//  - a poll loop: GET with the token (query param `token`, as phoenix.js
//    1.8.16 sends it, or the x-phoenix-longpoll-token header) answered
//    {"status":200,"token":T,"messages":[…]} (each message one frame's text
//    as a JSON string, delivered in order) or {"status":204,"token":T,
//    "messages":[]}. A 410 means the session is gone: the client reports
//    close code 3410 "session_gone", as phoenix.js does.
//  - sending: frames written in one JS turn are collected and POSTed in
//    order, one POST at a time. V2: an application/x-ndjson body of up to
//    100 lines (text frames as is, binary pushes as standard base64), as
//    phoenix.js does. V1: one frame per POST with content-type
//    application/json, as 1.6-era clients do. Every POST must answer HTTP
//    200 {"status":200}; anything else shows up in expect() as an error.
//
// Every response is checked for the §6.1 basics (HTTP 200, JSON content
// type, no-store, same token); a violation fails the next expect().
//
// Server-to-client binary frames are not carried over long-poll (§3.4,
// §6.5): the server drops them, so a binary reply never arrives here.

import { BASE } from "./env.mjs";
import { ConnectRefused, FrameClient } from "./frameclient.mjs";

const MAX_BATCH = 100; // lines per ndjson POST (phoenix.js 1.8.6+, servers 1.8.9+)
const POLL_TIMEOUT_MS = 20_000; // phoenix.js longpollerTimeout; the server's window is 10 s

/** URL of a mount's long-poll endpoint: params, then vsn, then token (as phoenix.js orders them). */
export function lpURL(mount = "/socket", params = {}, vsn, token) {
  const u = new URL(BASE);
  u.pathname = `${mount.replace(/\/+$/, "")}/longpoll`;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) q.append(k, String(v));
  if (vsn !== undefined && vsn !== null) q.append("vsn", vsn);
  if (token !== undefined && token !== null) q.append("token", token);
  u.search = q.toString();
  return u.toString();
}

/**
 * One long-poll HTTP request. Returns {http, headers, text, json} (json is
 * null when the body is not JSON). Options: path (mount), params, vsn,
 * token (query param), headerToken (x-phoenix-longpoll-token), headers,
 * body, contentType (null sends none), timeoutMs, signal.
 */
export async function lpRequest(method, { path = "/socket", params = {}, vsn = "2.0.0", token, headerToken, headers = {}, body, contentType, timeoutMs = 5000, signal } = {}) {
  const h = { ...headers };
  if (headerToken !== undefined) h["x-phoenix-longpoll-token"] = headerToken;
  if (contentType !== undefined && contentType !== null) h["content-type"] = contentType;
  const signals = [AbortSignal.timeout(timeoutMs)];
  if (signal) signals.push(signal);
  const res = await fetch(lpURL(path, params, vsn, token), { method, headers: h, body, signal: AbortSignal.any(signals) });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON; callers check
  }
  return { http: res.status, headers: res.headers, text, json };
}

/** Problems with the §6.1 basics of a JSON answer, as a list of strings. */
export function jsonAnswerProblems(res) {
  const p = [];
  if (res.http !== 200) p.push(`HTTP status ${res.http}, want 200`);
  if (res.headers.get("content-type") !== "application/json; charset=utf-8") p.push(`content-type ${JSON.stringify(res.headers.get("content-type"))}`);
  if (res.headers.get("cache-control") !== "no-store") p.push(`cache-control ${JSON.stringify(res.headers.get("cache-control"))}`);
  if (res.headers.get("access-control-allow-origin") !== "*") p.push(`access-control-allow-origin ${JSON.stringify(res.headers.get("access-control-allow-origin"))}`);
  if (res.json === null || typeof res.json !== "object") p.push(`body is not a JSON object: ${JSON.stringify(res.text)}`);
  return p;
}

export class LongPollClient extends FrameClient {
  /**
   * Opens a session on mount `path` in `mode`. Options as RawClient.connect,
   * plus tokenIn: "param" (default, phoenix.js 1.8.16) or "header"
   * (x-phoenix-longpoll-token, phoenix main).
   */
  static async connect(mode, { path = "/socket", params = {}, headers = {}, vsn = mode.vsn, joinRefStart = 11, refStart = 1, timeoutMs = 3000, tokenIn = "param" } = {}) {
    const res = await lpRequest("GET", { path, params, vsn, headers: { accept: "application/json", ...headers }, timeoutMs });
    const problems = jsonAnswerProblems(res);
    if (problems.length) throw new Error(`long-poll session GET ${lpURL(path, params, vsn)}: ${problems.join("; ")}`);
    if (res.json.status === 403) throw new ConnectRefused(403, res.text, res.headers);
    const { status, token, messages } = res.json;
    if (status !== 410 || typeof token !== "string" || token === "" || !Array.isArray(messages) || messages.length !== 0) {
      throw new Error(`long-poll session GET: want {"status":410,"token":…,"messages":[]}, got ${res.text}`);
    }
    return new LongPollClient(mode, { url: lpURL(path, params, vsn), path, params, vsn, headers, token, tokenIn, joinRefStart, refStart });
  }

  constructor(mode, { url, path, params, vsn, headers, token, tokenIn, joinRefStart, refStart }) {
    super(mode, { url, joinRefStart, refStart });
    this.kind = "long-poll session";
    this.transport = "longpoll";
    this.path = path;
    this.params = params;
    this.vsn = vsn;
    this.headers = headers;
    this.token = token;
    this.tokenIn = tokenIn;
    this.outq = []; // {data, binary} not POSTed yet
    this.posting = false;
    this.flushTimer = null;
    this.posts = []; // {lines, contentType, status} of every POST, in order
    this.polls = []; // status of every poll, in order
    this.goneToken = null; // the new token a 410 poll handed out
    this.stopped = false;
    this.pollAbort = new AbortController();
    this.polling = this._pollLoop();
  }

  /** Request options carrying this session's token. */
  _tokenOpts(extra = {}) {
    const o = { path: this.path, params: this.params, vsn: this.vsn, ...extra, headers: { ...this.headers, ...(extra.headers ?? {}) } };
    if (this.tokenIn === "header") o.headerToken = this.token;
    else o.token = this.token;
    return o;
  }

  _problem(text) {
    this._receive({ event: "__undecodable__", error: text, raw: text, binary: false });
  }

  async _pollLoop() {
    while (!this.stopped && !this.closeInfo) {
      let res;
      try {
        res = await lpRequest("GET", this._tokenOpts({ headers: { accept: "application/json" }, timeoutMs: POLL_TIMEOUT_MS, signal: this.pollAbort.signal }));
      } catch (err) {
        if (this.stopped) return;
        this._problem(`poll failed: ${err.message}`);
        this._closedWith(1011, `poll failed: ${err.message}`);
        return;
      }
      if (this.stopped) return;
      const problems = jsonAnswerProblems(res);
      if (problems.length) {
        this._problem(`poll answer: ${problems.join("; ")}`);
        this._closedWith(1011, "bad poll answer");
        return;
      }
      const { status, token, messages } = res.json;
      this.polls.push(status);
      if (status === 410) {
        this.goneToken = token;
        if (typeof token !== "string" || token === this.token || !Array.isArray(messages) || messages.length) {
          this._problem(`410 poll answer must carry a new token and no messages: ${res.text}`);
        }
        this._closedWith(3410, "session_gone");
        return;
      }
      if (token !== this.token) this._problem(`poll answered with token ${JSON.stringify(token)}, not the session's ${JSON.stringify(this.token)}: ${res.text}`);
      if (status === 204) {
        if (!Array.isArray(messages) || messages.length !== 0) this._problem(`204 poll answer with messages: ${res.text}`);
        continue;
      }
      if (status !== 200) {
        this._problem(`unexpected poll status ${status}: ${res.text}`);
        this._closedWith(1011, `poll status ${status}`);
        return;
      }
      if (!Array.isArray(messages) || messages.length === 0) {
        this._problem(`200 poll answer without messages: ${res.text}`);
        continue;
      }
      for (const m of messages) {
        if (typeof m !== "string") this._problem(`poll message is not a JSON string (frames are double-encoded): ${JSON.stringify(m)}`);
        else this._receiveText(m);
      }
    }
  }

  _write(data, binary) {
    if (this.stopped) throw new Error("long-poll client is closed");
    if (binary && this.mode.v1) throw new Error("binary pushes need V2 (ndjson) over long-poll");
    this.outq.push({ data, binary });
    if (!this.posting && !this.flushTimer) {
      // Frames written in this JS turn go in one batch, as phoenix.js does.
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        this._flush();
      }, 0);
    }
  }

  async _flush() {
    if (this.posting || this.stopped) return;
    this.posting = true;
    try {
      while (this.outq.length && !this.stopped) {
        let body;
        let contentType;
        let lines;
        if (this.mode.v1) {
          const { data } = this.outq.shift();
          lines = [data.toString()];
          body = lines[0];
          contentType = "application/json";
        } else {
          lines = this.outq.splice(0, MAX_BATCH).map(({ data, binary }) => (binary ? Buffer.from(data).toString("base64") : data.toString()));
          body = lines.join("\n");
          contentType = "application/x-ndjson";
        }
        const post = { lines, contentType, status: null };
        this.posts.push(post);
        let res;
        try {
          res = await this.post(body, { contentType, timeoutMs: 15_000 });
        } catch (err) {
          if (this.stopped) return;
          this._problem(`POST failed: ${err.message}`);
          return;
        }
        post.status = res.json?.status;
        const problems = jsonAnswerProblems(res);
        if (problems.length || res.json.status !== 200 || Object.keys(res.json).length !== 1) {
          this._problem(`POST of ${lines.length} frame(s) answered ${problems.length ? problems.join("; ") : res.text}, want {"status":200}`);
          if (res.json?.status === 410) this._closedWith(3410, "session_gone (POST)");
          return;
        }
      }
    } finally {
      this.posting = false;
    }
  }

  /** POSTs body with this session's token; resolves with lpRequest's result. */
  post(body, { contentType = "application/x-ndjson", headers = {}, timeoutMs = 5000 } = {}) {
    return lpRequest("POST", this._tokenOpts({ body, contentType, headers, timeoutMs }));
  }

  /** Resolves when every frame written so far has been POSTed (or the client failed). */
  async flushed(timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while ((this.outq.length || this.posting || this.flushTimer) && !this.stopped && !this.closeInfo) {
      if (Date.now() > deadline) throw new Error(`frames not POSTed within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Stops polling and sending. The server ends the session on its own once no poll comes (1.5–3 windows). */
  async close() {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.flushTimer);
    this.pollAbort.abort();
    this._closedWith(1000, "client closed");
    await this.polling.catch(() => {});
  }
}
