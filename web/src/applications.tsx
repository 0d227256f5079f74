/** Applications: what Countersign protects, each with its policy. Administrators add, change and remove them. */
import { useState, type FormEvent, type ReactNode } from 'react';
import { api, ApiError, seg } from './api.ts';
import { useSession } from './session.tsx';
import { METHOD_TYPES, methodName, type Application, type MethodType } from './types.ts';
import { Check, ConfirmButton, ErrorNote, Field, Loading, Notice, PageTitle, Section, Time, useAction, useLoad, ScrollBox } from './ui.tsx';

interface Draft {
  name: string;
  requireUserMatch: boolean;
  trustedIps: string;
  /** '' = the company setting. */
  cacheSeconds: string;
  /** null = every method. */
  allowedMethods: MethodType[] | null;
}

const NEW: Draft = { name: '', requireUserMatch: true, trustedIps: '', cacheSeconds: '', allowedMethods: null };

const draftOf = (a: Application): Draft => ({
  name: a.name,
  requireUserMatch: a.requireUserMatch,
  trustedIps: a.trustedIps.join('\n'),
  cacheSeconds: a.cacheSeconds === null ? '' : String(a.cacheSeconds),
  allowedMethods: a.allowedMethods === null ? null : [...a.allowedMethods],
});

const bodyOf = (d: Draft): Record<string, unknown> => ({
  name: d.name.trim(),
  requireUserMatch: d.requireUserMatch,
  trustedIps: d.trustedIps
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== ''),
  cacheSeconds: d.cacheSeconds.trim() === '' ? null : Number(d.cacheSeconds),
  allowedMethods: d.allowedMethods,
});

function errorsOf(error: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (error instanceof ApiError) for (const e of error.errors) out[e.field.replace(/\[\d+\]/g, '')] ??= e.message;
  return out;
}

