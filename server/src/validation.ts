import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { createValidator, violationsToProto } from "@bufbuild/protovalidate";
import { Code, ConnectError } from "@connectrpc/connect";
import { compileQuickCheck, type QuickCheck } from "./quick-validation.ts";

/** Checks a message against the protovalidate rules in its proto; undefined when valid. */
export type CheckMessage = <Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
) => ConnectError | undefined;

/**
 * One validator for the process: it compiles each message's rules once and caches them.
 * A violation becomes INVALID_ARGUMENT naming the field, with the violations as an error
 * detail (buf.validate.Violations) so a form can put each message beside its input.
 * Messages with simple rules are first given a quick check (quick-validation.ts): one that
 * passes it is valid; anything else gets protovalidate's verdict.
 */
export function createMessageChecker(): CheckMessage {
  const validator = createValidator();
  const quickChecks = new Map<DescMessage, QuickCheck | undefined>();
  return (schema, message) => {
    let quick = quickChecks.get(schema);
    if (quick === undefined && !quickChecks.has(schema)) {
      quick = compileQuickCheck(schema);
      quickChecks.set(schema, quick);
    }
    if (quick?.(message)) return undefined;
    const result = validator.validate(schema, message);
    switch (result.kind) {
      case "valid":
        return undefined;
      case "invalid": {
        const [value, desc] = violationsToProto(result.error.violations);
        const text = result.error.violations.map((v) => v.toString()).join("; ");
        return new ConnectError(text, Code.InvalidArgument, undefined, [{ desc, value }]);
      }
      case "error":
        return new ConnectError(
          "request validation failed",
          Code.Internal,
          undefined,
          undefined,
          result.error,
        );
    }
  };
}
