import {
  type DescField,
  type DescMessage,
  getOption,
  hasOption,
  isFieldSet,
  ScalarType,
} from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import {
  EnumRulesSchema,
  FieldRulesSchema,
  field as fieldRules,
  Ignore,
  Int32RulesSchema,
  message as messageRules,
  StringRulesSchema,
} from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

/**
 * True: the message passes its protovalidate rules. False: it may not; ask protovalidate,
 * whose answer (and violation text) is the one that counts.
 */
export type QuickCheck = (message: object) => boolean;

/**
 * A check compiled from a message's rules for the common simple case — scalar fields with
 * string length, email and uuid, or int32 bound rules, and enums with defined_only — that
 * allocates nothing. protovalidate costs about 1.7 µs a message (reflection, a cursor, a path
 * per field), most of a BatchCreateUsers item's own work. undefined when the message has any rule, field kind or option this does not
 * handle exactly: such messages always go to protovalidate.
 *
 * It must never pass a message protovalidate would reject; quick-validation.test.ts holds it
 * to protovalidate's verdicts. A false "may not" costs only the full validation.
 */
export function compileQuickCheck(schema: DescMessage): QuickCheck | undefined {
  if (hasOption(schema, messageRules) || schema.oneofs.length > 0) return undefined;
  const checks: QuickCheck[] = [];
  for (const field of schema.fields) {
    const check = compileField(field);
    if (check === undefined) return undefined;
    if (check !== noRules) checks.push(check);
  }
  return (message) => {
    for (const check of checks) if (!check(message)) return false;
    return true;
  };
}

const noRules: QuickCheck = () => true;

function compileField(field: DescField): QuickCheck | undefined {
  if (field.fieldKind !== "scalar" && field.fieldKind !== "enum") return undefined;
  if (field.presence !== FeatureSet_FieldPresence.IMPLICIT) return undefined;
  if (!hasOption(field, fieldRules)) return noRules;
  const rules = getOption(field, fieldRules);
  if (!onlySet(rules, FieldRulesSchema, ["ignore", "string", "int32", "enum"])) return undefined;
  if (rules.ignore === Ignore.ALWAYS) return noRules;
  if (rules.ignore !== Ignore.UNSPECIFIED && rules.ignore !== Ignore.IF_ZERO_VALUE) return undefined;
  const skipZero = rules.ignore === Ignore.IF_ZERO_VALUE;
  const name = field.localName;
  const type = rules.type;
  if (type.case === "string" && field.fieldKind === "scalar" && field.scalar === ScalarType.STRING) {
    const r = type.value;
    if (!onlySet(r, StringRulesSchema, ["min_len", "max_len", "email", "uuid"])) return undefined;
    const minLen = isFieldSet(r, StringRulesSchema.field.minLen) ? Number(r.minLen) : undefined;
    const maxLen = isFieldSet(r, StringRulesSchema.field.maxLen) ? Number(r.maxLen) : undefined;
    // `email: false` is no rule at all, as in protovalidate.
    const email = r.wellKnown.case === "email" && r.wellKnown.value;
    const uuid = r.wellKnown.case === "uuid" && r.wellKnown.value;
    return (message) => {
      const value = (message as Record<string, unknown>)[name];
      if (typeof value !== "string") return false;
      if (skipZero && value === "") return true;
      // A string has between half its UTF-16 length and that length in code points: count
      // them only when the bounds fall in between.
      const units = value.length;
      if ((minLen !== undefined && units < 2 * minLen) || (maxLen !== undefined && units > maxLen)) {
        const length = codePoints(value);
        if (minLen !== undefined && length < minLen) return false;
        if (maxLen !== undefined && length > maxLen) return false;
      }
      if (uuid && !uuidPattern.test(value)) return false;
      return !email || emailPattern.test(value);
    };
  }
  if (type.case === "int32" && field.fieldKind === "scalar" && field.scalar === ScalarType.INT32) {
    const r = type.value;
    if (!onlySet(r, Int32RulesSchema, ["gt", "gte", "lt", "lte"])) return undefined;
    const above = r.greaterThan.case === "gt" ? r.greaterThan.value + 1 : r.greaterThan.value;
    const below = r.lessThan.case === "lt" ? r.lessThan.value - 1 : r.lessThan.value;
    // gt above lt means "outside the range" to protovalidate: left to it.
    if (above !== undefined && below !== undefined && above > below) return undefined;
    return (message) => {
      const value = (message as Record<string, unknown>)[name];
      if (typeof value !== "number") return false;
      if (skipZero && value === 0) return true;
      return (above === undefined || value >= above) && (below === undefined || value <= below);
    };
  }
  if (type.case === "enum" && field.fieldKind === "enum") {
    const r = type.value;
    if (!onlySet(r, EnumRulesSchema, ["defined_only"])) return undefined;
    if (!r.definedOnly) return noRules;
    const defined = new Set(field.enum.values.map((v) => v.number));
    return (message) => {
      const value = (message as Record<string, unknown>)[name];
      return typeof value === "number" && (skipZero && value === 0 ? true : defined.has(value));
    };
  }
  return undefined;
}

/** Whether every rule set on `rules` is one of `names` (proto field names), none unknown. */
function onlySet(rules: object & { $unknown?: unknown[] }, schema: DescMessage, names: string[]): boolean {
  if (rules.$unknown !== undefined && rules.$unknown.length > 0) return false;
  return schema.fields.every((f) => names.includes(f.name) || !isFieldSet(rules as never, f));
}

/** Length in code points, as protovalidate counts it (a string iterator's steps), 4x faster. */
function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

// protovalidate's own definition (the HTML standard's valid e-mail address); an empty value
// fails it too.
const emailPattern =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

// protovalidate's own pattern for string.uuid (any version, either case); an empty value fails it.
const uuidPattern = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
