/** Builds audit events with the fields MFA Server reported, and appends them. */
import type { Actor } from './api.ts';
import type { Store } from './ports.ts';
import type { Authentication, MethodRecord, NewAuditEvent, User } from './types.ts';

function actorName(actor: Actor): string {
  return `${actor.kind}:${actor.name}`;
}

/** The user's fields of an event: from the user when known, else only the name given. */
function userFields(user: User | undefined, username: string | null) {
  return {
    username: user?.username ?? username,
    userId: user?.id ?? null,
    displayName: user?.displayName ?? null,
    email: user?.email ?? null,
    phone: user?.phone?.number ?? null,
  };
}

type AuthenticationEvent = { auth: Authentication; user: User | undefined; method: MethodRecord | undefined; actor: Actor; mode: string };

export function createAudit(store: Store, serverName: string) {
  /** The event of an authentication's decision (appended by `authentication`, or written with it by the store). */
  function authenticationEvent(e: AuthenticationEvent): NewAuditEvent {
    const { auth, user, method } = e;
    return {
      at: auth.updatedAt,
      kind: 'authentication',
      action: 'authenticate',
      result: auth.state,
      reason: auth.reason,
      ...userFields(user, auth.username),
      device: method?.label ?? null,
      method: method?.type ?? auth.methodType,
      mode: e.mode,
      application: auth.applicationName,
      serverName,
      clientIp: auth.clientIp,
      actor: actorName(e.actor),
      authenticationId: auth.id,
      details: null,
    };
  }

  return {
    authenticationEvent,

    async authentication(e: AuthenticationEvent): Promise<void> {
      await store.audit.append(authenticationEvent(e));
    },

    async admin(e: {
      action: string;
      actor: Actor;
      now: number;
      user?: User | undefined;
      username?: string;
      result?: 'success' | 'failure';
      reason?: string | null;
      details?: Record<string, unknown> | null;
    }): Promise<void> {
      await store.audit.append({
        at: e.now,
        kind: 'admin',
        action: e.action,
        result: e.result ?? 'success',
        reason: e.reason ?? null,
        ...userFields(e.user, e.username ?? null),
        device: null,
        method: null,
        mode: null,
        application: null,
        serverName,
        clientIp: null,
        actor: actorName(e.actor),
        authenticationId: null,
        details: e.details ?? null,
      });
    },

    /** A portal or console sign-in refused before a second factor was asked for (wrong password, no console role...). */
    async signInRefused(e: {
      application: string;
      username: string;
      user: User | undefined;
      reason: string;
      clientIp: string | null;
      actor: Actor;
      now: number;
    }): Promise<void> {
      await store.audit.append({
        at: e.now,
        kind: 'authentication',
        action: 'sign_in',
        result: 'denied',
        reason: e.reason,
        ...userFields(e.user, e.username),
        device: null,
        method: null,
        mode: 'password',
        application: e.application,
        serverName,
        clientIp: e.clientIp,
        actor: actorName(e.actor),
        authenticationId: null,
        details: null,
      });
    },

    /** A RADIUS accounting record (start, stop, interim update) from a network device. */
    async accounting(e: {
      now: number;
      status: string;
      username: string | null;
      application: string;
      clientIp: string | null;
      device: string;
      details: Record<string, unknown>;
    }): Promise<void> {
      await store.audit.append({
        at: e.now,
        kind: 'accounting',
        action: 'radius.accounting',
        result: e.status,
        reason: null,
        username: e.username,
        userId: null,
        displayName: null,
        email: null,
        phone: null,
        device: null,
        method: null,
        mode: null,
        application: e.application,
        serverName,
        clientIp: e.clientIp,
        actor: `radius:${e.device}`,
        authenticationId: null,
        details: e.details,
      });
    },
  };
}

export type Audit = ReturnType<typeof createAudit>;
