// Server misbehaviour these tests have found. A cell marked with one of these still runs and
// asserts what the spec says; its failure is reported as "known bug" instead of failing the run.
// When a fix lands, the cell passes and the marker can go.

/** An unsupported grpc-encoding is answered UNIMPLEMENTED without the grpc-accept-encoding header. */
export const missingGrpcAcceptEncoding =
  "server bug: UNIMPLEMENTED for an unknown grpc-encoding comes without grpc-accept-encoding";
