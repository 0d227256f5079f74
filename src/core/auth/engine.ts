/**
 * The authentication state machine. Every front door calls `start` (optionally with the passcode)
 * and, for a challenge, `answer`. Policy runs as an explicit list of steps; the first step that
 * decides ends the flow. The precise reason goes to the audit trail; callers see only the state.
 *
 *   start ─▶ [application] ─▶ [user] ─▶ [status] ─▶ [trusted IP] ─▶ [cache] ─▶ [bypass]
 *         ─▶ [method] ─▶ [passcode] ─▶ approved | denied | challenge | pending
 *   challenge ─answer─▶ (claimed: pending) ─▶ approved | denied ;  challenge ─timeout─▶ expired
 *   pending (phone call) ─resolve─▶ approved | denied ;  pending ─timeout─▶ expired
 *
 * Without a passcode, the chosen method decides what comes next: an authenticator's code is asked
 * for (challenge); a text message sends a code made for this authentication alone, kept as a keyed
 * hash, and asks for it (challenge); a phone call is placed and the authentication waits (pending)
 * for the provider's webhook to resolve it with the token the call carried.
 */
import type { AuthenticationOutcome, AuthenticationView, CreateAuthenticationInput, Actor, AuthenticationListener } from '../api.ts';
import { CoreError } from '../errors.ts';
import { verifyTotp } from '../oath.ts';
import { methods as registry } from '../methods/index.ts';
import type { Clock, KeyedHasher, PushSender, PushSubscription, Random, SmsSender, Store, VoiceCaller } from '../ports.ts';
import { phoneOf } from '../methods/phone.ts';
import { decodeDevice, encodeDevice, MATCH_MAX, MATCH_MIN } from '../methods/push.ts';
import type { Application, Authentication, AuthReason, AuthState, DeviceRequest, MethodRecord, MethodType, Settings, User } from '../types.ts';
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
const SMS_CODE_DIGITS = 6;
/** How often a waiter looks at the store for an answer another node received. */
const WAIT_POLL_MS = 500;

/** How an out-of-band request was answered (the keys pressed in a call, mapped by its door; a device's choice). */
export type OutOfBandResponse = 'approve' | 'decline' | 'fraud';


interface Flow {
  readonly input: CreateAuthenticationInput;
  readonly actor: Actor;
  readonly now: number;
  readonly settings: Settings;
  readonly app: Application;
  /** Answering with a fallback (security questions) instead of a passcode: only that method type counts. */
  readonly fallback?: MethodType;
  /** The id the authentication will have (codes and call tokens are bound to it). */
  readonly id: string;
  user?: User;
  candidates?: MethodRecord[];
  method?: MethodRecord;
  /** Keyed hash of the texted code or of the call's token. */
  challengeHash?: string;
  /** A phone call to place once the record exists. */
  call?: { readonly token: string; readonly to: string; readonly extension: string | null };
  /** Where the code or call went, masked (shown to the user: "sent to ••• 0123"). */
  sentTo?: string;
  /** The method types the user could use here, the chosen one first. */
  choices?: MethodType[];
  /** The number to pick on the device (push). */
  match?: number;
  /** The device's push subscription to wake once the record exists. */
  wake?: PushSubscription;
  /**
   * Set by `start` for a passcode given at once: a verified code's step is consumed together with
   * the record of the decision, in one commit (store.authentications.createIfConsumed).
   */
  deferConsume?: boolean;
  /** The step to consume with the record, when `deferConsume` applied. */
  deferred?: { readonly methodId: string; readonly step: number; readonly drift: number };
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
  readonly keyedHasher: KeyedHasher;
  readonly sms?: SmsSender | undefined;
  readonly voice?: VoiceCaller | undefined;
  readonly push?: PushSender | undefined;
  /** Files a fraud report for the user (a call answered with the fraud key). */
  readonly reportFraud?: ((username: string, authenticationId: string) => Promise<void>) | undefined;
  readonly onAuthentication?: AuthenticationListener | undefined;
}

