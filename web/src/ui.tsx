/** Small building blocks shared by the pages: loading, errors, notices, fields, dialogs, paging. */
import { useCallback, useContext, useEffect, useId, useRef, useState, type DependencyList, type ReactNode } from 'react';
import { ApiError, isAbort } from './api.ts';
import { formatDateTime, formatRelative } from './format.ts';
import { SessionContext } from './session.tsx';
import type { ConsoleRole, EffectiveStatus } from './types.ts';

/** What to tell the operator about a failed call: the server's detail, or who may do it for a 403. */
export function describeError(error: unknown, role?: ConsoleRole): string {
  if (error instanceof ApiError) {
    if (error.status === 403 && role !== undefined) return `Your role (${role}) may not do this.`;
    return error.detail;
  }
  if (error instanceof TypeError) return 'The server cannot be reached. Check your connection and try again.';
  return error instanceof Error ? error.message : String(error);
}

/** A failed call, announced to screen readers. Renders nothing without an error. */
export function ErrorNote({ error, className }: { error: unknown; className?: string }): ReactNode {
  const ctx = useContext(SessionContext);
  if (error === undefined || error === null || isAbort(error)) return null;
  const forbidden = error instanceof ApiError && error.status === 403;
  return (
    <p className={`note error${className ? ` ${className}` : ''}`} role="alert">
      {describeError(error, ctx?.session.role)}
      {forbidden && ctx ? <span className="subtle"> ({(error as ApiError).detail})</span> : null}
    </p>
  );
}

/** A success or progress message, announced politely. */
export function Notice({ children }: { children: ReactNode }): ReactNode {
  if (children === null || children === undefined || children === '' || children === false) return null;
  return (
    <p className="note ok" role="status">
      {children}
    </p>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }): ReactNode {
  return (
    <p className="loading" role="status">
      {label}
    </p>
  );
}

/** The page's heading; it takes the focus when the page opens so keyboard users start there. */
export function PageTitle({ children, actions }: { children: ReactNode; actions?: ReactNode }): ReactNode {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus({ preventScroll: true });
  }, []);
  return (
    <div className="page-title">
      <h1 ref={ref} tabIndex={-1}>
        {children}
      </h1>
      {actions ? <div className="actions">{actions}</div> : null}
    </div>
  );
}

/** A titled card. */
export function Section({
  title,
  children,
  className,
  actions,
}: {
  title: ReactNode;
  children: ReactNode;
  className?: string;
  actions?: ReactNode;
}): ReactNode {
  const id = useId();
  return (
    <section className={`card${className ? ` ${className}` : ''}`} aria-labelledby={id}>
      <div className="card-head">
        <h2 id={id}>{title}</h2>
        {actions ? <div className="actions">{actions}</div> : null}
      </div>
      {children}
    </section>
  );
}

const STATE_TEXT: Readonly<Record<EffectiveStatus, string>> = { enabled: 'Enabled', locked: 'Locked', blocked: 'Blocked', disabled: 'Disabled' };

export function StateBadge({ state }: { state: EffectiveStatus }): ReactNode {
  return <span className={`badge state-${state}`}>{STATE_TEXT[state]}</span>;
}

export function ResultBadge({ result }: { result: string }): ReactNode {
  const tone = result === 'approved' || result === 'success' ? 'good' : result === 'denied' || result === 'failure' ? 'bad' : 'neutral';
  return <span className={`badge tone-${tone}`}>{result}</span>;
}

export function Time({ at, seconds, relative }: { at: number | string | null | undefined; seconds?: boolean; relative?: boolean }): ReactNode {
  if (at === null || at === undefined) return <span className="subtle">—</span>;
  const iso = new Date(at).toISOString();
  return (
    <time dateTime={iso} title={iso}>
      {relative ? formatRelative(at) : formatDateTime(at, seconds)}
    </time>
  );
}

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: unknown;
  readonly loading: boolean;
  readonly reload: () => void;
  readonly setData: (data: T) => void;
}

