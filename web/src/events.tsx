/** Audit events as a table, for the reports page, a user's page and the dashboard. */
import type { ReactNode } from 'react';
import { href } from './router.ts';
import type { AuditEvent } from './types.ts';
import { ResultBadge, Time, ScrollBox } from './ui.tsx';

const ACTIONS: Readonly<Record<string, string>> = {
  authenticate: 'Sign-in',
  'user.create': 'User created',
  'user.update': 'User changed',
  'user.delete': 'User deleted',
  'user.block': 'Blocked',
  'user.unblock': 'Unblocked',
  'user.lock': 'Locked',
  'user.unlock': 'Unlocked',
  'user.sign_out': 'Signed out everywhere',
  'user.enable': 'Enabled',
  'user.disable': 'Disabled',
  'user.fraud_report': '“Not me” report',
  'bypass.issue': 'Bypass issued',
  'bypass.cancel': 'Bypass cancelled',
  'method.enroll': 'Method added',
  'method.remove': 'Method reset',
  'settings.update': 'Settings changed',
};

export const actionText = (action: string): string => ACTIONS[action] ?? action;

export type EventColumn = 'time' | 'user' | 'action' | 'result' | 'application' | 'method' | 'client' | 'actor' | 'reason';
const ALL: readonly EventColumn[] = ['time', 'user', 'action', 'result', 'application', 'method', 'client', 'actor', 'reason'];
const HEAD: Readonly<Record<EventColumn, string>> = {
  time: 'Time',
  user: 'User',
  action: 'Event',
  result: 'Result',
  application: 'Application',
  method: 'Method',
  client: 'Client address',
  actor: 'By',
  reason: 'Reason',
};

function cell(e: AuditEvent, column: EventColumn): ReactNode {
  const dash = <span className="subtle">—</span>;
  switch (column) {
    case 'time':
      return <Time at={e.at} seconds />;
    case 'user':
      return e.username ? <a href={href('users', e.username)}>{e.username}</a> : dash;
    case 'action':
      return (
        <>
          {actionText(e.action)}
          {ACTIONS[e.action] && e.action !== 'authenticate' ? (
            <>
              {' '}
              <code className="subtle">{e.action}</code>
            </>
          ) : null}
        </>
      );
    case 'result':
      return <ResultBadge result={e.result} />;
    case 'application':
      return e.application ?? dash;
    case 'method':
      return e.method ?? dash;
    case 'client':
      return e.clientIp ?? dash;
    case 'actor':
      return e.actor ?? dash;
    case 'reason':
      return e.reason ? <span className="reason">{e.reason}</span> : dash;
  }
}

export function EventTable({
  events,
  columns = ALL,
  caption,
  busy,
}: {
  events: readonly AuditEvent[];
  columns?: readonly EventColumn[];
  caption: string;
  busy?: boolean;
}): ReactNode {
  return (
    <ScrollBox label={caption}>
      <table className="list events" aria-busy={busy}>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c} scope="col">
                {HEAD[c]}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id} className={e.action === 'user.fraud_report' ? 'highlight' : undefined}>
              {columns.map((c) => (
                <td key={c}>{cell(e, c)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </ScrollBox>
  );
}