// A fixed throw-away secret: unknown users cost the same HMAC work as known ones.
const DECOY_SECRET = new Uint8Array(20).fill(0x5a);

export function createEngine(deps: EngineDeps) {
  const { store, clock, random, audit, policy, keyedHasher } = deps;
  const lockout = createLockout(store, audit);
  /** Waiters for pending authentications answered in this process, by id. */
  const waiters = new Map<string, Set<() => void>>();

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
    const usable = all.filter((m) => (allowed === null || allowed.includes(m.type)) && (flow.input.oneStep !== true || (registry[m.type].answer === 'out-of-band' && !registry[m.type].numberMatching)) && (flow.input.codeOnly !== true || registry[m.type].answer !== 'out-of-band'));
    let candidates = usable.filter((m) => wanted === null || m.type === wanted);
    if (candidates.length === 0) return { state: 'denied', reason: all.length === 0 ? 'no_method' : 'method_not_allowed' };
    // The user's default method type first, then oldest first.
    if (wanted === null && user.defaultMethod !== null) {
      const preferred = user.defaultMethod;
      candidates = [...candidates.filter((m) => m.type === preferred), ...candidates.filter((m) => m.type !== preferred)];
    }
    flow.candidates = candidates;
    flow.method = candidates[0];
    flow.choices = [...new Set([flow.method?.type, ...usable.map((m) => m.type)])].filter((t): t is MethodType => t !== undefined);
    return undefined;
  };

  const checkPasscode: Step = async (flow) => {
    const passcode = flow.input.passcode;
    if (passcode !== undefined) return verifyPasscode(flow, passcode);
    const answer = registry[(flow.method as MethodRecord).type].answer;
    if (answer === 'delivered') return sendCode(flow);
    if (answer === 'out-of-band') return registry[(flow.method as MethodRecord).type].numberMatching ? preparePush(flow) : prepareCall(flow);
    return { state: 'challenge', reason: 'challenge_issued' };
  };

  /** The user's phone a phone method uses, or undefined when it has none (any more). */
  function phoneFor(flow: Flow): { number: string; extension: string | null } | undefined {
    const user = flow.user as User;
    return (phoneOf(flow.method as MethodRecord) === 'backupPhone' ? user.backupPhone : user.phone) ?? undefined;
  }

  /** Texts a code made for this authentication alone; only its keyed hash is kept. Fails closed. */
  async function sendCode(flow: Flow): Promise<Decision> {
    const phone = phoneFor(flow);
    if (!phone || !deps.sms) return { state: 'denied', reason: 'delivery_failed' };
    const code = String(random.int(10 ** SMS_CODE_DIGITS)).padStart(SMS_CODE_DIGITS, '0');
    try {
      await deps.sms.send({ to: phone.number, text: `${code} is your ${flow.app.name} sign-in code. Do not share it.` });
    } catch {
      return { state: 'denied', reason: 'delivery_failed' };
    }
    flow.challengeHash = keyedHasher.digest(`sms:${flow.id}:${code}`);
    flow.sentTo = maskPhone(phone.number);
    return { state: 'challenge', reason: 'challenge_issued' };
  }

  /** Picks the number to match; the device is woken once the record exists. */
  async function preparePush(flow: Flow): Promise<Decision> {
    const device = decodeDevice(flow.method as MethodRecord);
    if (device.publicKey === undefined) return { state: 'denied', reason: 'delivery_failed' };
    const number = MATCH_MIN + random.int(MATCH_MAX - MATCH_MIN + 1);
    flow.challengeHash = keyedHasher.digest(`push:${flow.id}:${number}`);
    flow.match = number;
    if (device.subscription) flow.wake = device.subscription;
    return { state: 'pending', reason: 'challenge_issued' };
  }

  /**
   * Wakes the device through its push service, in the background: the request does not depend on
   * it (the app also finds its requests when opened). A subscription the push service says is gone
   * is dropped; a failure is audited.
   */
  function wakeDevice(auth: Authentication, flow: Flow, subscription: PushSubscription): void {
    const sender = deps.push;
    if (!sender) return;
    const method = flow.method as MethodRecord;
    const message = { title: 'Sign-in request', body: `Someone is signing in to ${auth.applicationName}. Open the app to approve or deny.`, authenticationId: auth.id };
    sender.notify(subscription, message).then(
      async (result) => {
        if (result === 'gone') await store.methods.replaceSecret(method.id, encodeDevice({ ...decodeDevice(method), subscription: null }));
      },
      async (e: unknown) => {
        await audit.admin({ action: 'device.notify', user: flow.user, actor: SYSTEM, now: clock.now(), result: 'failure', reason: (e as Error).message, details: { methodId: method.id, authenticationId: auth.id } });
      },
    ).catch(() => undefined);
  }

  /** Readies the call (placed once the record exists, so its answer always finds it). */
  async function prepareCall(flow: Flow): Promise<Decision> {
    const phone = phoneFor(flow);
    if (!phone || !deps.voice) return { state: 'denied', reason: 'delivery_failed' };
    const token = Buffer.from(random.bytes(32)).toString('base64url');
    flow.challengeHash = keyedHasher.digest(`call:${flow.id}:${token}`);
    flow.call = { token, to: phone.number, extension: phone.extension };
    flow.sentTo = maskPhone(phone.number);
    return { state: 'pending', reason: 'challenge_issued' };
  }

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
        if (flow.deferConsume === true && def.consume === 'advance') {
          flow.deferred = { methodId: method.id, step: result.step, drift: result.drift };
          return { state: 'approved', reason: 'passcode_ok' };
        }
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

  function finish(auth: Authentication, started: number, flow?: Flow): AuthenticationOutcome {
    const open = auth.state === 'challenge' || auth.state === 'pending';
    const outcome: AuthenticationOutcome = {
      view: view(auth),
      reason: auth.reason,
      ...(open && flow?.sentTo !== undefined ? { sentTo: flow.sentTo } : {}),
      ...(open && flow?.choices ? { choices: flow.choices } : {}),
      ...(open && flow?.match !== undefined ? { match: flow.match } : {}),
      ...(auth.state === 'approved' && flow?.user ? { replyAttributes: flow.user.replyAttributes } : {}),
    };
    deps.onAuthentication?.(outcome, performance.now() - started);
    return outcome;
  }

  async function start(input: CreateAuthenticationInput, actor: Actor): Promise<AuthenticationOutcome> {
    const started = performance.now();
    const now = clock.now();
    const settings = await policy.settings();
    const app = await policy.application(input.application ?? 'default');
    const flow: Flow = { input, actor, now, settings, app, id: random.id(), deferConsume: input.passcode !== undefined };
    let decision: Decision | undefined;
    for (const step of steps) {
      decision = await step(flow);
      if (decision) break;
    }
    const record = (d: Decision): Authentication => ({
      id: flow.id,
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
      challengeHash: flow.challengeHash ?? null,
    });
    const mode = input.passcode === undefined ? 'challenge' : 'passcode';
    let auth = record(decision as Decision);
    if (flow.deferred) {
      // The code's step, the record and its audit event in one commit: written only if the step was still unused.
      const event = audit.authenticationEvent({ auth, user: flow.user, method: flow.method, actor, mode });
      if (await store.authentications.createIfConsumed({ ...flow.deferred, now }, auth, event)) {
        const user = flow.user as User;
        if (user.failedCount > 0) await store.users.resetFailures(user.id, now);
        return finish(auth, started, flow);
      }
      // Another request consumed it first: decided again, consuming as it goes (a replay, counted as a failure).
      flow.deferConsume = false;
      flow.deferred = undefined;
      auth = record(await verifyPasscode(flow, input.passcode as string));
    }
    // Issued together, the record and its audit event share one group commit.
    await Promise.all([store.authentications.create(auth), audit.authentication({ auth, user: flow.user, method: flow.method, actor, mode })]);
    if (flow.call) {
      const placed = await placeCall(auth, flow, flow.call);
      if (placed !== auth) return finish(placed, started, flow);
    }
    if (flow.wake) wakeDevice(auth, flow, flow.wake);
    return finish(auth, started, flow);
  }

  /**
   * Ends an open authentication with `decision`, by compare-and-set from `from`: records the audit
   * event, runs `then` (what goes with the decision), and wakes whoever waits for it in this
   * process. Undefined when another caller ended it first. The user is read when not given.
   */
  async function conclude(
    auth: Authentication,
    from: AuthState,
    decision: Decision,
    e: { readonly actor: Actor; readonly mode: string; readonly user?: User | undefined; readonly method?: MethodRecord | undefined; readonly then?: (done: Authentication) => Promise<void> },
  ): Promise<Authentication | undefined> {
    const now = clock.now();
    if (!(await store.authentications.transition(auth.id, from, decision.state, decision.reason, {}, now))) return undefined;
    const done: Authentication = { ...auth, state: decision.state, reason: decision.reason, updatedAt: now };
    const user = 'user' in e ? e.user : auth.userId ? await store.users.getById(auth.userId) : undefined;
    await audit.authentication({ auth: done, user, method: e.method, actor: e.actor, mode: e.mode });
    await e.then?.(done);
    for (const wake of waiters.get(auth.id) ?? []) wake();
    return done;
  }

  /** Places the call of a pending authentication; when the provider refuses it, the authentication is denied. */
  async function placeCall(auth: Authentication, flow: Flow, call: NonNullable<Flow['call']>): Promise<Authentication> {
    try {
      await (deps.voice as VoiceCaller).call({ ...call, authenticationId: auth.id, application: auth.applicationName, language: (flow.user as User).language });
      return auth;
    } catch {
      const failed = await conclude(auth, 'pending', { state: 'denied', reason: 'delivery_failed' }, { actor: SYSTEM, mode: 'out-of-band', user: flow.user, method: flow.method });
      return failed ?? auth;
    }
  }

  async function get(id: string): Promise<AuthenticationView> {
    const auth = await store.authentications.get(id);
    if (!auth) throw new CoreError('authentication_not_found', 'no such authentication');
    const now = clock.now();
    if ((auth.state === 'challenge' || auth.state === 'pending') && now >= auth.expiresAt) {
      const expired = await conclude(auth, auth.state, { state: 'expired', reason: 'expired' }, { actor: SYSTEM, mode: 'challenge' });
      return expired ? view(expired) : get(id);
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
    const flow: Flow = { input: { username: auth.username, application: app.name, clientIp: auth.clientIp, passcode }, actor, now, settings, app, id, ...(fallback ? { fallback } : {}) };
    let decision: Decision | undefined;
    // A fallback answers only portal sign-ins, and only while the administrator offers it.
    if (fallback !== undefined && (app.name !== PORTAL_APPLICATION || !settings.portal.enrollMethods.includes(fallback))) decision = { state: 'denied', reason: 'method_not_allowed' };
    // A texted code answers only the authentication it was sent for.
    const delivered = fallback === undefined && auth.methodType !== null && registry[auth.methodType].answer === 'delivered';
    for (const step of [resolveUser, checkStatus, selectMethod] as const) {
      if (decision) break;
      decision = await step(flow);
    }
    // A texted code, or else a code of one of the user's authenticators.
    if (!decision && delivered && (await deliveredCodeMatches(flow, auth, passcode))) decision = { state: 'approved', reason: 'passcode_ok' };
    decision ??= await verifyPasscode(flow, passcode);
    const fields = { methodId: flow.method?.id ?? null, methodType: flow.method?.type ?? null };
    await store.authentications.transition(id, 'pending', decision.state, decision.reason, fields, now);
    const done: Authentication = { ...auth, state: decision.state, reason: decision.reason, ...fields, methodType: flow.method?.type ?? null, updatedAt: now };
    await audit.authentication({ auth: done, user: flow.user, method: flow.method, actor, mode: 'challenge' });
    return finish(done, started, flow);
  }

  /** Whether `passcode` is the code texted for this authentication (constant time); resets the failure count when it is. */
  async function deliveredCodeMatches(flow: Flow, auth: Authentication, passcode: string): Promise<boolean> {
    const user = flow.user as User;
    const method = flow.candidates?.find((m) => m.id === auth.methodId);
    const hash = auth.challengeHash ?? null;
    if (!method || hash === null || !/^[0-9]{1,10}$/.test(passcode) || !keyedHasher.matches(`sms:${auth.id}:${passcode}`, hash)) return false;
    flow.method = method;
    if (user.failedCount > 0) await store.users.resetFailures(user.id, flow.now);
    return true;
  }

  /**
   * Resolves a pending phone call with the answer its provider brought back, with the token the
   * call carried (compared as a keyed hash, in constant time). A wrong token, an unknown id and a
   * closed authentication all give the same error.
   */
  async function resolve(id: string, token: string, response: OutOfBandResponse, actor: Actor): Promise<AuthenticationOutcome> {
    const started = performance.now();
    const auth = await openOutOfBand(id, (a) => !registry[a.methodType as MethodType].numberMatching && keyedHasher.matches(`call:${a.id}:${token}`, a.challengeHash as string));
    return settle(auth, response, actor, started);
  }

  /**
   * Answers a pending push request from the device it was sent to: approving needs the number
   * shown at sign-in (a wrong one denies the request); declining and reporting fraud do not.
   */
  async function answerDevice(id: string, deviceId: string, response: OutOfBandResponse, number: number | null, actor: Actor): Promise<AuthenticationOutcome> {
    const started = performance.now();
    const auth = await openOutOfBand(id, (a) => registry[a.methodType as MethodType].numberMatching && a.methodId === deviceId);
    if (response !== 'approve') return settle(auth, response, actor, started);
    const matches = number !== null && Number.isInteger(number) && keyedHasher.matches(`push:${auth.id}:${number}`, auth.challengeHash as string);
    return settle(auth, matches ? 'approve' : 'mismatch', actor, started);
  }

  /** The pending out-of-band authentication `id` when `belongs` accepts it; `authentication_closed` otherwise, alike for every reason. */
  async function openOutOfBand(id: string, belongs: (auth: Authentication) => boolean): Promise<Authentication> {
    const auth = await store.authentications.get(id);
    const closed = new CoreError('authentication_closed', 'no pending authentication answers this');
    if (!auth || auth.challengeHash == null || auth.methodType === null || registry[auth.methodType].answer !== 'out-of-band') throw closed;
    if (!belongs(auth) || auth.state !== 'pending') throw closed;
    if (clock.now() >= auth.expiresAt) {
      await get(id);
      throw closed;
    }
    return auth;
  }

  async function settle(auth: Authentication, response: OutOfBandResponse | 'mismatch', actor: Actor, started: number): Promise<AuthenticationOutcome> {
    const user = auth.userId ? await store.users.getById(auth.userId) : undefined;
    const method = auth.methodId ? await store.methods.get(auth.methodId) : undefined;
    const settings = await policy.settings();
    let decision: Decision;
    if (!user || user.status === 'disabled' || user.blockedAt !== null) decision = { state: 'denied', reason: user ? (user.blockedAt !== null ? 'user_blocked' : 'user_disabled') : 'user_not_found' };
    else if (response === 'approve') decision = { state: 'approved', reason: 'out_of_band_ok' };
    else if (response === 'mismatch') decision = { state: 'denied', reason: 'number_mismatch' };
    else decision = { state: 'denied', reason: response === 'fraud' ? 'fraud_reported' : 'out_of_band_declined' };
    const done = await conclude(auth, 'pending', decision, {
      actor,
      mode: 'out-of-band',
      user,
      method,
      then: async (d) => {
        if (d.reason === 'out_of_band_ok' && user && user.failedCount > 0) await store.users.resetFailures(user.id, d.updatedAt);
        if (d.reason === 'fraud_reported' && settings.fraud.allowReports && deps.reportFraud) await deps.reportFraud(auth.username, auth.id);
      },
    });
    if (!done) throw new CoreError('authentication_closed', 'no pending authentication answers this');
    return finish(done, started);
  }

  /**
   * A push device's pending requests, each with three numbers to pick from (the one shown at
   * sign-in and two others, the same on every read, in ascending order).
   */
  async function deviceRequests(deviceId: string): Promise<DeviceRequest[]> {
    const now = clock.now();
    const out: DeviceRequest[] = [];
    for (const auth of await store.authentications.pendingForMethod(deviceId, now)) {
      const hash = auth.challengeHash;
      if (hash == null) continue;
      let shown: number | undefined;
      for (let n = MATCH_MIN; n <= MATCH_MAX && shown === undefined; n++) if (keyedHasher.matches(`push:${auth.id}:${n}`, hash)) shown = n;
      if (shown === undefined) continue;
      const numbers = new Set([shown]);
      const seed = keyedHasher.digest(`decoys:${auth.id}`);
      for (let i = 0; numbers.size < 3 && i + 4 <= seed.length; i += 4) numbers.add(MATCH_MIN + (parseInt(seed.slice(i, i + 4), 16) % (MATCH_MAX - MATCH_MIN + 1)));
      out.push({ id: auth.id, application: auth.applicationName, clientIp: auth.clientIp, createdAt: auth.createdAt, expiresAt: auth.expiresAt, numbers: [...numbers].sort((a, b) => a - b) });
    }
    return out;
  }

  /**
   * Withdraws an unanswered challenge or out-of-band request when the sign-in goes on with another
   * method: it expires at once (reason `withdrawn`), so a device no longer lists it and a late
   * answer finds it closed. An authentication already answered or finished is left as it is.
   */
  async function withdraw(id: string, actor: Actor): Promise<void> {
    const auth = await store.authentications.get(id);
    if (!auth) return;
    const outOfBand = auth.methodType !== null && registry[auth.methodType].answer === 'out-of-band';
    // A challenge being answered is 'pending' for a moment: only out-of-band requests are withdrawn from 'pending'.
    const from = auth.state === 'challenge' ? 'challenge' : auth.state === 'pending' && outOfBand ? 'pending' : undefined;
    if (from === undefined) return;
    await conclude(auth, from, { state: 'expired', reason: 'withdrawn' }, { actor, mode: outOfBand ? 'out-of-band' : 'challenge' });
  }

  /**
   * Waits until a pending authentication is answered (here, or on another node: the store is read
   * every half second) or expires, for at most `maxMs`; returns its state then.
   */
  async function wait(id: string, maxMs: number): Promise<AuthenticationView> {
    const until = clock.now() + maxMs;
    let current = await get(id);
    while (current.state === 'pending' && clock.now() < until) {
      const left = Math.min(WAIT_POLL_MS, until - clock.now(), current.expiresAt - clock.now());
      await new Promise<void>((wake) => {
        const timer = setTimeout(done, Math.max(left, 0));
        const set = waiters.get(id) ?? new Set();
        waiters.set(id, set);
        set.add(done);
        function done(): void {
          clearTimeout(timer);
          set.delete(done);
          if (set.size === 0) waiters.delete(id);
          wake();
        }
      });
      current = await get(id);
    }
    return current;
  }

  return { start, get, answer, resolve, answerDevice, deviceRequests, withdraw, wait };
}

/** A phone number as shown to its owner: only its last 4 digits. */
export function maskPhone(e164: string): string {
  return `••• ${e164.slice(-4)}`;
}

export type Engine = ReturnType<typeof createEngine>;
