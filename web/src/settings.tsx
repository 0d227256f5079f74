/**
 * Company settings, grouped, each field with its help. Administrators edit and save (only the
 * fields changed are sent); other roles read. The server's field errors appear under their fields.
 */
import { useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { api, ApiError } from './api.ts';
import { formatSeconds } from './format.ts';
import { useSession } from './session.tsx';
import { methodName, type Settings as SettingsDoc } from './types.ts';

/** The methods users set up themselves in the portal (the server refuses the others here). */
const PORTAL_METHODS = ['totp', 'push', 'backup', 'questions'] as const;
import { Check, ErrorNote, Field, Loading, Notice, PageTitle, useAction, useLoad } from './ui.tsx';

type Kind = 'count' | 'seconds' | 'text' | 'bool' | 'networks' | 'methods';

interface FieldSpec {
  /** Top-level key, and the nested key for grouped settings. */
  readonly path: readonly [string] | readonly [string, string];
  readonly label: string;
  readonly help: string;
  readonly kind: Kind;
}

interface Group {
  readonly title: string;
  readonly help: string;
  readonly fields: readonly FieldSpec[];
}

const GROUPS: readonly Group[] = [
  {
    title: 'Lockout',
    help: 'Consecutive failed authentications lock an account, on every front door alike.',
    fields: [
      {
        path: ['lockout', 'threshold'],
        label: 'Failures before locking',
        kind: 'count',
        help: 'Consecutive failures that lock the account. 0 turns lockout off.',
      },
      {
        path: ['lockout', 'autoUnlockSeconds'],
        label: 'Unlock automatically after (seconds)',
        kind: 'seconds',
        help: '0: only an administrator or the help desk unlocks.',
      },
    ],
  },
  {
    title: 'One-time bypass',
    help: 'A bypass lets the next sign-in of a user through without a second factor, once.',
    fields: [
      { path: ['bypass', 'defaultSeconds'], label: 'Default lifetime (seconds)', kind: 'seconds', help: 'When the help desk gives none.' },
      { path: ['bypass', 'maxSeconds'], label: 'Longest lifetime (seconds)', kind: 'seconds', help: 'No bypass lasts longer.' },
    ],
  },
  {
    title: 'Authentication',
    help: 'How codes are checked and how long a sign-in waits.',
    fields: [
      {
        path: ['challengeSeconds'],
        label: 'Wait for the code (seconds)',
        kind: 'seconds',
        help: 'A sign-in waiting for its passcode expires after this long.',
      },
      {
        path: ['cacheSeconds'],
        label: 'Remember approvals (seconds)',
        kind: 'seconds',
        help: 'The same user, application and client address pass again without a second factor for this long. 0 turns caching off. An application may set its own.',
      },
      {
        path: ['totp', 'window'],
        label: 'TOTP window (steps)',
        kind: 'count',
        help: 'Codes this many 30-second steps before or after now are accepted, for clock drift. 1 is usual.',
      },
      { path: ['hotp', 'lookAhead'], label: 'HOTP look-ahead (codes)', kind: 'count', help: 'How many codes ahead of the counter a hardware token may be.' },
    ],
  },
  {
    title: 'Trusted networks',
    help: 'Sign-ins from these addresses skip the second factor in every application, when the application states the client address.',
    fields: [
      {
        path: ['trustedIps'],
        label: 'Networks',
        kind: 'networks',
        help: 'One per line: an address (192.0.2.10), a range (192.0.2.10-192.0.2.20) or a CIDR (10.0.0.0/8).',
      },
    ],
  },
  {
    title: 'Language',
    help: 'Messages to users whose profile names no language.',
    fields: [{ path: ['defaultLanguage'], label: 'Default language', kind: 'text', help: 'A language tag: en, de, fr-CA.' }],
  },
  {
    title: 'PIN',
    help: 'Applied whenever a PIN is set, by users or administrators.',
    fields: [
      { path: ['pin', 'minLength'], label: 'Shortest PIN (digits)', kind: 'count', help: 'At least 4 is advised.' },
      { path: ['pin', 'maxLength'], label: 'Longest PIN (digits)', kind: 'count', help: '' },
      { path: ['pin', 'refuseTrivial'], label: 'Refuse trivial PINs', kind: 'bool', help: 'One repeated digit (1111) or a run (1234, 9876).' },
    ],
  },
  {
    title: 'User portal',
    help: 'What users may do for themselves at /portal.',
    fields: [
      {
        path: ['portal', 'allowEnrollment'],
        label: 'Set up a method at first sign-in',
        kind: 'bool',
        help: 'Users without a method set one up when they first sign in.',
      },
      {
        path: ['portal', 'enrollMethods'],
        label: 'Methods users may set up',
        kind: 'methods',
        help: 'Security questions are a legacy fallback for the portal sign-in only, weaker than any authenticator: offer them only to users moving from MFA Server.',
      },
      { path: ['portal', 'questionsAsked'], label: 'Security questions asked at sign-in', kind: 'count', help: 'Of the 4 each user chose; only when security questions are offered.' },
      { path: ['portal', 'allowMethodChange'], label: 'Change methods', kind: 'bool', help: 'Choose the default method, add and remove authenticators.' },
      { path: ['portal', 'allowPhoneChange'], label: 'Change phone numbers', kind: 'bool', help: '' },
      { path: ['portal', 'allowPinChange'], label: 'Change the PIN', kind: 'bool', help: '' },
      { path: ['portal', 'allowLanguageChange'], label: 'Change the language', kind: 'bool', help: '' },
      {
        path: ['portal', 'allowBypass'],
        label: 'Start a one-time bypass',
        kind: 'bool',
        help: 'For a lost phone: the next sign-in passes without a second factor.',
      },
      { path: ['portal', 'bypassSeconds'], label: 'Self-service bypass lifetime (seconds)', kind: 'seconds', help: '' },
      {
        path: ['portal', 'trustedIpsSkipSecondFactor'],
        label: 'Trusted networks skip the second factor',
        kind: 'bool',
        help: 'For the portal sign-in itself.',
      },
    ],
  },
  {
    title: 'Fraud alert',
    help: 'Users report a sign-in they did not make (“not me”).',
    fields: [
      { path: ['fraud', 'allowReports'], label: 'Accept “not me” reports', kind: 'bool', help: '' },
      { path: ['fraud', 'blockUser'], label: 'Block the account on a report', kind: 'bool', help: 'Until an administrator or the help desk unblocks it.' },
    ],
  },
  {
    title: 'Sessions',
    help: 'Portal and console sign-in sessions.',
    fields: [
      { path: ['sessions', 'idleSeconds'], label: 'Sign out after inactivity (seconds)', kind: 'seconds', help: '' },
      { path: ['sessions', 'absoluteSeconds'], label: 'Sign out after (seconds)', kind: 'seconds', help: 'Counted from sign-in, whatever the activity.' },
      {
        path: ['sessions', 'reauthSeconds'],
        label: 'Second factor again for method changes after (seconds)',
        kind: 'seconds',
        help: 'Changing methods needs a second factor at most this old.',
      },
    ],
  },
  {
    title: 'Retention',
    help: 'The server deletes older records every 10 minutes.',
    fields: [
      { path: ['retention', 'auditDays'], label: 'Keep audit events (days)', kind: 'count', help: '0 keeps them forever. The dashboard’s history goes back as far.' },
      { path: ['retention', 'authenticationDays'], label: 'Keep authentication records (days)', kind: 'count', help: 'Each sign-in’s state; the audit trail keeps its outcome.' },
    ],
  },
];

type Doc = Record<string, unknown>;
type Value = number | string | boolean | readonly string[];
/** The editable form of a value: numbers and networks as text. */
type DraftValue = string | boolean | readonly string[];

const keyOf = (f: FieldSpec): string => f.path.join('.');

function read(doc: Doc, f: FieldSpec): Value | undefined {
  const [a, b] = f.path;
  const top = doc[a];
  if (b === undefined) return top as Value | undefined;
  return top !== null && typeof top === 'object' ? ((top as Doc)[b] as Value | undefined) : undefined;
}

function toDraft(v: Value, kind: Kind): DraftValue {
  if (kind === 'networks') return (v as readonly string[]).join('\n');
  if (kind === 'count' || kind === 'seconds') return String(v);
  return v as DraftValue;
}

function fromDraft(v: DraftValue, kind: Kind): Value {
  if (kind === 'networks')
    return (v as string)
      .split(/[\n,]/)
      .map((s) => s.trim())
      .filter((s) => s !== '');
  if (kind === 'count' || kind === 'seconds') return (v as string).trim() === '' ? Number.NaN : Number(v);
  return v;
}

const same = (a: Value | undefined, b: Value): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Field errors by field key: "lockout.threshold", "trustedIps[2]" -> trustedIps. */
function fieldErrors(error: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!(error instanceof ApiError)) return out;
  for (const e of error.errors) {
    const key = e.field.replace(/\[\d+\]$/, '').replace(/\[\d+\]/g, '');
    const index = /\[(\d+)\]/.exec(e.field)?.[1];
    out[key] ??= index === undefined ? e.message : `Line ${Number(index) + 1}: ${e.message}`;
  }
  return out;
}

