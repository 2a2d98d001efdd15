import { Code, ConnectError } from "@connectrpc/connect";
import { type FormEvent, useId, useState } from "react";
import { describeError } from "../errors.ts";
import type { Protocol } from "../protocol.ts";
import { type Session, signInWithPassword, signInWithToken } from "../session.tsx";

interface SignInPageProps {
  protocol: Protocol;
  /** Why the last session ended (expired, signed out elsewhere), if it did not end by Sign out. */
  reason: string | undefined;
  onSignedIn(session: Session): void;
}

/** The screen of a tab with no session: email and password, or an access token. */
export function SignInPage({ protocol, reason, onSignedIn }: SignInPageProps) {
  const id = useId();
  const [mode, setMode] = useState<"password" | "token">("password");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [token, setToken] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (mode === "password" && (!email.trim() || !password)) {
      setError("Enter your email and password.");
      return;
    }
    if (mode === "token" && !token.trim()) {
      setError("Paste an access token.");
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const session =
        mode === "password"
          ? await signInWithPassword(protocol, email.trim(), password)
          : await signInWithToken(protocol, token.trim());
      onSignedIn(session);
    } catch (err) {
      setError(signInError(err, mode));
      setBusy(false);
    }
  };

  const switchTo = (next: "password" | "token") => {
    setMode(next);
    setError(undefined);
  };

  return (
    <main className="signin">
      <div className="signin-card card">
        <div className="signin-brand brand">
          <svg viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
            <rect width="32" height="32" rx="8" fill="currentColor" />
            <path d="M9 11h14M9 16h9M9 21h12" stroke="#fff" strokeWidth="2.5" strokeLinecap="round" />
          </svg>
          Switchboard
        </div>
        <form noValidate onSubmit={submit} aria-labelledby={`${id}-title`}>
          <h1 id={`${id}-title`}>Sign in</h1>
          <p className="signin-lead muted">
            {mode === "password"
              ? "Use the email and password of your account."
              : "Use an access token, such as the operator's ADMIN_TOKEN."}
          </p>
          {reason && (
            <p role="status" className="notice notice-warn">
              {reason}
            </p>
          )}
          {mode === "password" ? (
            <>
              <div className="field">
                <label htmlFor={`${id}-email`}>Email</label>
                <input
                  id={`${id}-email`}
                  type="email"
                  autoComplete="username"
                  value={email}
                  onChange={(e) => setEmail(e.target.value)}
                />
              </div>
              <div className="field">
                <label htmlFor={`${id}-password`}>Password</label>
                <input
                  id={`${id}-password`}
                  type="password"
                  autoComplete="current-password"
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                />
              </div>
            </>
          ) : (
            <div className="field">
              <label htmlFor={`${id}-token`}>Access token</label>
              <input
                id={`${id}-token`}
                type="password"
                autoComplete="off"
                spellCheck={false}
                value={token}
                onChange={(e) => setToken(e.target.value)}
              />
            </div>
          )}
          {error && (
            <p role="alert" className="alert">
              {error}
            </p>
          )}
          <button type="submit" className="button button-primary signin-submit" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </form>
        <button
          type="button"
          className="link-button"
          onClick={() => switchTo(mode === "password" ? "token" : "password")}
        >
          {mode === "password" ? "Use an access token" : "Use email and password"}
        </button>
        <p className="signin-fine">
          Your session is kept in this tab's memory only, never stored in the browser: reloading the page or
          closing the tab signs you out.
        </p>
      </div>
    </main>
  );
}

function signInError(err: unknown, mode: "password" | "token"): string {
  const error = ConnectError.from(err);
  if (error.code === Code.Unauthenticated) {
    // The server says "wrong email or password" for either, so as not to reveal accounts.
    return mode === "password"
      ? capitalize(error.rawMessage || "wrong email or password")
      : `The server does not accept this access token (${error.rawMessage}).`;
  }
  if (error.code === Code.ResourceExhausted) return `Too many attempts: ${error.rawMessage}`;
  return describeError(error);
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
