import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";

/** An RPC failure as a form shows it: messages per field, and one for the form as a whole. */
export interface FormErrors {
  fields: Partial<Record<string, string>>;
  form?: string;
}

/**
 * INVALID_ARGUMENT carries buf.validate.Violations: each names its field path
 * (`email`, or `user` → `email` inside UpdateUser), so the message goes under that input.
 * A duplicate email (ALREADY_EXISTS) belongs to the email field too.
 */
export function formErrors(err: unknown): FormErrors {
  const error = ConnectError.from(err);
  const fields: FormErrors["fields"] = {};
  let form: string | undefined;
  for (const violations of error.findDetails(ViolationsSchema)) {
    for (const violation of violations.violations) {
      const field = violation.field?.elements.at(-1)?.fieldName;
      if (field) fields[field] ??= violation.message;
      else form ??= violation.message;
    }
  }
  if (error.code === Code.AlreadyExists && /email/i.test(error.rawMessage)) {
    fields.email ??= "A user with this email already exists.";
  } else if (Object.keys(fields).length === 0 && form === undefined) {
    form = describeError(error);
  }
  return form === undefined ? { fields } : { fields, form };
}

/** One line for people: the code in words, then the server's message. */
export function describeError(err: unknown): string {
  const error = ConnectError.from(err);
  switch (error.code) {
    case Code.Unavailable:
      return "The server is unavailable. Try again in a moment.";
    case Code.Aborted:
      return `Someone else changed this first: ${error.rawMessage}`;
    default:
      return error.rawMessage || Code[error.code] || "Something went wrong";
  }
}
