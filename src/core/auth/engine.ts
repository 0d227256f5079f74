/**
 * The authentication state machine. Every front door calls `start` (optionally with the passcode)
 * and, for a challenge, `answer`. Policy runs as an explicit list of steps; the first step that
 * decides ends the flow. The precise reason goes to the audit trail; callers see only the state.
 *
 *   start ─▶ [application] ─▶ [user] ─▶ [status] ─▶ [trusted IP] ─▶ [cache] ─▶ [bypass]
 *         ─▶ [method] ─▶ [passcode] ─▶ approved | denied | challenge
 *   challenge ─answer─▶ (claimed: pending) ─▶ approved | denied ;  challenge ─timeout─▶ expired
 */
import type { AuthenticationOutcome, AuthenticationView, CreateAuthenticationInput, Actor, AuthenticationListener } from '../api.ts';
import { CoreError } from '../errors.ts';
import { verifyTotp } from '../oath.ts';
import { methods as registry } from '../methods/index.ts';
import type { Clock, Random, Store } from '../ports.ts';
import type { Application, Authentication, AuthReason, AuthState, MethodRecord, MethodType, Settings, User } from '../types.ts';
import type { Audit } from '../audit.ts';
import { PORTAL_APPLICATION, type PolicyCache } from '../policy-cache.ts';
import { createLockout, SYSTEM } from './lockout.ts';

export const FAILURE_MESSAGE = 'authentication failed';
const MESSAGES: Record<AuthState, string> = {
  approved: 'authentication approved',
  denied: FAILURE_MESSAGE,
  expired: FAILURE_MESSAGE,
  challenge: 'enter the code from your authenticator',
  pending: 'waiting for your approval',
};

interface Flow {
  readonly input: CreateAuthenticationInput;
  readonly actor: Actor;
  readonly now: number;
  readonly settings: Settings;
  readonly app: Application;
  /** Answering with a fallback (security questions) instead of a passcode: only that method type counts. */
  readonly fallback?: MethodType;
  user?: User;
  candidates?: MethodRecord[];
  method?: MethodRecord;
}

interface Decision {
  readonly state: AuthState;
  readonly reason: AuthReason;
}

type Step = (flow: Flow) => Promise<Decision | undefined>;

export interface EngineDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly random: Random;
  readonly audit: Audit;
  readonly policy: PolicyCache;
  readonly onAuthentication?: AuthenticationListener | undefined;
}

// A fixed throw-away secret: unknown users cost the same HMAC work as known ones.
const DECOY_SECRET = new Uint8Array(20).fill(0x5a);

