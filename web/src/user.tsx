/**
 * One user: profile, state and its actions (enable/disable, unlock, block/unblock, bypass),
 * methods (reset), console role, RADIUS reply attributes, a test authentication, history and audit
 * trail.
 */
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { api, ApiError, query, seg } from './api.ts';
import { EventTable } from './events.tsx';
import { formatSeconds } from './format.ts';
import { href, navigate } from './router.ts';
import { useSession } from './session.tsx';
import {
  CONSOLE_ROLES,
  METHOD_TYPES,
  methodName,
  type Application,
  type AuditEvent,
  type AuthenticationView,
  type BypassView,
  type ConsoleRole,
  type MethodType,
  type MethodView,
  type Page,
  type UserView,
} from './types.ts';
import {
  ConfirmButton,
  ErrorNote,
  Facts,
  Field,
  Loading,
  Notice,
  PageTitle,
  ResultBadge,
  Section,
  StateBadge,
  Time,
  useAction,
  useInterval,
  useLoad,
  type Loaded,
  ScrollBox,
} from './ui.tsx';

/** A user as the API returns it; the console role is present when the server shows it. */
type User = UserView & { readonly consoleRole?: ConsoleRole | null };

export function UserPage({ username }: { username: string }): ReactNode {
  const user = useLoad((signal) => api<User>(`/users/${seg(username)}`, { signal }), [username]);
  const { can } = useSession();
  // Bumped after a change so the history and audit trail show it.
  const [changes, setChanges] = useState(0);
  const changed = (u?: User): void => {
    if (u) user.setData(u);
    setChanges((n) => n + 1);
  };

  if (user.data === undefined) {
    return (
      <>
        <PageTitle>{username}</PageTitle>
        {user.error ? <ErrorNote error={user.error} /> : <Loading />}
        <p>
          <a href={href('users')}>Back to users</a>
        </p>
      </>
    );
  }
  const u = user.data;
  return (
    <>
      <p className="crumbs">
        <a href={href('users')}>Users</a> <span aria-hidden="true">/</span> {u.username}
      </p>
      <PageTitle actions={<StateBadge state={u.state} />}>
        {u.displayName ?? u.username}
        {u.displayName ? <span className="title-sub"> {u.username}</span> : null}
      </PageTitle>
      <div className="grid-2 user-grid">
        <div className="stack">
          <Profile user={u} onSaved={changed} />
          <Methods username={u.username} changes={changes} onChanged={() => changed()} />
          {can('users.support') ? <TestAuthentication username={u.username} onDone={() => changed()} /> : null}
        </div>
        <div className="stack">
          <StateActions user={u} onChanged={changed} />
          <Bypass username={u.username} onChanged={() => changed()} />
          {can('users.role') ? <ConsoleRoleCard user={u} onSaved={changed} /> : null}
          <ReplyAttributesCard user={u} canEdit={can('users.manage')} onSaved={changed} />
          {can('users.manage') ? <DeleteUser user={u} /> : null}
        </div>
      </div>
      <History username={u.username} changes={changes} />
      <UserAudit username={u.username} changes={changes} />
    </>
  );
}

// ---------------------------------------------------------------------------------------------
// Profile

interface ProfileDraft {
  displayName: string;
  email: string;
  phone: string;
  phoneExtension: string;
  backupPhone: string;
  backupPhoneExtension: string;
  language: string;
  defaultMethod: MethodType | '';
}

function draftOf(u: User): ProfileDraft {
  return {
    displayName: u.displayName ?? '',
    email: u.email ?? '',
    phone: u.phone?.number ?? '',
    phoneExtension: u.phone?.extension ?? '',
    backupPhone: u.backupPhone?.number ?? '',
    backupPhoneExtension: u.backupPhone?.extension ?? '',
    language: u.language,
    defaultMethod: u.defaultMethod ?? '',
  };
}

