/**
 * Sign-in sessions of the user portal and the admin console.
 *
 * A session starts when the first factor passes and is complete once the second factor (or a
 * first enrollment) is done; it is then renewed under a new token, so a token seen before sign-in
 * is worthless after it. The token is 256 random bits given to the browser once; the database holds
 * only its keyed hash. A session ends after `sessions.idleSeconds` without a request, at
 * `sessions.absoluteSeconds` after it started whatever the activity, when the user signs out, and
 * at once when the user is disabled, blocked, deleted or loses their console role: every request
 * resolves the session against the user's current state (fail closed).
 */
import type { Actor, SessionView, SignInRefusal } from '../api.ts';
import type { Audit } from '../audit.ts';
import { isIpAddress } from '../auth/networks.ts';
import { CoreError } from '../errors.ts';
import type { Clock, KeyedHasher, Random, SessionRecord, SessionStage, Store } from '../ports.ts';
import type { PolicyCache } from '../policy-cache.ts';
import type { User } from '../types.ts';
import { toUserView } from './users.ts';

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
/** lastSeenAt is written at most this often per session (idle timeouts are minutes long). */
const TOUCH_EVERY_MS = 30_000;

export interface SessionsDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly random: Random;
  readonly keyedHasher: KeyedHasher;
  readonly policy: PolicyCache;
  readonly audit: Audit;
}

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/** Usernames longer than this are recorded cut (they name nobody: the longest valid one is shorter). */
const MAX_RECORDED_USERNAME = 256;

export function createSessionsService({ store, clock, random, keyedHasher, policy, audit }: SessionsDeps) {
  const hashOf = (token: string): string => keyedHasher.digest(`session:${token}`);

  function view(token: string, record: SessionRecord, user: User, idleSeconds: number): SessionView {
    return {
      token,
      kind: record.kind,
      user: toUserView(user),
      stage: record.stage,
      csrf: record.csrf,
      data: record.data,
      createdAt: record.createdAt,
      lastSeenAt: record.lastSeenAt,
      expiresAt: Math.min(record.expiresAt, record.lastSeenAt + idleSeconds * 1000),
    };
  }

  /** The user may hold this kind of session right now. */
  function allowed(kind: SessionRecord['kind'], user: User): boolean {
    if (user.status === 'disabled' || user.blockedAt !== null) return false;
    return kind !== 'console' || user.consoleRole !== null;
  }

  return {
    async start(input: { kind: SessionRecord['kind']; userId: string; stage: SessionStage; data?: Record<string, unknown>; clientIp?: string | null }): Promise<SessionView> {
      const user = await store.users.getById(input.userId);
      if (!user || !allowed(input.kind, user)) throw new CoreError('forbidden', 'this account cannot sign in here');
      const settings = await policy.settings();
      const now = clock.now();
      const token = b64url(random.bytes(32));
      const record: SessionRecord = {
        idHash: hashOf(token),
        kind: input.kind,
        userId: user.id,
        stage: input.stage,
        csrf: b64url(random.bytes(32)),
        data: input.data ?? {},
        clientIp: input.clientIp ?? null,
        createdAt: now,
        lastSeenAt: now,
        expiresAt: now + settings.sessions.absoluteSeconds * 1000,
      };
      await store.sessions.create(record);
      return view(token, record, user, settings.sessions.idleSeconds);
    },

    /** The live session of this token, or undefined (unknown, expired, idle, or the user may no longer sign in). */
    async resolve(kind: SessionRecord['kind'], token: string | undefined): Promise<SessionView | undefined> {
      if (token === undefined || !TOKEN.test(token)) return undefined;
      const idHash = hashOf(token);
      const record = await store.sessions.get(idHash);
      if (!record || record.kind !== kind) return undefined;
      const settings = await policy.settings();
      const now = clock.now();
      const user = await store.users.getById(record.userId);
      if (now >= record.expiresAt || now - record.lastSeenAt >= settings.sessions.idleSeconds * 1000 || !user || !allowed(kind, user)) {
        await store.sessions.delete(idHash);
        return undefined;
      }
      let current = record;
      if (now - record.lastSeenAt >= TOUCH_EVERY_MS) {
        await store.sessions.update(idHash, { lastSeenAt: now });
        current = { ...record, lastSeenAt: now };
      }
      return view(token, current, user, settings.sessions.idleSeconds);
    },

    /** Changes the flow state of a live session. */
    async update(session: SessionView, fields: { stage?: SessionStage; data?: Record<string, unknown> }): Promise<SessionView> {
      const ok = await store.sessions.update(hashOf(session.token), fields);
      if (!ok) throw new CoreError('unauthenticated', 'the session has ended');
      return { ...session, ...(fields.stage ? { stage: fields.stage } : {}), ...(fields.data ? { data: fields.data } : {}) };
    },

    /** Moves the session to a new token and anti-forgery token (at sign-in), with new fields. */
    async renew(session: SessionView, fields: { stage: SessionStage; data: Record<string, unknown> }): Promise<SessionView> {
      const old = await store.sessions.get(hashOf(session.token));
      if (!old) throw new CoreError('unauthenticated', 'the session has ended');
      const token = b64url(random.bytes(32));
      const now = clock.now();
      const next: SessionRecord = { ...old, idHash: hashOf(token), csrf: b64url(random.bytes(32)), stage: fields.stage, data: fields.data, lastSeenAt: now };
      if (!(await store.sessions.rename(old.idHash, next))) throw new CoreError('unauthenticated', 'the session has ended');
      return { ...session, token, csrf: next.csrf, stage: next.stage, data: next.data, lastSeenAt: now };
    },

    async end(token: string): Promise<void> {
      if (TOKEN.test(token)) await store.sessions.delete(hashOf(token));
    },

    /** Audits a sign-in refused before a session existed; the reason stays inside. */
    async refused(refusal: SignInRefusal, actor: Actor): Promise<void> {
      if (refusal.kind !== 'portal' && refusal.kind !== 'console' && refusal.kind !== 'gateway') throw new CoreError('validation_failed', 'kind must be portal, console or gateway');
      const application = refusal.application === undefined ? refusal.kind : String(refusal.application).slice(0, 64);
      const typed = typeof refusal.username === 'string' ? refusal.username.slice(0, MAX_RECORDED_USERNAME) : '';
      const user = typed === '' ? undefined : await store.users.getByUsername(typed);
      const ip = refusal.clientIp;
      await audit.signInRefused({
        application,
        username: typed,
        user,
        reason: String(refusal.reason).slice(0, 128),
        clientIp: typeof ip === 'string' && isIpAddress(ip) ? ip : null,
        actor,
        now: clock.now(),
      });
    },

    /** Deletes sessions past their end; returns how many. */
    async prune(): Promise<number> {
      const settings = await policy.settings();
      const now = clock.now();
      return store.sessions.prune(now, now - settings.sessions.idleSeconds * 1000);
    },
  };
}

export type SessionsService = ReturnType<typeof createSessionsService>;