export function createEngine(deps: EngineDeps) {
  const { store, clock, random, audit, policy } = deps;
  const lockout = createLockout(store, audit);

  const resolveUser: Step = async (flow) => {
    flow.user = await store.users.getByUsername(flow.input.username);
    if (flow.user) return undefined;
    decoyWork(flow.now);
    return flow.app.requireUserMatch || flow.input.exemptions !== undefined ? { state: 'denied', reason: 'user_not_found' } : { state: 'approved', reason: 'pass_through_unknown_user' };
  };

  const checkStatus: Step = async (flow) => {
    const user = flow.user as User;
    if (user.status === 'disabled') return { state: 'denied', reason: 'user_disabled' };
    if (user.blockedAt !== null) return { state: 'denied', reason: 'user_blocked' };
    const released = await lockout.release(user, flow.settings, flow.now);
    if (released === 'locked') return { state: 'denied', reason: 'user_locked' };
    flow.user = released;
    return undefined;
  };

  const checkTrustedIp: Step = async (flow) => {
    const ip = flow.input.clientIp;
    if (!ip || flow.input.exemptions?.trustedIp === false) return undefined;
    const trusted = policy.trustedNetworks(flow.settings, flow.app);
    return trusted.contains(ip) ? { state: 'approved', reason: 'trusted_ip' } : undefined;
  };

  const checkCache: Step = async (flow) => {
    const seconds = flow.app.cacheSeconds ?? flow.settings.cacheSeconds;
    const ip = flow.input.clientIp;
    if (seconds <= 0 || !ip || flow.input.exemptions?.cache === false) return undefined;
    const last = await store.authentications.lastApproval((flow.user as User).id, flow.app.id, ip, flow.now - seconds * 1000);
    return last ? { state: 'approved', reason: 'cached' } : undefined;
  };

  const checkBypass: Step = async (flow) => {
    if (flow.input.exemptions?.bypass === false) return undefined;
    const userId = (flow.user as User).id;
    // A read first: most users have no bypass, and a read takes no write lock.
    if (!(await store.bypasses.active(userId, flow.now))) return undefined;
    const consumed = await store.bypasses.consume(userId, flow.now);
    return consumed ? { state: 'approved', reason: 'bypass' } : undefined;
  };

  const selectMethod: Step = async (flow) => {
    const user = flow.user as User;
    // Methods still awaiting their confirmation code never sign anyone in.
    // Fallbacks (security questions) count only when the caller answers with one.
    const all = (await store.methods.listForUser(user.id)).filter((m) => !m.pending && (flow.fallback === undefined ? !registry[m.type].fallbackOnly : m.type === flow.fallback));
    const allowed = flow.app.allowedMethods;
    const wanted: MethodType | null = flow.input.method ?? null;
    if (wanted !== null && registry[wanted].fallbackOnly) return { state: 'denied', reason: 'method_not_allowed' };
    if (wanted !== null && allowed !== null && !allowed.includes(wanted)) return { state: 'denied', reason: 'method_not_allowed' };
    let candidates = all.filter((m) => (wanted === null || m.type === wanted) && (allowed === null || allowed.includes(m.type)));
    if (candidates.length === 0) return { state: 'denied', reason: all.length === 0 ? 'no_method' : 'method_not_allowed' };
    // The user's default method type first, then oldest first.
    if (wanted === null && user.defaultMethod !== null) {
      const preferred = user.defaultMethod;
      candidates = [...candidates.filter((m) => m.type === preferred), ...candidates.filter((m) => m.type !== preferred)];
    }
    flow.candidates = candidates;
    flow.method = candidates[0];
    return undefined;
  };

  const checkPasscode: Step = async (flow) => {
    const passcode = flow.input.passcode;
    if (passcode === undefined) return { state: 'challenge', reason: 'challenge_issued' };
    return verifyPasscode(flow, passcode);
  };

  /**
   * Consumes a code of a method whose step is a set (backup codes): compare-and-set against the
   * step it was verified with. When another code of the same set was spent meanwhile, verifies
   * again against the new set, a few times; the same code is never accepted twice.
   */
  async function consumeExact(method: MethodRecord, passcode: string, flow: Flow): Promise<boolean> {
    let current: MethodRecord | undefined = method;
    for (let attempt = 0; attempt < 5 && current; attempt++) {
      const result = await registry[current.type].verify({ method: current, code: passcode, now: flow.now, settings: flow.settings });
      if (!result.ok) return false;
      if (await store.methods.swapStep(current.id, current.lastStep, result.step, flow.now)) return true;
      current = await store.methods.get(method.id);
    }
    return false;
  }

  /** Tries the passcode against each candidate method; the first match is consumed atomically. */
  async function verifyPasscode(flow: Flow, passcode: string): Promise<Decision> {
    const user = flow.user as User;
    let failure: AuthReason = 'invalid_passcode';
    let wellFormed = false;
    for (const method of flow.candidates ?? []) {
      const def = registry[method.type];
      if (def.answer !== 'passcode') continue;
      const result = await def.verify({ method, code: passcode, now: flow.now, settings: flow.settings });
      if (result.ok) {
        flow.method = method;
        const consumed = def.consume === 'exact' ? await consumeExact(method, passcode, flow) : await store.methods.consumeStep(method.id, result.step, result.drift, flow.now);
        if (consumed) {
          if (user.failedCount > 0) await store.users.resetFailures(user.id, flow.now);
          return { state: 'approved', reason: 'passcode_ok' };
        }
        failure = 'replayed_passcode';
      } else if (result.reason === 'replayed') {
        flow.method = method;
        failure = 'replayed_passcode';
      } else if (result.reason === 'malformed' && failure === 'invalid_passcode' && !wellFormed) {
        failure = 'malformed_passcode';
      } else if (result.reason === 'invalid') {
        // Well-formed for this method (a backup code is not a TOTP code): a wrong code, not a malformed one.
        wellFormed = true;
        if (failure === 'malformed_passcode') failure = 'invalid_passcode';
      }
    }
    await lockout.countFailure(user, flow.settings, flow.now);
    return { state: 'denied', reason: failure };
  }

  function decoyWork(now: number): void {
    // Equalize timing between unknown and known users: the same work as a TOTP check.
    verifyTotp({ secret: DECOY_SECRET, config: { algorithm: 'SHA1', digits: 6, period: 30 }, lastStep: null, code: '000000', now, window: 1 });
  }

  const steps: readonly Step[] = [resolveUser, checkStatus, checkTrustedIp, checkCache, checkBypass, selectMethod, checkPasscode];

  function view(auth: Authentication): AuthenticationView {
    return {
      id: auth.id,
      state: auth.state,
      username: auth.username,
      application: auth.applicationName,
      method: auth.methodType,
      createdAt: auth.createdAt,
      expiresAt: auth.expiresAt,
      message: MESSAGES[auth.state],
    };
  }

  function finish(auth: Authentication, started: number): AuthenticationOutcome {
    const outcome = { view: view(auth), reason: auth.reason };
    deps.onAuthentication?.(outcome, performance.now() - started);
    return outcome;
  }

  async function start(input: CreateAuthenticationInput, actor: Actor): Promise<AuthenticationOutcome> {
    const started = performance.now();
    const now = clock.now();
    const settings = await policy.settings();
    const app = await policy.application(input.application ?? 'default');
    const flow: Flow = { input, actor, now, settings, app };
    let decision: Decision | undefined;
    for (const step of steps) {
      decision = await step(flow);
      if (decision) break;
    }
    const d = decision as Decision;
    const auth: Authentication = {
      id: random.id(),
      userId: flow.user?.id ?? null,
      username: flow.user?.username ?? input.username,
      applicationId: app.id,
      applicationName: app.name,
      clientIp: input.clientIp ?? null,
      state: d.state,
      reason: d.reason,
      methodId: flow.method?.id ?? null,
      methodType: flow.method?.type ?? null,
      createdAt: now,
      updatedAt: now,
      expiresAt: now + settings.challengeSeconds * 1000,
    };
    // Issued together, the record and its audit event share one group commit.
    await Promise.all([
      store.authentications.create(auth),
      audit.authentication({ auth, user: flow.user, method: flow.method, actor, mode: input.passcode === undefined ? 'challenge' : 'passcode' }),
    ]);
    return finish(auth, started);
  }

  async function get(id: string): Promise<AuthenticationView> {
    const auth = await store.authentications.get(id);
    if (!auth) throw new CoreError('authentication_not_found', 'no such authentication');
    const now = clock.now();
    if ((auth.state === 'challenge' || auth.state === 'pending') && now >= auth.expiresAt) {
      if (await store.authentications.transition(id, auth.state, 'expired', 'expired', {}, now)) {
        const expired = { ...auth, state: 'expired' as const, reason: 'expired' as const, updatedAt: now };
        const user = auth.userId ? await store.users.getById(auth.userId) : undefined;
        await audit.authentication({ auth: expired, user, method: undefined, actor: SYSTEM, mode: 'challenge' });
        return view(expired);
      }
      return get(id);
    }
    return view(auth);
  }

  /**
   * Answers a challenge with a passcode, or with the answers of a fallback method (`fallback`, for
   * the user portal only: security questions, encoded by the core).
   */
  async function answer(id: string, passcode: string, actor: Actor, fallback?: MethodType): Promise<AuthenticationOutcome> {
    const started = performance.now();
    const auth = await store.authentications.get(id);
    if (!auth) throw new CoreError('authentication_not_found', 'no such authentication');
    const now = clock.now();
    if (auth.state !== 'challenge') throw new CoreError('authentication_closed', `this authentication is ${auth.state}`);
    if (now >= auth.expiresAt) {
      await get(id);
      throw new CoreError('authentication_closed', 'this authentication has expired');
    }
    // Claim the challenge: exactly one answer is ever evaluated.
    if (!(await store.authentications.transition(id, 'challenge', 'pending', 'challenge_issued', {}, now))) {
      throw new CoreError('authentication_closed', 'this authentication was already answered');
    }
    const settings = await policy.settings();
    const app = await policy.applicationById(auth.applicationId);
    const flow: Flow = { input: { username: auth.username, application: app.name, clientIp: auth.clientIp, passcode }, actor, now, settings, app, ...(fallback ? { fallback } : {}) };
    let decision: Decision | undefined;
    // A fallback answers only portal sign-ins, and only while the administrator offers it.
    if (fallback !== undefined && (app.name !== PORTAL_APPLICATION || !settings.portal.enrollMethods.includes(fallback))) decision = { state: 'denied', reason: 'method_not_allowed' };
    for (const step of [resolveUser, checkStatus, selectMethod] as const) {
      if (decision) break;
      decision = await step(flow);
    }
    decision ??= await verifyPasscode(flow, passcode);
    const fields = { methodId: flow.method?.id ?? null, methodType: flow.method?.type ?? null };
    await store.authentications.transition(id, 'pending', decision.state, decision.reason, fields, now);
    const done: Authentication = { ...auth, state: decision.state, reason: decision.reason, ...fields, methodType: flow.method?.type ?? null, updatedAt: now };
    await audit.authentication({ auth: done, user: flow.user, method: flow.method, actor, mode: 'challenge' });
    return finish(done, started);
  }

  return { start, get, answer };
}

export type Engine = ReturnType<typeof createEngine>;
