/**
 * What the console reads from the server: the REST API's JSON shapes (the core's views) and the
 * console's own routes under /admin/session and /api/v1/reports.
 */
import type { ApiKeyView, AuthenticationView, BypassView, MethodView, UserView } from '../../src/core/api.ts';
import type { Application, AuditEvent, ConsoleRole, EffectiveStatus, MethodType, Role, Settings } from '../../src/core/types.ts';

export { CONSOLE_ROLES, METHOD_TYPES } from '../../src/core/types.ts';

export type {
  ApiKeyView,
  Application,
  AuditEvent,
  AuthenticationView,
  BypassView,
  ConsoleRole,
  EffectiveStatus,
  MethodType,
  MethodView,
  Role,
  Settings,
  UserView,
};

/** How each method type reads in the console (a new type does not compile until named here). */
const METHOD_NAMES: Readonly<Record<MethodType, string>> = { totp: 'TOTP', hotp: 'HOTP', backup: 'Backup codes', questions: 'Security questions (legacy, weaker)', sms: 'Text message', voice: 'Phone call', push: 'Mobile app (push)' };
export const methodName = (type: string): string => METHOD_NAMES[type as MethodType] ?? type;
export const STATES: readonly EffectiveStatus[] = ['enabled', 'locked', 'blocked', 'disabled'];

/** The signed-in operator, from POST /admin/session/passcode, /enroll or GET /admin/session. */
export interface Session {
  readonly username: string;
  readonly displayName: string | null;
  readonly role: ConsoleRole;
  readonly csrf: string;
  readonly expiresAt: number;
}

/** POST /admin/session: what the second step is. */
export type SignInStep =
  | { readonly next: 'passcode' }
  | { readonly next: 'enroll'; readonly enrollment: { readonly secret: string; readonly otpauthUri: string; readonly qrSvg: string } };

export interface Page<T> {
  readonly items: readonly T[];
  readonly next: string | number | null;
}

/** GET /api/v1/reports/sign-ins */
export interface SignInReport {
  readonly bucket: 'hour' | 'day';
  readonly series: readonly { readonly at: number | string; readonly approved: number; readonly denied: number; readonly expired: number }[];
  readonly byMethod: readonly { readonly method: string | null; readonly approved: number; readonly denied: number }[];
  readonly byApplication: readonly { readonly application: string | null; readonly approved: number; readonly denied: number }[];
}

/** GET /api/v1/reports/summary */
export interface Summary {
  readonly users: { readonly total: number; readonly enabled: number; readonly locked: number; readonly blocked: number; readonly disabled: number };
  readonly recentFailures: readonly AuditEvent[];
  readonly fraudReports: readonly AuditEvent[];
  readonly server: { readonly serverName: string; readonly version: string; readonly startedAt: number | string; readonly store: string };
}

export interface SyncCounts {
  readonly seen: number;
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly disabled: number;
  readonly enabled: number;
  readonly removed: number;
  readonly errors: number;
  readonly skipped: number;
}

export type SyncRunStatus = 'running' | 'completed' | 'failed' | 'interrupted' | 'awaiting_approval' | 'approved' | 'rejected' | 'superseded';

export interface SyncRun {
  readonly id: string;
  readonly directory: string;
  readonly mode: 'full' | 'incremental';
  readonly trigger: 'schedule' | 'manual' | 'approval';
  readonly status: SyncRunStatus;
  readonly node: string;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly counts: SyncCounts;
  readonly errors: readonly { readonly dn: string; readonly username: string | null; readonly code: string; readonly message: string }[];
  readonly pending: readonly {
    readonly userId: string;
    readonly username: string;
    readonly action: 'disable' | 'delete';
    readonly reason: 'directory_disabled' | 'left_scope';
  }[];
  readonly failure: string | null;
  readonly decidedBy: string | null;
  readonly decidedAt: number | null;
}

export interface Directory {
  readonly name: string;
  readonly preset: string;
  readonly urls: readonly string[];
  readonly baseDn: string;
  readonly bindDn: string;
  readonly startTls: boolean;
  readonly loginAttribute: string;
  readonly sync: {
    readonly scheduled: boolean;
    readonly intervalMinutes: number;
    readonly removal: 'disable' | 'delete' | 'none';
    readonly removalThreshold: number;
    readonly items: readonly { readonly name: string }[];
    readonly runningOn: string | null;
    readonly lastRun: SyncRun | null;
    readonly awaitingApproval: readonly string[];
    readonly nextRunAt: number | null;
  } | null;
}
