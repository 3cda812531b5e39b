// The test app's plain HTTP endpoints (examples/testapp/README.md, "What it serves").

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { broadcast, http } from "./lib/env.mjs";

const T = { timeout: 10_000 };

describe("HTTP endpoints", () => {
  test("GET /healthz answers 200 ok", T, async () => {
    const res = await http("/healthz");
    assert.equal(res.status, 200);
    assert.equal(res.body.trim(), "ok");
  });

  test("unknown paths answer 404", T, async () => {
    for (const path of ["/nope", "/socket/nope", "/broadcast/extra"]) {
      assert.equal((await http(path)).status, 404, path);
    }
  });

  test("POST /broadcast with topic, event and a JSON body answers 200 ok", T, async () => {
    const res = await broadcast("room:nobody-listens", "news", { a: 1 });
    assert.equal(res.status, 200);
    assert.equal(res.body.trim(), "ok");
  });

  test("POST /broadcast with an empty body answers 200", T, async () => {
    const res = await broadcast("room:nobody-listens", "news", undefined);
    assert.equal(res.status, 200, res.body);
  });

  test("POST /broadcast answers 400 when topic or event is missing or the body is not JSON", T, async () => {
    const cases = [
      ["no topic", undefined, "e", { a: 1 }],
      ["no event", "room:x", undefined, { a: 1 }],
      ["body not JSON", "room:x", "e", "{not json"],
    ];
    for (const [name, topic, event, body] of cases) {
      const res = await broadcast(topic, event, body);
      assert.equal(res.status, 400, `${name}: got ${res.status} ${JSON.stringify(res.body)}`);
    }
  });
});
