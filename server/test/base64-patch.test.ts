// The protobuf-es base64 patch (scripts/patch-dependencies.ts): Buffer encodes where
// Uint8Array.prototype.toBase64 is missing. Same output as protobuf-es's own encoder must give:
// RFC 4648's vectors, the URL alphabet without padding, and round trips through its decoder.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import { base64Decode, base64Encode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";

const bytes = (s: string) => new TextEncoder().encode(s);

test("the patch is in place, and encodes a view, not its whole buffer", () => {
  const source = readFileSync(
    fileURLToPath(import.meta.resolve("@bufbuild/protobuf/wire")).replace(/index\.js$/, "base64-encoding.js"),
    "utf8",
  );
  assert.match(source, /switchboard patch/, "npm install applies scripts/patch-dependencies.ts");
  // A view into a larger buffer: the patch must encode the view, not its whole buffer.
  const whole = bytes("xxfooxx");
  assert.equal(base64Encode(whole.subarray(2, 5)), "Zm9v");
});

test("RFC 4648 test vectors, with and without padding", () => {
  const vectors: [string, string][] = [
    ["", ""],
    ["f", "Zg=="],
    ["fo", "Zm8="],
    ["foo", "Zm9v"],
    ["foob", "Zm9vYg=="],
    ["fooba", "Zm9vYmE="],
    ["foobar", "Zm9vYmFy"],
  ];
  for (const [text, encoded] of vectors) {
    assert.equal(base64Encode(bytes(text)), encoded, text);
    assert.equal(base64Encode(bytes(text), "std_raw"), encoded.replace(/=+$/, ""), `${text} raw`);
  }
});

test("the URL alphabet: - and _ for + and /, no padding", () => {
  const data = new Uint8Array([0xfb, 0xff, 0xbf]);
  assert.equal(base64Encode(data), "+/+/");
  assert.equal(base64Encode(data, "url"), "-_-_");
  assert.equal(base64Encode(new Uint8Array([0xfb, 0xff]), "url"), "-_8");
  assert.equal(base64Encode(new Uint8Array([0xfb, 0xff])), "+/8=");
});

test("random bytes round trip through protobuf-es's decoder in every encoding", () => {
  for (let n = 0; n < 200; n++) {
    const data = new Uint8Array(randomBytes(n));
    for (const encoding of ["std", "std_raw", "url"] as const) {
      assert.deepEqual(base64Decode(base64Encode(data, encoding)), data, `${n} bytes, ${encoding}`);
    }
  }
});

test("grpc-status-details-bin of a rate-limit error decodes to its RetryInfo", () => {
  const retry = create(RetryInfoSchema, { retryDelay: { seconds: 1n, nanos: 250_000_000 } });
  const error = new ConnectError("rate limit exceeded", Code.ResourceExhausted, undefined, [
    { desc: RetryInfoSchema, value: retry },
  ]);
  const trailer = setTrailerStatus(new Headers(), error);
  const value = trailer.get("grpc-status-details-bin") ?? "";
  assert.match(value, /^[A-Za-z0-9+/]+$/, "unpadded standard alphabet, as gRPC binary headers are");
  const decoded = base64Decode(value);
  assert.ok(decoded.byteLength > 0);
  assert.ok(Buffer.from(decoded).includes(Buffer.from(toBinary(RetryInfoSchema, retry))));
});