/** Loads on mount and whenever `deps` change; a newer load aborts the older one. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: DependencyList): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    load(controller.signal).then(
      (value) => {
        if (controller.signal.aborted) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (controller.signal.aborted || isAbort(e)) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => controller.abort();
    // The caller lists what the load depends on.
  }, [...deps, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { data, error, loading, reload, setData };
}

/** Runs an action with a busy flag, its error and an optional success message. */
export function useAction(): {
  readonly busy: boolean;
  readonly error: unknown;
  readonly message: string;
  readonly run: (action: () => Promise<string | void>) => Promise<boolean>;
  readonly clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [message, setMessage] = useState('');
  const run = useCallback(async (action: () => Promise<string | void>): Promise<boolean> => {
    setBusy(true);
    setError(undefined);
    setMessage('');
    try {
      const done = await action();
      setMessage(typeof done === 'string' ? done : '');
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  const clear = useCallback(() => {
    setError(undefined);
    setMessage('');
  }, []);
  return { busy, error, message, run, clear };
}

/** Calls `tick` every `ms` while `active`. */
export function useInterval(tick: () => void, ms: number, active: boolean): void {
  const saved = useRef(tick);
  saved.current = tick;
  useEffect(() => {
    if (!active) return;
    const timer = window.setInterval(() => saved.current(), ms);
    return () => window.clearInterval(timer);
  }, [ms, active]);
}

/** The value once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

interface FieldProps {
  readonly label: ReactNode;
  readonly help?: ReactNode;
  readonly error?: string | undefined;
  readonly className?: string;
  /** Renders the control with the ids it must carry. */
  readonly children: (ids: { id: string; describedBy: string | undefined; invalid: boolean }) => ReactNode;
}

/** A label, a control, its help text and its error, wired together for assistive technology. */
export function Field({ label, help, error, className, children }: FieldProps): ReactNode {
  const id = useId();
  const helpId = help ? `${id}-help` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  const describedBy = [errorId, helpId].filter((x) => x !== undefined).join(' ') || undefined;
  return (
    <div className={`field${error ? ' invalid' : ''}${className ? ` ${className}` : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, describedBy, invalid: error !== undefined })}
      {error ? (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      ) : null}
      {help ? (
        <p className="help" id={helpId}>
          {help}
        </p>
      ) : null}
    </div>
  );
}

/** A checkbox with its label after it and optional help. */
export function Check({
  label,
  help,
  checked,
  disabled,
  onChange,
  error,
}: {
  label: ReactNode;
  help?: ReactNode;
  checked: boolean;
  disabled?: boolean;
  onChange: (checked: boolean) => void;
  error?: string | undefined;
}): ReactNode {
  const id = useId();
  const describedBy = [error ? `${id}-error` : '', help ? `${id}-help` : ''].filter((x) => x !== '').join(' ') || undefined;
  return (
    <div className={`check${error ? ' invalid' : ''}`}>
      <input id={id} type="checkbox" checked={checked} disabled={disabled} onChange={(e) => onChange(e.target.checked)} aria-describedby={describedBy} />
      <label htmlFor={id}>{label}</label>
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : null}
      {help ? (
        <p className="help" id={`${id}-help`}>
          {help}
        </p>
      ) : null}
    </div>
  );
}

/**
 * A button that asks first, in a modal dialog (Escape or Cancel closes it; focus returns to the
 * button).
 */
export function ConfirmButton({
  children,
  title,
  message,
  confirmLabel,
  onConfirm,
  disabled,
  className,
  ariaLabel,
}: {
  children: ReactNode;
  title: string;
  message: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  disabled?: boolean;
  className?: string;
  ariaLabel?: string;
}): ReactNode {
  const dialog = useRef<HTMLDialogElement>(null);
  const id = useId();
  return (
    <>
      <button type="button" className={className} disabled={disabled} aria-label={ariaLabel} onClick={() => dialog.current?.showModal()}>
        {children}
      </button>
      <dialog ref={dialog} aria-labelledby={`${id}-title`} aria-describedby={`${id}-message`}>
        <form method="dialog">
          <h2 id={`${id}-title`}>{title}</h2>
          <div id={`${id}-message`}>{message}</div>
          <div className="actions">
            <button type="submit" value="cancel" autoFocus>
              Cancel
            </button>
            <button type="submit" value="confirm" className="danger" onClick={onConfirm}>
              {confirmLabel}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

/** Previous / next buttons for keyset paging. */
export function Pager({
  page,
  hasPrevious,
  hasNext,
  onPrevious,
  onNext,
  busy,
  label,
}: {
  page: number;
  hasPrevious: boolean;
  hasNext: boolean;
  onPrevious: () => void;
  onNext: () => void;
  busy?: boolean;
  label: string;
}): ReactNode {
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" onClick={onPrevious} disabled={!hasPrevious || busy}>
        ← Previous
      </button>
      <span className="subtle" aria-live="polite">
        Page {page}
      </span>
      <button type="button" onClick={onNext} disabled={!hasNext || busy}>
        Next →
      </button>
    </nav>
  );
}

/** A table of label: value pairs. */
export function Facts({ rows }: { rows: readonly (readonly [ReactNode, ReactNode] | false | null)[] }): ReactNode {
  return (
    <dl className="facts">
      {rows.map((row, i) =>
        row ? (
          <div key={i}>
            <dt>{row[0]}</dt>
            <dd>{row[1]}</dd>
          </div>
        ) : null,
      )}
    </dl>
  );
}

/**
 * A wide table's box: it scrolls sideways on a narrow screen, and then takes the keyboard focus
 * (as a named region) so the arrow keys can scroll it.
 */
export function ScrollBox({ label, children }: { label: string; children: ReactNode }): ReactNode {
  const box = useRef<HTMLDivElement>(null);
  const [overflows, setOverflows] = useState(false);
  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const check = (): void => setOverflows(el.scrollWidth > el.clientWidth + 1);
    check();
    const observer = new ResizeObserver(check);
    observer.observe(el);
    if (el.firstElementChild) observer.observe(el.firstElementChild);
    return () => observer.disconnect();
  }, []);
  return (
    <div ref={box} className="table-wrap" {...(overflows ? { tabIndex: 0, role: 'region', 'aria-label': label } : {})}>
      {children}
    </div>
  );
}
