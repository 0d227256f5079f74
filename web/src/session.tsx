/**
 * The signed-in operator and what their console role lets them do. The server decides (a 403 is
 * always shown); the console only hides or disables controls the role cannot use.
 */
import { createContext, useContext } from 'react';
import type { ConsoleRole, Session } from './types.ts';

export type Permission =
  /** Edit a user's profile, enable, disable, delete. */
  | 'users.manage'
  /** Unlock, block and unblock, bypass, reset methods, test authentication. */
  | 'users.support'
  /** Give or take a console role. */
  | 'users.role'
  | 'settings.edit'
  | 'applications.edit'
  /** Create and revoke API keys. */
  | 'apiKeys'
  /** Read the list of API keys. */
  | 'apiKeys.read'
  | 'directories.manage'
  /** Read users' history, the audit trail, settings, applications and directories. */
  | 'read';

const GRANTS: Readonly<Record<ConsoleRole, readonly Permission[]>> = {
  admin: ['users.manage', 'users.support', 'users.role', 'settings.edit', 'applications.edit', 'apiKeys', 'apiKeys.read', 'directories.manage', 'read'],
  helpdesk: ['users.support', 'read'],
  auditor: ['apiKeys.read', 'read'],
};

export function allowed(role: ConsoleRole, permission: Permission): boolean {
  return GRANTS[role].includes(permission);
}

export interface SessionContextValue {
  readonly session: Session;
  readonly can: (permission: Permission) => boolean;
}

export const SessionContext = createContext<SessionContextValue | null>(null);

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (value === null) throw new Error('useSession outside a signed-in console');
  return value;
}
