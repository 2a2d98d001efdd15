import { Code, ConnectError } from "@connectrpc/connect";
import { type FormEvent, useEffect, useId, useState } from "react";
import type { User } from "../../../gen/switchboard/v1/user_pb.js";
import { actingUserOf, useActingUser } from "../acting-user.tsx";
import { useApi } from "../api.tsx";
import { Notice, type NoticeValue } from "../components/notice.tsx";
import { UserForm } from "../components/user-form.tsx";
import { describeError, type FormErrors, formErrors } from "../errors.ts";
import { formatDateTime } from "../format.ts";
import { roleLabel, useSession } from "../session.tsx";

/** The signed-in user's own details and password (a user's Users page; anyone's /account). */
export function ProfilePage() {
  const { session } = useSession();
  if (!session.user) {
    return (
      <div className="page">
        <header className="page-header">
          <div>
            <h1>Your profile</h1>
            <p className="page-subtitle">
              You are signed in with the operator's admin token, which names no user: there is no profile or
              password to change. Sign in with an account's email and password to have one.
            </p>
          </div>
        </header>
      </div>
    );
  }
  return <Profile initial={session.user} />;
}

function Profile({ initial }: { initial: User }) {
  const api = useApi();
  const { session, updateUser } = useSession();
  const acting = useActingUser();
  const [me, setMe] = useState<User>(initial);
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<NoticeValue | null>(null);

  // The stored row as it is now (another tab or an admin may have changed it since sign-in).
  useEffect(() => {
    let current = true;
    api.users.getUser({ id: initial.id }).then(
      (res) => {
        if (current && res.user) setMe(res.user);
      },
      (err) => {
        if (current) setError(describeError(err));
      },
    );
    return () => {
      current = false;
    };
  }, [api, initial.id]);

  const saved = (user: User) => {
    setMe(user);
    updateUser(user);
    if (acting.user?.id === user.id) acting.setUser(actingUserOf(user));
    setNotice({ kind: "ok", text: "Saved your details." });
  };

  return (
    <div className="page">
      <header className="page-header">
        <div>
          <h1>Your profile</h1>
          <p className="page-subtitle">Only you and the admins see these details.</p>
        </div>
      </header>
      {error && (
        <p role="alert" className="alert">
          {error}
        </p>
      )}
      <section className="card profile-summary" aria-label="Profile">
        <span className="avatar avatar-large" aria-hidden="true">
          {initials(me.name)}
        </span>
        <div className="profile-who">
          <h2>{me.name}</h2>
          <p className="muted">{me.email}</p>
        </div>
        <dl className="profile-facts">
          <div>
            <dt>Role</dt>
            <dd>{roleLabel(me.role)}</dd>
          </div>
          <div>
            <dt>Age</dt>
            <dd>{me.age}</dd>
          </div>
          <div>
            <dt>Member since</dt>
            <dd>{formatDateTime(me.createTime)}</dd>
          </div>
          <div>
            <dt>Session ends</dt>
            <dd>{session.expiresAt ? dateTime.format(session.expiresAt) : "Never"}</dd>
          </div>
        </dl>
      </section>
      <div className="profile-grid">
        <section className="card form-card">
          <UserForm
            key={`${me.id}-${me.version}`}
            editing={me}
            admin={false}
            title="Your details"
            onSaved={saved}
          />
          <Notice notice={notice} />
        </section>
        <section className="card form-card">
          <ChangePasswordForm />
        </section>
      </div>
    </div>
  );
}

const dateTime = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});

function initials(name: string): string {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((part) => part[0]?.toUpperCase())
    .join("");
}

/** AuthService.SetPassword for the caller's own account: the current password, then the new one. */
function ChangePasswordForm() {
  const api = useApi();
  const { renewing } = useSession();
  const id = useId();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [errors, setErrors] = useState<FormErrors>({ fields: {} });
  const [notice, setNotice] = useState<NoticeValue | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setNotice(null);
    if (!current) {
      setErrors({ fields: { current_password: "Enter your current password." } });
      return;
    }
    setBusy(true);
    setErrors({ fields: {} });
    try {
      // Every earlier token ends, this tab's too: it carries on with the new one.
      await renewing(() => api.auth.setPassword({ currentPassword: current, newPassword: next }));
      setCurrent("");
      setNext("");
      setNotice({ kind: "ok", text: "Password changed. Your other sessions have been signed out." });
    } catch (err) {
      const error = ConnectError.from(err);
      if (error.code === Code.PermissionDenied && /current_password/.test(error.rawMessage)) {
        setErrors({ fields: { current_password: "That is not your current password." } });
      } else {
        setErrors(formErrors(error));
      }
    } finally {
      setBusy(false);
    }
  };

  const field = (
    key: "current_password" | "new_password",
    label: string,
    value: string,
    set: (v: string) => void,
  ) => {
    const error = errors.fields[key];
    return (
      <div className="field">
        <label htmlFor={`${id}-${key}`}>{label}</label>
        <input
          id={`${id}-${key}`}
          type="password"
          autoComplete={key === "current_password" ? "current-password" : "new-password"}
          value={value}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${id}-${key}-error` : undefined}
          onChange={(e) => set(e.target.value)}
        />
        {error && (
          <p id={`${id}-${key}-error`} className="field-error">
            {error}
          </p>
        )}
      </div>
    );
  };

  return (
    <form noValidate onSubmit={submit} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Change password</h2>
      {field("current_password", "Current password", current, setCurrent)}
      {field("new_password", "New password", next, setNext)}
      <p className="field-hint muted">
        8 to 128 characters. Changing it signs out every other session you have.
      </p>
      {errors.form && (
        <p role="alert" className="alert">
          {errors.form}
        </p>
      )}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={busy}>
          Change password
        </button>
      </div>
      <Notice notice={notice} />
    </form>
  );
}
