// Small, checked patches to dependencies, applied after every install (`postinstall`).
// Each names the exact text it replaces; if an upgrade changes that text the install fails
// here, loudly, instead of the patch silently not applying.
import { readFileSync, writeFileSync } from "node:fs";

interface Patch {
  /** Why, in a line: printed when applied. */
  why: string;
  files: string[];
  from: string;
  to: string;
}

const patches: Patch[] = [
  {
    // A request body that is not valid protobuf is the client's mistake: INVALID_ARGUMENT,
    // as connect-es already answers for invalid JSON (design §3: never INTERNAL for a
    // client's mistake). Upstream answers INTERNAL, before any interceptor could remap it.
    why: "@connectrpc/connect: undecodable protobuf is INVALID_ARGUMENT, not INTERNAL",
    // The server loads the ES module build only.
    files: ["node_modules/@connectrpc/connect/dist/esm/protocol/serialization.js"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: source text of the patched file
    from: "throw new ConnectError(`parse binary: ${m}`, Code.Internal);",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: source text of the patched file
    to: "throw new ConnectError(`parse binary: ${m}`, Code.InvalidArgument);",
  },
  // postgres 3.4.9 (porsager/postgres#1154, #1208, unfixed upstream): writes under 1 KB are
  // deferred to a setImmediate; when the server goes away (restart, pg_terminate_backend)
  // closed() nulls the socket first, and the deferred write (often the ROLLBACK that begin()
  // sends itself) throws a TypeError from the immediate: no caller can catch it and the whole
  // process dies. Guarded: a write to a closed connection fails its queries with
  // CONNECTION_CLOSED. Both builds: the server imports src/, require() gets cjs/.
  {
    why: "postgres: a deferred write after the connection closed fails its query instead of crashing the process",
    files: ["node_modules/postgres/src/connection.js", "node_modules/postgres/cjs/src/connection.js"],
    from: `  function nextWrite(fn) {
    const x = socket.write(chunk, fn)`,
    to: `  function nextWrite(fn) {
    if (socket === null) { // switchboard patch: porsager/postgres#1154, #1208
      nextWriteTimer !== null && clearImmediate(nextWriteTimer)
      chunk = nextWriteTimer = null
      const err = Errors.connection('CONNECTION_CLOSED', options)
      query && (queryError(query, err), query = null)
      while (sent.length) queryError(sent.shift(), err)
      fn && fn(err)
      return true
    }
    const x = socket.write(chunk, fn)`,
  },
  {
    // The same teardowns cancel the deferred write but leave its timer handle set and its
    // bytes buffered: the reconnected socket would never flush (write() only schedules when
    // no timer is set) or would send the stale bytes ahead of the startup message.
    why: "postgres: closing a connection drops its unsent bytes and deferred-write timer",
    files: ["node_modules/postgres/src/connection.js", "node_modules/postgres/cjs/src/connection.js"],
    from: `    incomings = null
    clearImmediate(nextWriteTimer)
    socket.removeListener('data', data)`,
    to: `    incomings = null
    clearImmediate(nextWriteTimer)
    nextWriteTimer = chunk = null // switchboard patch
    socket.removeListener('data', data)`,
  },
  {
    why: "postgres: terminating a connection drops its unsent bytes and deferred-write timer",
    files: ["node_modules/postgres/src/connection.js", "node_modules/postgres/cjs/src/connection.js"],
    from: `    clearImmediate(nextWriteTimer)
    if (socket) {`,
    to: `    clearImmediate(nextWriteTimer)
    nextWriteTimer = chunk = null // switchboard patch
    if (socket) {`,
  },
  {
    // gRPC's compression.md: a server that refuses a request's grpc-encoding answers
    // UNIMPLEMENTED *with* grpc-accept-encoding listing what it accepts. connect-es puts the
    // list in the error's metadata, which the gRPC handler then drops.
    why: "@connectrpc/connect: an unsupported grpc-encoding is answered with grpc-accept-encoding",
    files: ["node_modules/@connectrpc/connect/dist/esm/protocol-grpc/handler-factory.js"],
    from: `        if (compression.response) {
            context.responseHeader.set(headerEncoding, compression.response.name);
        }
        // We split the pipeline`,
    to: `        if (compression.response) {
            context.responseHeader.set(headerEncoding, compression.response.name);
        }
        if (compression.error) {
            context.responseHeader.set(headerAcceptEncoding, opt.acceptCompression.map((c) => c.name).join(","));
        }
        // We split the pipeline`,
  },
  // Live streams write batches (server/src/response-batch.ts): a handler yields one item that
  // stands for several response messages, and the pipeline writes their envelopes as one
  // chunk. Without this, every message of a stream passes on its own through the response
  // pipeline (serialize, compress, join, write: each an async generator step) and through every
  // interceptor wrapped around it: with a thousand subscribers on a room that is the whole cost
  // of a fan-out, and a stream that falls behind could never catch up, as each message costs
  // the same. The batch encodes its envelopes itself (each message with the method's own
  // serializer and size limit); compression and joining let them through. No other item is
  // affected: the check is for the batch's own symbol.
  {
    why: "@connectrpc/connect: a response batch is serialized by itself, as envelopes",
    files: ["node_modules/@connectrpc/connect/dist/esm/protocol/async-iterable.js"],
    from: `                        const data = serialization.serialize(chunk);
                        yield yield __await({ flags: 0, data });`,
    to: `                        const encodeEnvelopes = chunk !== null && typeof chunk == "object" ? chunk[Symbol.for("switchboard.encodeEnvelopes")] : undefined; // switchboard patch
                        if (typeof encodeEnvelopes == "function") {
                            yield yield __await({ flags: 0, data: encodeEnvelopes(serialization), joined: true });
                        }
                        else {
                            const data = serialization.serialize(chunk);
                            yield yield __await({ flags: 0, data });
                        }`,
  },
  {
    why: "@connectrpc/connect: a response batch is not compressed as one message",
    files: ["node_modules/@connectrpc/connect/dist/esm/protocol/async-iterable.js"],
    from: "yield yield __await(yield __await(envelopeCompress(env, compression, compressMinBytes)));",
    to: "yield yield __await(env.joined ? env : yield __await(envelopeCompress(env, compression, compressMinBytes))); // switchboard patch",
  },
  {
    why: "@connectrpc/connect: a response batch's envelopes are written as they are",
    files: ["node_modules/@connectrpc/connect/dist/esm/protocol/async-iterable.js"],
    from: "yield yield __await(encodeEnvelope(flags, data));",
    to: "yield yield __await(_c.joined ? data : encodeEnvelope(flags, data)); // switchboard patch",
  },
  // Request streams (client and bidi) are read through one transform instead of three: split
  // the body into envelopes, decompress, parse. Envelopes are views into the chunks that
  // carried them, not copies made one header and one message at a time (connect's decoder
  // also re-measured its whole buffer list for every piece it took). Upstream chains three
  // async generators, so each message of a request stream costs three generator round trips before the handler sees it;
  // in a 100,000-item BatchCreateUsers stream that machinery was the largest share of the
  // server's CPU. Same checks, same errors, same order: the decoder's size limit, a compressed
  // envelope without an agreed encoding, the end-stream flag skipped where the protocol has one,
  // a body that ends inside an envelope.
  {
    why: "@connectrpc/connect: request envelopes are split, decompressed and parsed in one transform",
    files: ["node_modules/@connectrpc/connect/dist/esm/protocol/async-iterable.js"],
    from: "export function transformSplitEnvelope(readMaxBytes) {",
    to: `// switchboard patch: split, decompress and parse request envelopes in one generator
export function transformSplitParseEnvelope(readMaxBytes, compression, serialization, endStreamFlag) {
    return async function* (iterable) {
        // Envelopes are read in place from the chunks (views, not copies); chunks are joined
        // only when an envelope spans them, and only once enough bytes for it have arrived.
        let parts = [];
        let partsLength = 0;
        let need = 5;
        for await (const chunk of iterable) {
            parts.push(chunk);
            partsLength += chunk.byteLength;
            if (partsLength < need) continue;
            const buf = parts.length === 1 ? parts[0] : joinChunks(parts, partsLength);
            let off = 0;
            need = 5;
            while (buf.byteLength - off >= 5) {
                const flags = buf[off];
                const length = ((buf[off + 1] << 24) | (buf[off + 2] << 16) | (buf[off + 3] << 8) | buf[off + 4]) >>> 0;
                assertReadMaxBytes(readMaxBytes, length, true);
                if (buf.byteLength - off - 5 < length) {
                    need = 5 + length;
                    break;
                }
                const env = { flags, data: buf.subarray(off + 5, off + 5 + length) };
                off += 5 + length;
                const plain = compression === null && (flags & 0b00000001) === 0 ? env : await envelopeDecompress(env, compression, readMaxBytes);
                if (endStreamFlag !== undefined && (plain.flags & endStreamFlag) === endStreamFlag) continue;
                yield serialization.parse(plain.data);
            }
            parts = off < buf.byteLength ? [buf.subarray(off)] : [];
            partsLength = buf.byteLength - off;
        }
        if (partsLength > 0) {
            throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
        }
    };
}
function joinChunks(parts, length) {
    const joined = new Uint8Array(length);
    let at = 0;
    for (const part of parts) {
        joined.set(part, at);
        at += part.byteLength;
    }
    return joined;
}
export function transformSplitEnvelope(readMaxBytes) {`,
  },
  {
    why: "@connectrpc/connect: the handlers import the one-transform request reader",
    files: [
      "node_modules/@connectrpc/connect/dist/esm/protocol-grpc/handler-factory.js",
      "node_modules/@connectrpc/connect/dist/esm/protocol-grpc-web/handler-factory.js",
      "node_modules/@connectrpc/connect/dist/esm/protocol-connect/handler-factory.js",
    ],
    from: 'untilFirst, } from "../protocol/async-iterable.js";',
    to: 'untilFirst, transformSplitParseEnvelope, } from "../protocol/async-iterable.js"; // switchboard patch',
  },
  {
    why: "@connectrpc/connect: gRPC request streams are read in one transform",
    files: ["node_modules/@connectrpc/connect/dist/esm/protocol-grpc/handler-factory.js"],
    from: "transformSplitEnvelope(opt.readMaxBytes), transformDecompressEnvelope(compression.request, opt.readMaxBytes), transformParseEnvelope(serialization.getI(type.binary)));",
    to: "transformSplitParseEnvelope(opt.readMaxBytes, compression.request, serialization.getI(type.binary))); // switchboard patch",
  },
  {
    why: "@connectrpc/connect: gRPC-Web request streams are read in one transform",
    files: ["node_modules/@connectrpc/connect/dist/esm/protocol-grpc-web/handler-factory.js"],
    from: "transformSplitEnvelope(opt.readMaxBytes), transformDecompressEnvelope(compression.request, opt.readMaxBytes), transformParseEnvelope(serialization.getI(type.binary), trailerFlag));",
    to: "transformSplitParseEnvelope(opt.readMaxBytes, compression.request, serialization.getI(type.binary), trailerFlag)); // switchboard patch",
  },
  {
    why: "@connectrpc/connect: Connect request streams are read in one transform",
    files: ["node_modules/@connectrpc/connect/dist/esm/protocol-connect/handler-factory.js"],
    from: "transformSplitEnvelope(opt.readMaxBytes), transformDecompressEnvelope(compression.request, opt.readMaxBytes), transformParseEnvelope(serialization.getI(type.binary), endStreamFlag));",
    to: "transformSplitParseEnvelope(opt.readMaxBytes, compression.request, serialization.getI(type.binary), endStreamFlag)); // switchboard patch",
  },
  // protobuf-es encodes base64 with Uint8Array.prototype.toBase64 where the runtime has it
  // (Node 24 does not) and otherwise one string concatenation per character: a gRPC error
  // with details (grpc-status-details-bin: a RetryInfo on every rate-limited call) allocated
  // about 4 KB of strings, 43 MB over the attack suite's 10,000-call burst (heap profile).
  // Node's Buffer encodes natively, with the same alphabets and padding: "base64" pads,
  // "base64url" does not, and std_raw is base64 without its padding. Browsers are unaffected.
  {
    why: "@bufbuild/protobuf: base64 is encoded by Buffer where toBase64 is missing",
    files: [
      "node_modules/@bufbuild/protobuf/dist/esm/wire/base64-encoding.js",
      "node_modules/@bufbuild/protobuf/dist/cjs/wire/base64-encoding.js",
    ],
    from: "const nativeToBase64 = Uint8Array.prototype.toBase64;",
    to: `const nativeToBase64 = Uint8Array.prototype.toBase64 ?? (typeof Buffer == "function" ? function (o) { const s = Buffer.from(this.buffer, this.byteOffset, this.byteLength).toString(o.alphabet); return o.omitPadding ? s.replace(/=+$/, "") : s; } : undefined); // switchboard patch`,
  },
  // sonic-boom (pino's destination) measures the byte length of the chunk it is appending to
  // on every write, to keep chunks under maxWrite (16 KiB). The chunk is a string grown by
  // concatenation, so each measure flattens and scans it again: every log line cost a scan of
  // up to 16 KiB, ~3 µs a line when lines come faster than one write completes (measured),
  // more than all else a small call logs. The chunk's length is kept as it grows instead.
  // (Only a bound on chunk size rides on it: were it ever off, a chunk would be larger or
  // smaller than 16 KiB, and fs.write takes either.) Still so in sonic-boom 5.0.2.
  {
    why: "sonic-boom: a log line no longer rescans the chunk it is appended to",
    files: ["node_modules/sonic-boom/index.js"],
    from: `  if (
    bufs.length === 0 ||
    Buffer.byteLength(bufs[bufs.length - 1]) + dataLen > this.maxWrite
  ) {
    bufs.push(data)
  } else {
    bufs[bufs.length - 1] += data
  }`,
    to: `  if (
    bufs.length === 0 ||
    !(this._lastLen + dataLen <= this.maxWrite) // switchboard patch: the chunk's length, kept
  ) {
    bufs.push(data)
    this._lastLen = dataLen
  } else {
    bufs[bufs.length - 1] += data
    this._lastLen += dataLen
  }`,
  },
];

const root = new URL("..", import.meta.url).pathname;
for (const patch of patches) {
  for (const file of patch.files) {
    const path = root + file;
    const text = readFileSync(path, "utf8");
    if (text.includes(patch.to)) continue;
    if (!text.includes(patch.from)) {
      throw new Error(`patch-dependencies: ${file} no longer contains the patched text (${patch.why})`);
    }
    writeFileSync(path, text.replace(patch.from, patch.to));
  }
  console.log(`patched: ${patch.why}`);
}
