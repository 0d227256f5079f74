/**
 * Sign-in: user name and password, then a code from the operator's authenticator, or on the first
 * sign-in the enrollment of one (QR code and the secret for typing) confirmed with its first code.
 * Every refusal reads the same.
 */
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, request } from './api.ts';
import { groupSecret } from './format.ts';
import type { Session, SignInStep } from './types.ts';
import { Field } from './ui.tsx';

const FAILED = 'Sign-in failed. Check your details and try again.';

type Step =
  | { readonly kind: 'password' }
  | { readonly kind: 'passcode' }
  | { readonly kind: 'enroll'; readonly secret: string; readonly otpauthUri: string; readonly qrSvg: string };

function messageOf(e: unknown): string {
  if (e instanceof ApiError && e.status !== 401)
    return e.status === 429 ? e.detail : e.status >= 500 ? 'The server could not sign you in. Try again in a moment.' : FAILED;
  if (e instanceof TypeError) return 'The server cannot be reached. Check your connection and try again.';
  return FAILED;
}

/** An SVG document as an image source (the page's policy allows images from data: URLs only). */
function svgSource(svg: string): string {
  const bytes = new TextEncoder().encode(svg);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}

export function SignIn({ note, onSignedIn }: { note?: string | undefined; onSignedIn: (session: Session) => void }): ReactNode {
  const [step, setStep] = useState<Step>({ kind: 'password' });
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const heading = useRef<HTMLHeadingElement>(null);
  const codeInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (step.kind === 'password') heading.current?.focus({ preventScroll: true });
    else codeInput.current?.focus();
  }, [step.kind]);

  const submitPassword = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const next = await request<SignInStep>('/admin/session', { method: 'POST', body: { username: username.trim(), password } });
      setPassword('');
      setCode('');
      setStep(next.next === 'enroll' ? { kind: 'enroll', ...next.enrollment } : { kind: 'passcode' });
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  const submitCode = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError('');
    const value = code.replace(/\s+/g, '');
    try {
      const session =
        step.kind === 'enroll'
          ? await request<Session>('/admin/session/enroll', { method: 'POST', body: { code: value } })
          : await request<Session>('/admin/session/passcode', { method: 'POST', body: { passcode: value } });
      onSignedIn(session);
    } catch (err) {
      setError(messageOf(err));
      setCode('');
      codeInput.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  const startAgain = (): void => {
    setStep({ kind: 'password' });
    setCode('');
    setError('');
  };

  return (
    <main className="sign-in">
      <div className="sign-in-card">
        <p className="brand">
          <span className="logo" aria-hidden="true" />
          Countersign
        </p>
        <h1 ref={heading} tabIndex={-1}>
          {step.kind === 'enroll' ? 'Set up your authenticator' : 'Sign in to the console'}
        </h1>
        {note && step.kind === 'password' ? (
          <p className="note info" role="status">
            {note}
          </p>
        ) : null}
        {error ? (
          <p className="note error" role="alert">
            {error}
          </p>
        ) : null}

        {step.kind === 'password' ? (
          <form onSubmit={(e) => void submitPassword(e)} noValidate={false}>
            <Field label="User name">
              {({ id }) => (
                <input
                  id={id}
                  name="username"
                  autoComplete="username"
                  required
                  autoCapitalize="none"
                  spellCheck={false}
                  value={username}
                  onChange={(e) => setUsername(e.target.value)}
                />
              )}
            </Field>
            <Field label="Password">
              {({ id }) => (
                <input
                  id={id}
                  name="password"
                  type="password"
                  autoComplete="current-password"
                  required
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                />
              )}
            </Field>
            <button type="submit" className="primary wide" disabled={busy}>
              {busy ? 'Signing in…' : 'Continue'}
            </button>
          </form>
        ) : (
          <form onSubmit={(e) => void submitCode(e)}>
            {step.kind === 'enroll' ? (
              <div className="enroll">
                <p>Your account needs a second factor. Scan this code with an authenticator app (any app for time-based codes), or type the key.</p>
                <img className="qr" src={svgSource(step.qrSvg)} alt="QR code to add Countersign to an authenticator app" width={200} height={200} />
                <p>
                  Key for typing: <code className="secret">{groupSecret(step.secret)}</code>
                </p>
              </div>
            ) : (
              <p>Enter the 6-digit code your authenticator app shows for Countersign.</p>
            )}
            <Field label={step.kind === 'enroll' ? 'Code from the app' : 'Code'} help="Six digits; spaces are ignored.">
              {({ id, describedBy }) => (
                <input
                  ref={codeInput}
                  id={id}
                  name="code"
                  inputMode="numeric"
                  autoComplete="one-time-code"
                  pattern="[0-9 ]{6,8}"
                  maxLength={9}
                  required
                  aria-describedby={describedBy}
                  value={code}
                  onChange={(e) => setCode(e.target.value)}
                />
              )}
            </Field>
            <button type="submit" className="primary wide" disabled={busy}>
              {busy ? 'Checking…' : step.kind === 'enroll' ? 'Confirm and sign in' : 'Sign in'}
            </button>
            <button type="button" className="link-button" onClick={startAgain}>
              Start again
            </button>
          </form>
        )}
      </div>
    </main>
  );
}