/** Only what changed, in the API's shape. */
function patchOf(before: ProfileDraft, after: ProfileDraft): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  const text = (v: string): string | null => (v.trim() === '' ? null : v.trim());
  if (after.displayName !== before.displayName) patch['displayName'] = text(after.displayName);
  if (after.email !== before.email) patch['email'] = text(after.email);
  if (after.phone !== before.phone || after.phoneExtension !== before.phoneExtension) {
    patch['phone'] = after.phone.trim() === '' ? null : { number: after.phone.trim(), extension: text(after.phoneExtension) };
  }
  if (after.backupPhone !== before.backupPhone || after.backupPhoneExtension !== before.backupPhoneExtension) {
    patch['backupPhone'] = after.backupPhone.trim() === '' ? null : { number: after.backupPhone.trim(), extension: text(after.backupPhoneExtension) };
  }
  if (after.language !== before.language) patch['language'] = after.language.trim();
  if (after.defaultMethod !== before.defaultMethod) patch['defaultMethod'] = after.defaultMethod === '' ? null : after.defaultMethod;
  return patch;
}

/** Field errors by the draft field they belong to ("phone.number" -> phone). */
function fieldErrors(error: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!(error instanceof ApiError)) return out;
  for (const e of error.errors) {
    const [top = '', sub = ''] = e.field.replace(/\[\d+\]/g, '').split('.');
    const key = sub === 'extension' ? `${top}Extension` : top;
    out[key] ??= e.message;
  }
  return out;
}

