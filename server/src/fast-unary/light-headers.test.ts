import assert from "node:assert/strict";
import { test } from "node:test";
import { LightHeaders } from "./light-headers.ts";

/** The platform Headers' entries (this project's DOM lib has no iterable Headers type). */
function entriesOf(h: Headers): [string, string][] {
  const out: [string, string][] = [];
  h.forEach((value, key) => {
    out.push([key, value]);
  });
  return out;
}

test("reads node request headers like the platform Headers, without pseudo-headers", () => {
  const h = new LightHeaders({
    ":path": "/x",
    ":method": "POST",
    "content-type": "application/proto",
    "x-multi": ["a", "b"],
  });
  assert.equal(h.get("Content-Type"), "application/proto");
  assert.equal(h.get(":path"), null);
  assert.equal(h.get("x-multi"), "a, b");
  assert.deepEqual(
    [...h],
    entriesOf(new Headers({ "content-type": "application/proto", "x-multi": "a, b" })),
  );
});

test("set, append, delete and iteration match the platform Headers", () => {
  const light = new LightHeaders();
  const platform = new Headers();
  for (const h of [light, platform]) {
    h.set("X-B", "1");
    h.append("x-a", "1");
    h.append("X-A", "2");
    h.set("x-c", "3");
    h.delete("X-C");
  }
  assert.deepEqual([...light.entries()], entriesOf(platform));
  assert.deepEqual(
    [...light.keys()],
    entriesOf(platform).map(([k]) => k),
  );
  assert.deepEqual(
    [...light.values()],
    entriesOf(platform).map(([, v]) => v),
  );
  const seen: string[] = [];
  light.forEach((value, key) => {
    seen.push(`${key}=${value}`);
  });
  assert.deepEqual(seen, ["x-a=1, 2", "x-b=1"]);
  assert.equal(light.has("x-b"), true);
  const out: Record<string, string> = {};
  light.copyTo(out, "trailer-");
  assert.deepEqual(out, { "trailer-x-b": "1", "trailer-x-a": "1, 2" });
});

test("a request's headers read the same before and after a change copies them", () => {
  const init = { ":path": "/x", "content-type": "application/proto", "x-multi": ["a", "b"] };
  const h = new LightHeaders(init);
  assert.equal(h.get("X-Multi"), "a, b");
  assert.equal(h.has("content-type"), true);
  assert.equal(h.has(":path"), false);
  assert.equal(h.get("constructor"), null, "no inherited property reads as a header");
  h.set("x-new", "1");
  h.append("x-multi", "c");
  assert.equal(h.get("x-multi"), "a, b, c");
  assert.equal(h.get("content-type"), "application/proto");
  assert.equal(h.has(":path"), false);
  assert.deepEqual(init["x-multi"], ["a", "b"], "the request's own headers are left as they were");
  assert.equal(h.size, 3);
});