export function Applications(): ReactNode {
  const { can } = useSession();
  const list = useLoad((signal) => api<{ items: Application[] }>('/applications', { signal }), []);
  const [editing, setEditing] = useState<string | null>(null);
  const removal = useAction();
  return (
    <>
      <PageTitle>Applications</PageTitle>
      <p className="lead">Each RADIUS client, LDAP client, web site or API client that asks Countersign for a second factor, with its own policy.</p>
      <ErrorNote error={list.error} />
      {list.data ? (
        <ScrollBox label="Applications">
          <table className="list">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Unknown users</th>
                <th scope="col">Trusted networks</th>
                <th scope="col">Remember approvals</th>
                <th scope="col">Methods</th>
                <th scope="col">Changed</th>
                {can('applications.edit') ? (
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((a) => (
                <tr key={a.id}>
                  <th scope="row">{a.name}</th>
                  <td>{a.requireUserMatch ? 'Denied' : 'Pass without second factor'}</td>
                  <td>{a.trustedIps.length === 0 ? <span className="subtle">none</span> : a.trustedIps.join(', ')}</td>
                  <td>{a.cacheSeconds === null ? <span className="subtle">company setting</span> : a.cacheSeconds === 0 ? 'off' : `${a.cacheSeconds} s`}</td>
                  <td>{a.allowedMethods === null ? 'all' : a.allowedMethods.map(methodName).join(', ') || 'none'}</td>
                  <td>
                    <Time at={a.updatedAt} />
                  </td>
                  {can('applications.edit') ? (
                    <td className="row-actions">
                      <button type="button" aria-label={`Edit ${a.name}`} onClick={() => setEditing(a.name)}>
                        Edit
                      </button>
                      <ConfirmButton
                        ariaLabel={`Delete ${a.name}`}
                        title={`Delete the application ${a.name}?`}
                        message={<p>Front doors configured with this name stop working until it exists again.</p>}
                        confirmLabel="Delete application"
                        onConfirm={() =>
                          void removal.run(async () => {
                            await api(`/applications/${seg(a.name)}`, { method: 'DELETE' });
                            list.reload();
                            return `${a.name} deleted.`;
                          })
                        }
                      >
                        Delete
                      </ConfirmButton>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollBox>
      ) : list.loading ? (
        <Loading />
      ) : null}
      <ErrorNote error={removal.error} />
      <Notice>{removal.message}</Notice>
      {can('applications.edit') ? (
        editing !== null && list.data?.items.some((a) => a.name === editing) ? (
          <ApplicationForm
            key={editing}
            initial={draftOf(list.data.items.find((a) => a.name === editing) as Application)}
            existing={editing}
            onDone={() => {
              setEditing(null);
              list.reload();
            }}
          />
        ) : (
          <ApplicationForm key="new" initial={NEW} existing={null} onDone={() => list.reload()} />
        )
      ) : null}
    </>
  );
}

function ApplicationForm({ initial, existing, onDone }: { initial: Draft; existing: string | null; onDone: () => void }): ReactNode {
  const [d, setD] = useState(initial);
  const action = useAction();
  const errors = errorsOf(action.error);
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void action.run(async () => {
      if (existing === null) await api('/applications', { method: 'POST', body: bodyOf(d) });
      else await api(`/applications/${seg(existing)}`, { method: 'PATCH', body: bodyOf(d) });
      if (existing === null) setD(NEW);
      onDone();
      return existing === null ? `${d.name.trim()} added.` : `${d.name.trim()} saved.`;
    });
  };
  return (
    <Section title={existing === null ? 'Add an application' : `Edit ${existing}`}>
      <form className="form" onSubmit={submit}>
        <div className="row">
          <Field label="Name" help="The name front doors send, and users see in messages." error={errors['name']}>
            {({ id, describedBy }) => (
              <input id={id} required maxLength={128} value={d.name} aria-describedby={describedBy} onChange={(e) => setD({ ...d, name: e.target.value })} />
            )}
          </Field>
          <Field label="Remember approvals (seconds)" help="Empty: the company setting. 0: off." error={errors['cacheSeconds']}>
            {({ id, describedBy }) => (
              <input
                id={id}
                type="number"
                min={0}
                step={1}
                value={d.cacheSeconds}
                aria-describedby={describedBy}
                onChange={(e) => setD({ ...d, cacheSeconds: e.target.value })}
              />
            )}
          </Field>
        </div>
        <Check
          label="Deny users Countersign does not know"
          help="Off: unknown users pass without a second factor (while users are being enrolled)."
          checked={d.requireUserMatch}
          onChange={(v) => setD({ ...d, requireUserMatch: v })}
        />
        <Field
          label="Trusted networks"
          help="One per line: address, range a-b or CIDR. Sign-ins from these skip the second factor."
          error={errors['trustedIps']}
        >
          {({ id, describedBy }) => (
            <textarea
              id={id}
              rows={3}
              spellCheck={false}
              value={d.trustedIps}
              aria-describedby={describedBy}
              onChange={(e) => setD({ ...d, trustedIps: e.target.value })}
            />
          )}
        </Field>
        <fieldset className="checks">
          <legend>Methods allowed</legend>
          <Check label="Every method" checked={d.allowedMethods === null} onChange={(all) => setD({ ...d, allowedMethods: all ? null : [...METHOD_TYPES] })} />
          {d.allowedMethods !== null
            ? METHOD_TYPES.map((m) => (
                <Check
                  key={m}
                  label={methodName(m)}
                  checked={d.allowedMethods?.includes(m) ?? false}
                  onChange={(on) => setD({ ...d, allowedMethods: on ? [...(d.allowedMethods ?? []), m] : (d.allowedMethods ?? []).filter((x) => x !== m) })}
                />
              ))
            : null}
        </fieldset>
        <ErrorNote error={action.error} />
        <Notice>{action.message}</Notice>
        <div className="actions">
          <button type="submit" className="primary" disabled={action.busy || d.name.trim() === ''}>
            {existing === null ? 'Add application' : 'Save application'}
          </button>
          {existing !== null ? (
            <button type="button" onClick={onDone}>
              Cancel
            </button>
          ) : null}
        </div>
      </form>
    </Section>
  );
}