function Profile({ user, onSaved }: { user: User; onSaved: (u: User) => void }): ReactNode {
  const { can } = useSession();
  const editable = can('users.manage');
  const [draft, setDraft] = useState(() => draftOf(user));
  const saved = useRef(draftOf(user));
  const action = useAction();
  const errors = fieldErrors(action.error);
  const patch = patchOf(saved.current, draft);
  const dirty = Object.keys(patch).length > 0;

  const set = (k: keyof ProfileDraft) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [k]: e.target.value }));

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void action.run(async () => {
      const updated = await api<User>(`/users/${seg(user.username)}`, { method: 'PATCH', body: patch });
      saved.current = draftOf(updated);
      setDraft(draftOf(updated));
      onSaved(updated);
      return 'Profile saved.';
    });
  };

  if (!editable) {
    return (
      <Section title="Profile">
        <Facts
          rows={[
            ['Display name', user.displayName ?? '—'],
            ['Email', user.email ?? '—'],
            ['Phone', user.phone ? `${user.phone.number}${user.phone.extension ? ` ext. ${user.phone.extension}` : ''}` : '—'],
            ['Backup phone', user.backupPhone ? `${user.backupPhone.number}${user.backupPhone.extension ? ` ext. ${user.backupPhone.extension}` : ''}` : '—'],
            ['Language', user.language],
            ['Default method', user.defaultMethod ?? 'the first one set up'],
            ['Source', user.source.kind === 'directory' ? `directory ${user.source.directory}` : 'local'],
          ]}
        />
      </Section>
    );
  }

  const text = (k: keyof ProfileDraft, label: string, extra: { type?: string; autoComplete?: string; help?: string } = {}): ReactNode => (
    <Field label={label} error={errors[k]} help={extra.help}>
      {({ id, describedBy, invalid }) => (
        <input
          id={id}
          type={extra.type ?? 'text'}
          autoComplete={extra.autoComplete ?? 'off'}
          value={draft[k]}
          onChange={set(k)}
          aria-describedby={describedBy}
          aria-invalid={invalid || undefined}
        />
      )}
    </Field>
  );

  return (
    <Section title="Profile">
      <form onSubmit={submit} className="form">
        {text('displayName', 'Display name')}
        {text('email', 'Email', { type: 'email' })}
        <div className="row">
          {text('phone', 'Phone', { type: 'tel', help: 'International format (+1 415 555 2671), or the national format of the default country.' })}
          {text('phoneExtension', 'Extension')}
        </div>
        <div className="row">
          {text('backupPhone', 'Backup phone', { type: 'tel' })}
          {text('backupPhoneExtension', 'Extension')}
        </div>
        <div className="row">
          {text('language', 'Language', { help: 'Language tag of messages to the user: en, fr-CA.' })}
          <Field label="Default method" error={errors['defaultMethod']}>
            {({ id }) => (
              <select id={id} value={draft.defaultMethod} onChange={set('defaultMethod')}>
                <option value="">First one set up</option>
                {METHOD_TYPES.map((m) => (
                  <option key={m} value={m}>
                    {methodName(m)}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <p className="subtle">
          Source: {user.source.kind === 'directory' ? `directory ${user.source.directory} (synchronized fields may be overwritten)` : 'local'}
        </p>
        <ErrorNote error={action.error} />
        <Notice>{action.message}</Notice>
        <div className="actions">
          <button type="submit" className="primary" disabled={!dirty || action.busy}>
            {action.busy ? 'Saving…' : 'Save profile'}
          </button>
          <button
            type="button"
            disabled={!dirty || action.busy}
            onClick={() => {
              setDraft(saved.current);
              action.clear();
            }}
          >
            Undo changes
          </button>
        </div>
      </form>
    </Section>
  );
}

// ---------------------------------------------------------------------------------------------
// State and its actions

function StateActions({ user, onChanged }: { user: User; onChanged: (u: User) => void }): ReactNode {
  const { can } = useSession();
  const action = useAction();
  const [reason, setReason] = useState('');
  const path = `/users/${seg(user.username)}`;
  const post = (verb: string, body?: unknown, done?: string): void => {
    void action.run(async () => {
      const updated = await api<User>(`${path}/${verb}`, { method: 'POST', ...(body === undefined ? {} : { body }) });
      onChanged(updated);
      setReason('');
      return done;
    });
  };
  const signOut = (): void => {
    void action.run(async () => {
      const { ended } = await api<{ ended: number }>(`${path}/sign-out`, { method: 'POST' });
      return `${ended} session${ended === 1 ? '' : 's'} ended.`;
    });
  };
  const blocked = user.blockedAt !== null;
  const locked = user.lockedAt !== null;

  return (
    <Section title="State">
      <Facts
        rows={[
          ['State', <StateBadge key="s" state={user.state} />],
          ['Account', user.status === 'enabled' ? 'Enabled' : 'Disabled: cannot authenticate'],
          ['Failed attempts', String(user.failedCount)],
          locked && ['Locked', <Time key="l" at={user.lockedAt} />],
          blocked && ['Blocked', <Time key="b" at={user.blockedAt} />],
          blocked && ['Block reason', user.blockedReason ?? '—'],
          ['PIN', user.hasPin ? 'Set' : 'None'],
          ['Local password', user.hasPassword ? 'Set' : 'None'],
          ['Created', <Time key="c" at={user.createdAt} />],
        ]}
      />
      {can('users.support') ? (
        <div className="state-actions">
          {locked ? (
            <button type="button" className="primary" disabled={action.busy} onClick={() => post('unlock', undefined, 'User unlocked.')}>
              Unlock
            </button>
          ) : null}
          <ConfirmButton
            title={`Sign ${user.username} out everywhere?`}
            message={<p>Every portal, console and web gateway session of the user ends: each device needs a new sign-in.</p>}
            confirmLabel="Sign out everywhere"
            onConfirm={signOut}
            disabled={action.busy}
          >
            Sign out everywhere
          </ConfirmButton>
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              post(blocked ? 'unblock' : 'block', { reason: reason.trim() }, blocked ? 'User unblocked.' : 'User blocked.');
            }}
          >
            <Field label={blocked ? 'Reason to unblock' : 'Reason to block'} help="Kept in the audit trail.">
              {({ id, describedBy }) => (
                <input id={id} required maxLength={1000} value={reason} aria-describedby={describedBy} onChange={(e) => setReason(e.target.value)} />
              )}
            </Field>
            <button type="submit" className={blocked ? undefined : 'danger'} disabled={action.busy || reason.trim() === ''}>
              {blocked ? 'Unblock' : 'Block'}
            </button>
          </form>
        </div>
      ) : null}
      {can('users.manage') ? (
        <div className="actions">
          {user.status === 'enabled' ? (
            <ConfirmButton
              title={`Disable ${user.username}?`}
              message={<p>The user cannot authenticate until enabled again.</p>}
              confirmLabel="Disable"
              onConfirm={() => post('disable', undefined, 'User disabled.')}
              disabled={action.busy}
            >
              Disable
            </ConfirmButton>
          ) : (
            <button type="button" disabled={action.busy} onClick={() => post('enable', undefined, 'User enabled.')}>
              Enable
            </button>
          )}
        </div>
      ) : null}
      <ErrorNote error={action.error} />
      <Notice>{action.message}</Notice>
    </Section>
  );
}

function Bypass({ username, onChanged }: { username: string; onChanged: () => void }): ReactNode {
  const { can } = useSession();
  const support = can('users.support');
  const path = `/users/${seg(username)}/bypass`;
  const current: Loaded<BypassView | null> = useLoad(
    (signal) =>
      api<BypassView>(path, { signal }).catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 404) return null;
        throw e;
      }),
    [path],
  );
  const [seconds, setSeconds] = useState('300');
  const [reason, setReason] = useState('');
  const action = useAction();
  const bypass = current.data;

  const issue = (e: FormEvent): void => {
    e.preventDefault();
    void action.run(async () => {
      const created = await api<BypassView>(path, { method: 'POST', body: { seconds: Number(seconds), reason: reason.trim() } });
      current.setData(created);
      setReason('');
      onChanged();
      return `Bypass issued for ${formatSeconds(Number(seconds))}.`;
    });
  };
  const cancel = (): void => {
    void action.run(async () => {
      await api(path, { method: 'DELETE' });
      current.setData(null);
      onChanged();
      return 'Bypass cancelled.';
    });
  };

  return (
    <Section title="One-time bypass">
      <ErrorNote error={current.error} />
      {bypass ? (
        <div className="callout">
          <Facts
            rows={[
              ['Reason', bypass.reason],
              ['Issued by', bypass.createdBy],
              ['Expires', <Time key="e" at={bypass.expiresAt} relative />],
              bypass.usedAt !== null && ['Used', <Time key="u" at={bypass.usedAt} />],
            ]}
          />
          {support ? (
            <button type="button" disabled={action.busy} onClick={cancel}>
              Cancel bypass
            </button>
          ) : null}
        </div>
      ) : current.loading ? null : (
        <p className="subtle">No active bypass.</p>
      )}
      {support ? (
        <form className="form" onSubmit={issue}>
          <p className="help">The next sign-in of the user passes without a second factor, once, within the lifetime.</p>
          <div className="row">
            <Field label="Lifetime (seconds)" help={seconds && Number(seconds) > 0 ? formatSeconds(Number(seconds)) : undefined}>
              {({ id, describedBy }) => (
                <input
                  id={id}
                  type="number"
                  min={1}
                  step={1}
                  required
                  value={seconds}
                  aria-describedby={describedBy}
                  onChange={(e) => setSeconds(e.target.value)}
                />
              )}
            </Field>
            <Field label="Reason">{({ id }) => <input id={id} required maxLength={1000} value={reason} onChange={(e) => setReason(e.target.value)} />}</Field>
          </div>
          <button type="submit" disabled={action.busy || reason.trim() === '' || !(Number(seconds) > 0)}>
            {bypass ? 'Replace bypass' : 'Issue bypass'}
          </button>
        </form>
      ) : null}
      <ErrorNote error={action.error} />
      <Notice>{action.message}</Notice>
    </Section>
  );
}

