import { type ComponentProps, type FormEvent, type ReactNode, useId, useState } from "react";
import { Role, type User } from "../../../gen/switchboard/v1/user_pb.js";
import { useApi } from "../api.tsx";
import { type FormErrors, formErrors } from "../errors.ts";
import { useSession } from "../session.tsx";

interface UserFormProps {
  editing: User | null;
  /**
   * An admin's form: it also sets the role and a password (on create, or a new one on edit,
   * through AuthService.SetPassword). A user editing their own profile sets neither here.
   */
  admin: boolean;
  /** The form's heading; by default "New user" or "Edit <name>". */
  title?: string;
  onSaved(user: User, created: boolean): void;
  /** Offers a Cancel button (editing from a list); without it, the form stays. */
  onCancel?(): void;
}

type Key = "name" | "email" | "age" | "password";

/** Create, or edit with an update mask of the changed fields and the version it was read at. */
export function UserForm({ editing, admin, title, onSaved, onCancel }: UserFormProps) {
  const api = useApi();
  const { session, renewing } = useSession();
  const id = useId();
  const [name, setName] = useState(editing?.name ?? "");
  const [email, setEmail] = useState(editing?.email ?? "");
  const [age, setAge] = useState(editing ? String(editing.age) : "");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>(editing?.role || Role.USER);
  const [errors, setErrors] = useState<FormErrors>({ fields: {} });
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors({ fields: {} });
    const values = { name: name.trim(), email: email.trim(), age: Number.parseInt(age, 10) || 0 };
    try {
      if (editing) {
        const paths: string[] = (["name", "email", "age"] as const).filter((f) => values[f] !== editing[f]);
        if (admin && role !== editing.role) paths.push("role");
        if (paths.length === 0 && !password) {
          onCancel?.();
          return;
        }
        let user = editing;
        if (paths.length > 0) {
          const res = await api.users.updateUser({
            user: { id: editing.id, ...values, ...(admin ? { role } : {}) },
            updateMask: { paths },
            expectedVersion: editing.version,
          });
          if (res.user) user = res.user;
        }
        if (admin && password) {
          try {
            const setPassword = () => api.auth.setPassword({ userId: editing.id, newPassword: password });
            // Admins setting their own password go on under the new token (every earlier one ends).
            if (editing.id === session.user?.id) await renewing(setPassword);
            else await setPassword();
          } catch (err) {
            const { fields, form } = formErrors(err);
            const message = fields.new_password ?? form ?? "The password was not set.";
            // The other changes are saved: show them, and the password's problem.
            if (user !== editing) onSaved(user, false);
            setErrors({ fields: { password: message } });
            return;
          }
          setPassword("");
        }
        onSaved(user, false);
      } else {
        const res = await api.users.createUser(admin ? { ...values, password, role } : values);
        if (res.user) {
          onSaved(res.user, true);
          setName("");
          setEmail("");
          setAge("");
          setPassword("");
          setRole(Role.USER);
        }
      }
    } catch (err) {
      setErrors(formErrors(err));
    } finally {
      setBusy(false);
    }
  };

  const field = (
    key: Key | "role",
    label: string,
    control: (props: ComponentProps<"input">) => ReactNode,
  ) => {
    const error = errors.fields[key];
    return (
      <div className="field">
        <label htmlFor={`${id}-${key}`}>{label}</label>
        {control({
          id: `${id}-${key}`,
          name: key,
          "aria-invalid": error ? true : undefined,
          "aria-describedby": error ? `${id}-${key}-error` : undefined,
        })}
        {error && (
          <p id={`${id}-${key}-error`} className="field-error">
            {error}
          </p>
        )}
      </div>
    );
  };
  const input = (extra: ComponentProps<"input">) => (props: ComponentProps<"input">) => (
    <input {...props} {...extra} />
  );

  return (
    <form noValidate onSubmit={submit} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{title ?? (editing ? `Edit ${editing.name}` : "New user")}</h2>
      {field(
        "name",
        "Name",
        input({ value: name, onChange: (e) => setName(e.target.value), autoComplete: "off" }),
      )}
      {field(
        "email",
        "Email",
        input({
          type: "email",
          value: email,
          onChange: (e) => setEmail(e.target.value),
          autoComplete: "off",
        }),
      )}
      {field(
        "age",
        "Age",
        input({
          type: "number",
          inputMode: "numeric",
          min: 1,
          max: 150,
          value: age,
          onChange: (e) => setAge(e.target.value),
        }),
      )}
      {admin &&
        field(
          "password",
          editing ? "New password" : "Password",
          input({
            type: "password",
            value: password,
            autoComplete: "new-password",
            placeholder: editing ? "Leave empty to keep it" : "8 or more characters",
            onChange: (e) => setPassword(e.target.value),
          }),
        )}
      {admin &&
        field("role", "Role", ({ id: controlId, name: controlName, ...aria }) => (
          <select
            id={controlId}
            name={controlName}
            aria-invalid={aria["aria-invalid"]}
            aria-describedby={aria["aria-describedby"]}
            value={role}
            onChange={(e) => setRole(Number(e.target.value) as Role)}
          >
            <option value={Role.USER}>User</option>
            <option value={Role.ADMIN}>Admin</option>
          </select>
        ))}
      {admin && !editing && !password && (
        <p className="field-hint muted">Without a password, the user cannot sign in until one is set.</p>
      )}
      {errors.form && (
        <p role="alert" className="alert">
          {errors.form}
        </p>
      )}
      <div className="form-actions">
        {editing && onCancel && (
          <button type="button" className="button" onClick={onCancel}>
            Cancel
          </button>
        )}
        <button type="submit" className="button button-primary" disabled={busy}>
          {editing ? "Save changes" : "Create user"}
        </button>
      </div>
    </form>
  );
}
