// Phoenix wire formats (docs/protocol.md, "Frames"), written out by hand so the tests
// do not depend on the serializer under test.
//
// A decoded frame is always
//   {join_ref, ref, topic, event, payload, binary, kind, raw}
// where binary frames have payload Buffer (kind 0 push, 2 broadcast) or
// {status, response: Buffer} (kind 1 reply), and text frames keep the parsed
// JSON value in `json` so shape checks (V1 keys) can look at it.

/** The serializer modes every behaviour runs in. */
export const V1 = Object.freeze({ name: "V1", vsn: "1.0.0", v1: true });
export const V2 = Object.freeze({ name: "V2", vsn: "2.0.0", v1: false });
export const MODES = [V1, V2];

/** Encodes a message as a text frame for the given mode. */
export function encodeText(mode, msg) {
  const { join_ref = null, ref = null, topic, event, payload = {} } = msg;
  if (mode.v1) {
    const obj = { topic, event, payload, ref };
    // V1 clients never send join_ref; a test may add one with v1_join_ref
    // (the V1 decoder reads the key when present, docs/protocol.md, "V1 JSON").
    if (msg.v1_join_ref !== undefined) obj.join_ref = msg.v1_join_ref;
    return JSON.stringify(obj);
  }
  return JSON.stringify([join_ref, ref, topic, event, payload]);
}

function u8(n, what) {
  if (n > 255) throw new Error(`${what} is ${n} bytes, over 255`);
  return n;
}

/**
 * Client -> server binary push (kind 0), §3.3:
 * 00 J R T E join_ref ref topic event payload
 */
export function encodeBinaryPush({ join_ref = null, ref = null, topic, event, payload }) {
  const j = Buffer.from(join_ref ?? "", "utf8");
  const r = Buffer.from(ref ?? "", "utf8");
  const t = Buffer.from(topic, "utf8");
  const e = Buffer.from(event, "utf8");
  const p = Buffer.from(payload);
  const head = Buffer.from([0, u8(j.length, "join_ref"), u8(r.length, "ref"), u8(t.length, "topic"), u8(e.length, "event")]);
  return Buffer.concat([head, j, r, t, e, p]);
}

/** Server -> client push (kind 0): 00 J T E join_ref topic event payload. */
export function layoutServerPush({ join_ref, topic, event, payload }) {
  const j = Buffer.from(join_ref ?? "", "utf8");
  const t = Buffer.from(topic, "utf8");
  const e = Buffer.from(event, "utf8");
  return Buffer.concat([Buffer.from([0, j.length, t.length, e.length]), j, t, e, Buffer.from(payload)]);
}

/** Server -> client reply (kind 1): 01 J R T S join_ref ref topic status payload. */
export function layoutServerReply({ join_ref, ref, topic, status, payload }) {
  const j = Buffer.from(join_ref ?? "", "utf8");
  const r = Buffer.from(ref ?? "", "utf8");
  const t = Buffer.from(topic, "utf8");
  const s = Buffer.from(status, "utf8");
  return Buffer.concat([Buffer.from([1, j.length, r.length, t.length, s.length]), j, r, t, s, Buffer.from(payload)]);
}

/** Server -> client broadcast (kind 2): 02 T E topic event payload. */
export function layoutServerBroadcast({ topic, event, payload }) {
  const t = Buffer.from(topic, "utf8");
  const e = Buffer.from(event, "utf8");
  return Buffer.concat([Buffer.from([2, t.length, e.length]), t, e, Buffer.from(payload)]);
}

/** Decodes a server -> client binary frame. Throws on a malformed frame. */
export function decodeBinary(buf) {
  const b = Buffer.from(buf);
  const need = (n) => {
    if (b.length < n) throw new Error(`binary frame too short: ${b.length} bytes, need ${n}: ${b.toString("hex")}`);
  };
  need(1);
  const kind = b[0];
  let off;
  const take = (n) => {
    need(off + n);
    const s = b.subarray(off, off + n).toString("utf8");
    off += n;
    return s;
  };
  switch (kind) {
    case 0: {
      need(4);
      const [jl, tl, el] = [b[1], b[2], b[3]];
      off = 4;
      const join_ref = take(jl);
      const topic = take(tl);
      const event = take(el);
      return { kind, binary: true, join_ref: join_ref === "" ? null : join_ref, ref: null, topic, event, payload: b.subarray(off), raw: b };
    }
    case 1: {
      need(5);
      const [jl, rl, tl, sl] = [b[1], b[2], b[3], b[4]];
      off = 5;
      const join_ref = take(jl);
      const ref = take(rl);
      const topic = take(tl);
      const status = take(sl);
      return {
        kind, binary: true, join_ref: join_ref === "" ? null : join_ref, ref, topic, event: "phx_reply",
        payload: { status, response: b.subarray(off) }, raw: b,
      };
    }
    case 2: {
      need(3);
      const [tl, el] = [b[1], b[2]];
      off = 3;
      const topic = take(tl);
      const event = take(el);
      return { kind, binary: true, join_ref: null, ref: null, topic, event, payload: b.subarray(off), raw: b };
    }
    default:
      throw new Error(`unknown binary kind ${kind}: ${b.toString("hex")}`);
  }
}

/** Decodes a server -> client text frame in the given mode. Throws on a bad shape. */
export function decodeText(mode, text) {
  const json = JSON.parse(text);
  if (mode.v1) {
    if (json === null || typeof json !== "object" || Array.isArray(json)) {
      throw new Error(`V1 frame is not a JSON object: ${text}`);
    }
    return {
      kind: null, binary: false, json, raw: text,
      join_ref: Object.prototype.hasOwnProperty.call(json, "join_ref") ? json.join_ref : null,
      ref: json.ref, topic: json.topic, event: json.event, payload: json.payload,
    };
  }
  if (!Array.isArray(json) || json.length !== 5) {
    throw new Error(`V2 frame is not a 5-element JSON array: ${text}`);
  }
  const [join_ref, ref, topic, event, payload] = json;
  return { kind: null, binary: false, json, raw: text, join_ref, ref, topic, event, payload };
}

/** A short printable form of a frame for assertion messages. */
export function show(f) {
  if (!f) return String(f);
  if (f.binary) {
    return `binary(kind ${f.kind}) ${f.raw.toString("hex")} = ` +
      JSON.stringify([f.join_ref, f.ref, f.topic, f.event, f.kind === 1 ? { status: f.payload.status, response: `<${f.payload.response.toString("hex")}>` } : `<${f.payload.toString("hex")}>`]);
  }
  return f.raw;
}

/** The 5-tuple of a frame, for deepStrictEqual against an expected tuple. */
export function tuple(f) {
  return [f.join_ref, f.ref, f.topic, f.event, f.payload];
}