function ConsoleRoleCard({ user, onSaved }: { user: User; onSaved: (u: User) => void }): ReactNode {
  const known = user.consoleRole !== undefined;
  const [role, setRole] = useState<ConsoleRole | ''>(user.consoleRole ?? '');
  const action = useAction();
  const save = (e: FormEvent): void => {
    e.preventDefault();
    void action.run(async () => {
      const updated = await api<User | undefined>(`/users/${seg(user.username)}/console-role`, { method: 'PUT', body: { role: role === '' ? null : role } });
      if (updated && typeof updated === 'object' && 'username' in updated) onSaved(updated);
      return role === '' ? 'Console access removed.' : `Console role set to ${role}.`;
    });
  };
  return (
    <Section title="Console role">
      <form className="inline-form" onSubmit={save}>
        <Field label="Role in this console" help="Admin: everything. Helpdesk: find users, unlock, bypass, reset methods, test. Auditor: read only.">
          {({ id, describedBy }) => (
            <select id={id} value={role} aria-describedby={describedBy} onChange={(e) => setRole(e.target.value as ConsoleRole | '')}>
              <option value="">No console access</option>
              {CONSOLE_ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" disabled={action.busy || (known && role === (user.consoleRole ?? ''))}>
          Save role
        </button>
      </form>
      <ErrorNote error={action.error} />
      <Notice>{action.message}</Notice>
    </Section>
  );
}

/** `Name=Value` lines <-> the API's list; a line without `=` is sent as a name with no value (the server names it). */
const attributesText = (list: User['replyAttributes']): string => list.map((a) => `${a.name}=${a.value}`).join('\n');
function attributesOf(text: string): { name: string; value: string }[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const at = line.indexOf('=');
      return at < 0 ? { name: line, value: '' } : { name: line.slice(0, at).trim(), value: line.slice(at + 1).trim() };
    });
}

function ReplyAttributesCard({ user, canEdit, onSaved }: { user: User; canEdit: boolean; onSaved: (u: User) => void }): ReactNode {
  const current = attributesText(user.replyAttributes ?? []);
  const [text, setText] = useState(current);
  useEffect(() => setText(current), [current]);
  const action = useAction();
  const save = (attributes: { name: string; value: string }[]): void => {
    void action.run(async () => {
      const updated = await api<User>(`/users/${seg(user.username)}/reply-attributes`, { method: 'PUT', body: { attributes } });
      onSaved(updated);
      return attributes.length === 0 ? 'Reply attributes cleared.' : 'Reply attributes saved.';
    });
  };
  const list = user.replyAttributes ?? [];
  return (
    <Section title="RADIUS reply attributes">
      {!canEdit ? (
        list.length === 0 ? (
          <p className="subtle">None: this user gets the RADIUS client's and groups' attributes only.</p>
        ) : (
          <Facts rows={list.map((a) => [a.name, <span className="mono">{a.value}</span>] as const)} />
        )
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            save(attributesOf(text));
          }}
        >
          <Field label="One Name=Value per line" help="Added last to this user's Access-Accepts; each name replaces the client's and groups' attributes of that name. E.g. Class=vpn-admins, Filter-Id=admin-acl, Framed-IP-Address=10.8.0.12.">
            {({ id, describedBy }) => (
              <textarea id={id} rows={Math.max(3, list.length + 1)} value={text} aria-describedby={describedBy} spellCheck={false} onChange={(e) => setText(e.target.value)} />
            )}
          </Field>
          <div className="inline-form">
            <button type="submit" disabled={action.busy || text.trim() === current.trim()}>
              Save attributes
            </button>
            {list.length > 0 ? (
              <button type="button" disabled={action.busy} onClick={() => save([])}>
                Clear
              </button>
            ) : null}
          </div>
        </form>
      )}
      <ErrorNote error={action.error} />
      <Notice>{action.message}</Notice>
    </Section>
  );
}

