/** API keys: service accounts of the REST API, each with one role. The token is shown once, at creation. */
import { useRef, useState, type FormEvent, type ReactNode } from 'react';
import { api, seg } from './api.ts';
import { useSession } from './session.tsx';
import type { ApiKeyView, Role } from './types.ts';
import { ConfirmButton, ErrorNote, Field, Loading, Notice, PageTitle, Section, Time, useAction, useLoad, ScrollBox } from './ui.tsx';

const ROLES: readonly { role: Role; help: string }[] = [
  { role: 'sdk', help: 'authentications and reading users: what an application integrating MFA needs' },
  { role: 'helpdesk', help: 'user support: unlock, block, bypass, methods' },
  { role: 'admin', help: 'everything' },
];

export function ApiKeys(): ReactNode {
  const { can } = useSession();
  const manage = can('apiKeys');
  const list = useLoad((signal) => api<{ items: ApiKeyView[] }>('/api-keys', { signal }), []);
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('sdk');
  const [created, setCreated] = useState<{ name: string; token: string }>();
  const create = useAction();
  const revoke = useAction();
  const tokenBox = useRef<HTMLInputElement>(null);

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void create.run(async () => {
      const result = await api<{ key: ApiKeyView; token: string }>('/api-keys', { method: 'POST', body: { name: name.trim(), role } });
      setCreated({ name: result.key.name, token: result.token });
      setName('');
      list.reload();
      window.setTimeout(() => tokenBox.current?.select(), 0);
    });
  };
  const copy = (): void => {
    if (created) void navigator.clipboard.writeText(created.token).catch(() => tokenBox.current?.select());
  };

  return (
    <>
      <PageTitle>API keys</PageTitle>
      <p className="lead">Applications call the REST API with these keys. Countersign keeps only a keyed hash of each.</p>
      <ErrorNote error={list.error} />
      {created ? (
        <section className="card callout token" aria-labelledby="token-title">
          <h2 id="token-title">Key “{created.name}” created</h2>
          <p>Copy it now: it is not shown again.</p>
          <div className="inline-form">
            <label htmlFor="new-token" className="visually-hidden">
              New API key
            </label>
            <input id="new-token" ref={tokenBox} className="mono" readOnly value={created.token} onFocus={(e) => e.target.select()} />
            <button type="button" onClick={copy}>
              Copy
            </button>
            <button type="button" onClick={() => setCreated(undefined)}>
              Done
            </button>
          </div>
        </section>
      ) : null}
      {list.data ? (
        <ScrollBox label="API keys">
          <table className="list">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Key starts</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">{manage ? <span className="visually-hidden">Actions</span> : 'Revoked'}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((k) => (
                <tr key={k.id} className={k.revokedAt !== null ? 'muted' : undefined}>
                  <th scope="row">{k.name}</th>
                  <td>{k.role}</td>
                  <td>
                    <code>{k.prefix}…</code>
                  </td>
                  <td>
                    <Time at={k.createdAt} />
                  </td>
                  <td>
                    <Time at={k.lastUsedAt} />
                  </td>
                  <td className="row-actions">
                    {k.revokedAt !== null ? (
                      <span>
                        Revoked <Time at={k.revokedAt} />
                      </span>
                    ) : !manage ? (
                      <span className="subtle">—</span>
                    ) : (
                      <ConfirmButton
                        ariaLabel={`Revoke ${k.name}`}
                        title={`Revoke the key ${k.name}?`}
                        message={<p>Calls with this key are refused at once.</p>}
                        confirmLabel="Revoke key"
                        onConfirm={() =>
                          void revoke.run(async () => {
                            await api(`/api-keys/${seg(k.id)}`, { method: 'DELETE' });
                            list.reload();
                            return `${k.name} revoked.`;
                          })
                        }
                      >
                        Revoke
                      </ConfirmButton>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollBox>
      ) : list.loading ? (
        <Loading />
      ) : null}
      <ErrorNote error={revoke.error} />
      <Notice>{revoke.message}</Notice>
      {list.error === undefined && manage ? (
        <Section title="Create a key">
          <form className="inline-form" onSubmit={submit}>
            <Field label="Name" help="Who uses it: vpn-portal, helpdesk-tool.">
              {({ id, describedBy }) => (
                <input id={id} required maxLength={128} value={name} aria-describedby={describedBy} onChange={(e) => setName(e.target.value)} />
              )}
            </Field>
            <Field label="Role" help={ROLES.find((r) => r.role === role)?.help}>
              {({ id, describedBy }) => (
                <select id={id} value={role} aria-describedby={describedBy} onChange={(e) => setRole(e.target.value as Role)}>
                  {ROLES.map((r) => (
                    <option key={r.role} value={r.role}>
                      {r.role}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <button type="submit" className="primary" disabled={create.busy || name.trim() === ''}>
              Create key
            </button>
          </form>
          <ErrorNote error={create.error} />
        </Section>
      ) : null}
    </>
  );
}
