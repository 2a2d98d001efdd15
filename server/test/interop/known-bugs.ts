// Server misbehaviour these tests have found. A cell marked with one of these still runs and
// asserts what the spec says; its failure is reported as "known bug" instead of failing the run.
// When a fix lands, the cell passes and the marker can go.

/** An unsupported grpc-encoding is answered UNIMPLEMENTED without the grpc-accept-encoding header. */
export const missingGrpcAcceptEncoding =
  "server bug: UNIMPLEMENTED for an unknown grpc-encoding comes without grpc-accept-encoding";

/**
 * Chat drops what it has not yet delivered when the client half-closes: the server ends the
 * stream as soon as the request stream ends, and a message posted just before (still on its way
 * through the bus, which with Redis is always the case) never reaches the sender's own stream.
 */
export const chatHalfCloseDropsMessages =
  "server bug: Chat ends at the client's half-close without delivering messages just posted on it";