function DeleteUser({ user }: { user: User }): ReactNode {
  const action = useAction();
  return (
    <Section title="Delete" className="danger-zone">
      <p className="help">Removes the user with their methods and bypasses. The audit trail keeps their events.</p>
      <ConfirmButton
        className="danger"
        title={`Delete ${user.username}?`}
        message={<p>This cannot be undone.</p>}
        confirmLabel="Delete user"
        disabled={action.busy}
        onConfirm={() =>
          void action.run(async () => {
            await api(`/users/${seg(user.username)}`, { method: 'DELETE' });
            navigate(href('users'));
          })
        }
      >
        Delete user
      </ConfirmButton>
      <ErrorNote error={action.error} />
    </Section>
  );
}

// ---------------------------------------------------------------------------------------------
// Methods

function Methods({ username, changes, onChanged }: { username: string; changes: number; onChanged: () => void }): ReactNode {
  const { can } = useSession();
  const path = `/users/${seg(username)}/methods`;
  const list = useLoad((signal) => api<{ items: MethodView[] }>(path, { signal }), [path, changes]);
  const action = useAction();
  const reset = (m: MethodView): void => {
    void action.run(async () => {
      await api(`${path}/${seg(m.id)}`, { method: 'DELETE' });
      list.reload();
      onChanged();
      return `${methodName(m.type)} “${m.label}” removed.`;
    });
  };
  const items = list.data?.items ?? [];
  return (
    <Section title="Methods">
      <ErrorNote error={list.error} />
      {list.data && items.length === 0 ? <p className="subtle">No method: the user sets one up at their next portal sign-in.</p> : null}
      {items.length > 0 ? (
        <ScrollBox label="Methods">
          <table>
            <thead>
              <tr>
                <th scope="col">Type</th>
                <th scope="col">Label</th>
                <th scope="col">Added</th>
                <th scope="col">Last used</th>
                {can('users.support') ? (
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {items.map((m) => (
                <tr key={m.id}>
                  <td>
                    {methodName(m.type)}
                    {m.pending ? <span className="badge tone-warn">not confirmed</span> : null}
                  </td>
                  <td>
                    {m.label}
                    {m.config.serial ? <span className="subtle"> · serial {m.config.serial}</span> : null}
                    {typeof m.remaining === 'number' ? <span className="subtle"> · {m.remaining} unused</span> : null}
                  </td>
                  <td>
                    <Time at={m.createdAt} />
                  </td>
                  <td>
                    <Time at={m.lastUsedAt} />
                  </td>
                  {can('users.support') ? (
                    <td className="row-actions">
                      <ConfirmButton
                        ariaLabel={`Reset ${methodName(m.type)} ${m.label}`}
                        title={`Reset ${methodName(m.type)} “${m.label}”?`}
                        message={<p>The method is removed. {username} has to set up a new one before signing in with it.</p>}
                        confirmLabel="Remove method"
                        disabled={action.busy}
                        onConfirm={() => reset(m)}
                      >
                        Reset
                      </ConfirmButton>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollBox>
      ) : null}
      <ErrorNote error={action.error} />
      <Notice>{action.message}</Notice>
    </Section>
  );
}

// ---------------------------------------------------------------------------------------------
// Test authentication

const FINAL = new Set(['approved', 'denied', 'expired']);

function TestAuthentication({ username, onDone }: { username: string; onDone: () => void }): ReactNode {
  const apps = useLoad((signal) => api<{ items: Application[] }>('/applications', { signal }), []);
  const [application, setApplication] = useState('default');
  const [auth, setAuth] = useState<AuthenticationView>();
  const [code, setCode] = useState('');
  const action = useAction();
  const codeInput = useRef<HTMLInputElement>(null);
  const open = auth !== undefined && !FINAL.has(auth.state);

  useEffect(() => {
    if (auth?.state === 'challenge') codeInput.current?.focus();
  }, [auth?.state]);

  // Live: the state changes on its own when a challenge expires or a pending sign-in is answered.
  useInterval(
    () => {
      if (auth === undefined) return;
      api<AuthenticationView>(`/authentications/${seg(auth.id)}`).then(
        (a) => {
          setAuth((cur) => (cur?.id === a.id && cur.state !== a.state ? a : cur));
          if (FINAL.has(a.state)) onDone();
        },
        () => undefined,
      );
    },
    2000,
    open,
  );

  const start = (e: FormEvent): void => {
    e.preventDefault();
    setCode('');
    void action.run(async () => {
      const created = await api<AuthenticationView>('/authentications', { method: 'POST', body: { username, application } });
      setAuth(created);
      if (FINAL.has(created.state)) onDone();
    });
  };
  const answer = (e: FormEvent): void => {
    e.preventDefault();
    if (auth === undefined) return;
    void action.run(async () => {
      const answered = await api<AuthenticationView>(`/authentications/${seg(auth.id)}/passcode`, {
        method: 'POST',
        body: { passcode: code.replace(/\s+/g, '') },
      });
      setAuth(answered);
      setCode('');
      onDone();
    });
  };

  const names = apps.data?.items.map((a) => a.name) ?? ['default'];
  return (
    <Section title="Test authentication">
      <p className="help">Starts a real sign-in for {username}. Ask the user for the code their authenticator shows.</p>
      <form className="inline-form" onSubmit={start}>
        <Field label="Application">
          {({ id }) => (
            <select id={id} value={application} onChange={(e) => setApplication(e.target.value)}>
              {(names.includes('default') ? names : ['default', ...names]).map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" disabled={action.busy || open}>
          Start test
        </button>
      </form>
      {auth?.state === 'challenge' ? (
        <form className="inline-form" onSubmit={answer}>
          <Field label="Code from the user">
            {({ id }) => (
              <input
                ref={codeInput}
                id={id}
                inputMode="numeric"
                autoComplete="off"
                required
                maxLength={9}
                value={code}
                onChange={(e) => setCode(e.target.value)}
              />
            )}
          </Field>
          <button type="submit" className="primary" disabled={action.busy || code.trim() === ''}>
            Check code
          </button>
        </form>
      ) : null}
      <div aria-live="polite" className="test-result">
        {auth ? (
          <p>
            <ResultBadge result={auth.state} />{' '}
            {auth.state === 'challenge'
              ? `Waiting for the code (expires ${new Date(auth.expiresAt).toLocaleTimeString()}).`
              : auth.state === 'pending'
                ? 'Waiting for the user to answer…'
                : auth.state === 'approved'
                  ? `Approved${auth.method ? ` with ${methodName(auth.method)}` : ''}.`
                  : auth.state === 'denied'
                    ? 'Denied. The reason is in the audit trail below.'
                    : 'Expired: no code in time.'}
          </p>
        ) : null}
      </div>
      <ErrorNote error={action.error} />
    </Section>
  );
}

// ---------------------------------------------------------------------------------------------
// History and audit trail

function History({ username, changes }: { username: string; changes: number }): ReactNode {
  const history = useLoad((signal) => api<{ items: AuditEvent[] }>(`/users/${seg(username)}/history${query({ limit: 20 })}`, { signal }), [username, changes]);
  return (
    <Section title="History">
      <ErrorNote error={history.error} />
      {history.data?.items.length === 0 ? <p className="subtle">Never blocked, locked or bypassed.</p> : null}
      {history.data && history.data.items.length > 0 ? (
        <EventTable events={history.data.items} columns={['time', 'action', 'result', 'actor', 'reason']} caption={`History of ${username}`} />
      ) : null}
    </Section>
  );
}

function UserAudit({ username, changes }: { username: string; changes: number }): ReactNode {
  const [before, setBefore] = useState<(number | null)[]>([null]);
  const cursor = before.at(-1) ?? null;
  const page = useLoad(
    (signal) => api<Page<AuditEvent>>(`/audit-events${query({ username, limit: 20, before: cursor })}`, { signal }),
    [username, cursor, changes],
  );
  const next = page.data?.next ?? null;
  return (
    <Section title="Audit trail" actions={<a href={`#/reports${query({ username })}`}>Open in reports</a>}>
      <ErrorNote error={page.error} />
      {page.data?.items.length === 0 ? <p className="subtle">No events.</p> : null}
      {page.data && page.data.items.length > 0 ? (
        <EventTable
          events={page.data.items}
          columns={['time', 'action', 'result', 'application', 'method', 'client', 'actor', 'reason']}
          caption={`Audit trail of ${username}`}
          busy={page.loading}
        />
      ) : null}
      {before.length > 1 || next !== null ? (
        <nav className="pager" aria-label="Pages of the audit trail">
          <button type="button" disabled={before.length <= 1} onClick={() => setBefore((b) => b.slice(0, -1))}>
            ← Newer
          </button>
          <button type="button" disabled={next === null} onClick={() => setBefore((b) => [...b, Number(next)])}>
            Older →
          </button>
        </nav>
      ) : null}
    </Section>
  );
}