export function Settings(): ReactNode {
  const settings = useLoad((signal) => api<SettingsDoc>('/settings', { signal }), []);
  return (
    <>
      <PageTitle>Settings</PageTitle>
      <ErrorNote error={settings.error} />
      {settings.data ? (
        <SettingsForm settings={settings.data as unknown as Doc} onSaved={(s) => settings.setData(s as unknown as SettingsDoc)} />
      ) : settings.loading ? (
        <Loading />
      ) : null}
    </>
  );
}

function SettingsForm({ settings, onSaved }: { settings: Doc; onSaved: (s: Doc) => void }): ReactNode {
  const { can, session } = useSession();
  const editable = can('settings.edit');
  // Groups the server reports; a field it does not know is not shown.
  const groups = useMemo(
    () => GROUPS.map((g) => ({ ...g, fields: g.fields.filter((f) => read(settings, f) !== undefined) })).filter((g) => g.fields.length > 0),
    [settings],
  );
  const initial = useMemo(() => {
    const d: Record<string, DraftValue> = {};
    for (const g of groups) for (const f of g.fields) d[keyOf(f)] = toDraft(read(settings, f) as Value, f.kind);
    return d;
  }, [groups, settings]);
  const [draft, setDraft] = useState(initial);
  const [base, setBase] = useState(settings);
  const action = useAction();
  const errors = fieldErrors(action.error);

  /** Only the changed fields, nested as the API takes them. */
  const [patch, changed] = useMemo(() => {
    const out: Doc = {};
    let count = 0;
    for (const g of groups)
      for (const f of g.fields) {
        const v = fromDraft(draft[keyOf(f)] ?? '', f.kind);
        if (same(read(base, f), v)) continue;
        count++;
        const [a, b] = f.path;
        if (b === undefined) out[a] = v;
        else out[a] = { ...((out[a] as Doc | undefined) ?? {}), [b]: v };
      }
    return [out, count] as const;
  }, [draft, base, groups]);
  const invalidNumber = groups.some((g) =>
    g.fields.some((f) => (f.kind === 'count' || f.kind === 'seconds') && !Number.isInteger(fromDraft(draft[keyOf(f)] ?? '', f.kind))),
  );

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void action.run(async () => {
      const saved = await api<Doc>('/settings', { method: 'PATCH', body: patch });
      setBase(saved);
      onSaved(saved);
      return 'Settings saved.';
    });
  };

  const set = (key: string, value: DraftValue): void => setDraft((d) => ({ ...d, [key]: value }));

  return (
    <form className="settings" onSubmit={submit}>
      {editable ? null : <p className="note info">Read only: your role ({session.role}) may not change settings.</p>}
      <div className="settings-groups">
        {groups.map((g) => (
          <fieldset key={g.title} className="card" disabled={!editable}>
            <legend>{g.title}</legend>
            <p className="help">{g.help}</p>
            {g.fields.map((f) => (
              <SettingField key={keyOf(f)} spec={f} value={draft[keyOf(f)] ?? ''} error={errors[keyOf(f)]} onChange={(v) => set(keyOf(f), v)} />
            ))}
          </fieldset>
        ))}
      </div>
      {editable ? (
        <div className="save-bar">
          <ErrorNote error={action.error} />
          <Notice>{action.message}</Notice>
          <span className="subtle" aria-live="polite">
            {changed === 0 ? 'No changes' : `${changed} change${changed === 1 ? '' : 's'} to save`}
          </span>
          <button
            type="button"
            disabled={changed === 0 || action.busy}
            onClick={() => {
              setDraft(initial);
              action.clear();
            }}
          >
            Undo changes
          </button>
          <button type="submit" className="primary" disabled={changed === 0 || action.busy || invalidNumber}>
            {action.busy ? 'Saving…' : 'Save settings'}
          </button>
        </div>
      ) : null}
    </form>
  );
}

