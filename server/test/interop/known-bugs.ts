// Server misbehaviour these tests have found. A cell marked with one of these still runs and
// asserts what the spec says; its failure is reported as "known bug" instead of failing the run.
// When a fix lands, the cell passes and the marker can go.

/** fallback.ts answers an unknown gRPC procedure with HEADERS that lack END_STREAM (then an empty DATA frame), so it is no Trailers-Only response and gRPC clients find no status. */
export const unknownProcedureNotTrailersOnly =
  "server bug: the gRPC answer to an unknown procedure is not Trailers-Only (no END_STREAM on its HEADERS)";

/** With PGlite, a handler queued behind a lock still runs its write after answering DEADLINE_EXCEEDED. */
export const pgliteWritesAfterDeadline = process.env.DATABASE_URL
  ? undefined
  : "server bug (PGlite): an update queued behind a lock is applied after the call ended with DEADLINE_EXCEEDED";

/** Undecodable protobuf bytes are answered INTERNAL, a client mistake reported as a server fault. */
export const invalidProtobufIsInternal =
  "server bug: undecodable protobuf is answered INTERNAL instead of INVALID_ARGUMENT";

/** An unsupported grpc-encoding is answered UNIMPLEMENTED without the grpc-accept-encoding header. */
export const missingGrpcAcceptEncoding =
  "server bug: UNIMPLEMENTED for an unknown grpc-encoding comes without grpc-accept-encoding";
