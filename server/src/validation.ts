import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { createValidator, type Validator, violationsToProto } from "@bufbuild/protovalidate";
import { Code, ConnectError } from "@connectrpc/connect";
import { compileQuickCheck, type QuickCheck } from "./quick-validation.ts";

/** Checks a message against the protovalidate rules in its proto; undefined when valid. */
export interface CheckMessage {
  <Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): ConnectError | undefined;
  /**
   * Compiles the rules of these messages, and of every message they contain, now. protovalidate
   * compiles a message's rules at its first validation, and the first one also sets up CEL:
   * measured 43 ms for the first request type, up to 20 ms for others, which the first call
   * of a method would otherwise wait for, with every call behind it on the event loop (a flood
   * of new streams met such a stall). All of Switchboard's request types take ~60 ms.
   */
  warm(schemas: Iterable<DescMessage>): void;
}

/**
 * One validator for the process: it compiles each message's rules once and caches them.
 * A violation becomes INVALID_ARGUMENT naming the field, with the violations as an error
 * detail (buf.validate.Violations) so a form can put each message beside its input.
 * Messages with simple rules are first given a quick check (quick-validation.ts): one that
 * passes it is valid; anything else gets protovalidate's verdict.
 */
export function createMessageChecker(validator: Validator = createValidator()): CheckMessage {
  const quickChecks = new Map<DescMessage, QuickCheck | undefined>();
  const quickCheckOf = (schema: DescMessage) => {
    let quick = quickChecks.get(schema);
    if (quick === undefined && !quickChecks.has(schema)) {
      quick = compileQuickCheck(schema);
      quickChecks.set(schema, quick);
    }
    return quick;
  };
  const check = <Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>) => {
    if (quickCheckOf(schema)?.(message)) return undefined;
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
  const warm = (schemas: Iterable<DescMessage>) => {
    for (const schema of withContained(schemas)) {
      // Both checks compiled; protovalidate plans every field's rules for an empty message
      // (its verdict does not matter).
      quickCheckOf(schema);
      validator.validate(schema, create(schema));
    }
  };
  return Object.assign(check, { warm });
}

/** The messages and every message type reachable through their fields, each once. */
function withContained(schemas: Iterable<DescMessage>): Set<DescMessage> {
  const all = new Set<DescMessage>();
  const visit = (schema: DescMessage) => {
    if (all.has(schema)) return;
    all.add(schema);
    for (const field of schema.fields) {
      if (field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")) {
        visit(field.message);
      } else if (field.fieldKind === "map" && field.mapKind === "message") {
        visit(field.message);
      }
    }
  };
  for (const schema of schemas) visit(schema);
  return all;
}