function SettingField({
  spec,
  value,
  error,
  onChange,
}: {
  spec: FieldSpec;
  value: DraftValue;
  error: string | undefined;
  onChange: (v: DraftValue) => void;
}): ReactNode {
  if (spec.kind === 'bool') return <Check label={spec.label} help={spec.help || undefined} checked={value === true} onChange={onChange} error={error} />;
  if (spec.kind === 'methods') {
    const list = value as readonly string[];
    return (
      <fieldset className="checks">
        <legend>{spec.label}</legend>
        {PORTAL_METHODS.map((m) => (
          <Check key={m} label={methodName(m)} checked={list.includes(m)} onChange={(on) => onChange(on ? [...list, m] : list.filter((x) => x !== m))} />
        ))}
        {error ? <p className="field-error">{error}</p> : null}
      </fieldset>
    );
  }
  const text = value as string;
  const seconds = spec.kind === 'seconds' && /^\d+$/.test(text.trim()) ? formatSeconds(Number(text)) : '';
  const help = [spec.help, seconds && spec.help ? `(${seconds})` : seconds].filter((s) => s !== '').join(' ') || undefined;
  return (
    <Field label={spec.label} help={help} error={error}>
      {({ id, describedBy, invalid }) =>
        spec.kind === 'networks' ? (
          <textarea
            id={id}
            rows={4}
            spellCheck={false}
            value={text}
            aria-describedby={describedBy}
            aria-invalid={invalid || undefined}
            onChange={(e) => onChange(e.target.value)}
          />
        ) : (
          <input
            id={id}
            type={spec.kind === 'text' ? 'text' : 'number'}
            min={spec.kind === 'text' ? undefined : 0}
            step={spec.kind === 'text' ? undefined : 1}
            inputMode={spec.kind === 'text' ? undefined : 'numeric'}
            value={text}
            aria-describedby={describedBy}
            aria-invalid={invalid || undefined}
            onChange={(e) => onChange(e.target.value)}
          />
        )
      }
    </Field>
  );
}
