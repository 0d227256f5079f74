/**
 * What the RADIUS door decides for one Access-Request, apart from packets: the first factor, the
 * second factor through the core, and the Access-Challenge round with its single-use State.
 *
 * Modes, per client:
 * - `challenge`: the password is checked, then the core starts an authentication; when it needs a
 *   code, the answer is an Access-Challenge with a random State bound to this user and client; the
 *   next Access-Request carries the State and the code.
 * - `append`: the password field holds the password and the code (after a delimiter, or the last N
 *   characters); both are checked in one request.
 * - `passcode`: the password field holds only the code.
 *
 * Every refusal looks the same to the client (an Access-Reject without a reason); the reason goes
 * to the audit trail (the core records it) and the log.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Actor, AuthenticationOutcome, Core } from '../../core/api.ts';
import type { Clock, FirstFactorProvider } from '../../core/ports.ts';
import type { MethodType, ReplyAttribute } from '../../core/types.ts';

export type RadiusMode = 'challenge' | 'append' | 'passcode';

export interface AccessPolicy {
  /** The client's name (audit, State binding). */
  readonly client: string;
  /** Countersign application of the requests. */
  readonly application: string;
  readonly mode: RadiusMode;
  /** Null: no first factor (`firstFactor: none`, or checked upstream already). */
  readonly firstFactor: FirstFactorProvider | null;
  readonly appendDelimiter?: string;
  readonly appendCodeLength: number;
  /** How long a request waits for the answer of a phone call before it is rejected. */
  readonly holdMs: number;
}

export interface AccessRequest {
  readonly username: string;
  /** The decrypted User-Password, or null when the request has none. */
  readonly password: string | null;
  readonly state: Uint8Array | null;
  /** The end user's address when the client reports one (Calling-Station-Id), for trusted networks. */
  readonly endUserIp: string | null;
}

export type AccessDecision =
  | { readonly kind: 'accept'; readonly reason: string; readonly replyAttributes?: readonly ReplyAttribute[] }
  | { readonly kind: 'reject'; readonly reason: string }
  | { readonly kind: 'challenge'; readonly state: Uint8Array; readonly message: string; readonly reason: string };

interface PendingChallenge {
  readonly authenticationId: string;
  readonly client: string;
  readonly username: string;
  readonly expiresAt: number;
  /** Carried to the final Access-Accept (the upstream server's Accept attributes in proxy mode). */
  readonly carry: unknown;
  /** The other methods offered in the Reply-Message, answered by their number (1 is the first). */
  readonly menu?: readonly MethodType[];
  /** A push request waits on the device: the answer to this challenge is held until it is decided. */
  readonly awaiting?: boolean;
}

/**
 * Outstanding Access-Challenges by State. A State is 16 random bytes, taken once: a second
 * request with the same State (a replay, or a retransmit that was not caught as a duplicate) finds
 * nothing. Bounded; expired entries are dropped as new ones arrive.
 */
export class ChallengeStates {
  readonly #pending = new Map<string, PendingChallenge>();
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #max: number;

  constructor(clock: Clock, ttlMs: number, max = 100_000) {
    this.#clock = clock;
    this.#ttlMs = ttlMs;
    this.#max = max;
  }

  get size(): number {
    return this.#pending.size;
  }

  issue(entry: Omit<PendingChallenge, 'expiresAt'>): Uint8Array {
    const now = this.#clock.now();
    if (this.#pending.size >= this.#max) {
      for (const [k, v] of this.#pending) if (v.expiresAt <= now) this.#pending.delete(k);
      // Still full: the oldest go first (Map keeps insertion order).
      for (const k of this.#pending.keys()) {
        if (this.#pending.size < this.#max) break;
        this.#pending.delete(k);
      }
    }
    const state = randomBytes(16);
    this.#pending.set(state.toString('hex'), { ...entry, expiresAt: now + this.#ttlMs });
    return state;
  }

  /** Whether this State is one of ours (an upstream server's State, e.g. in EAP rounds, is not). */
  has(state: Uint8Array): boolean {
    return state.length === 16 && this.#pending.has(Buffer.from(state).toString('hex'));
  }

  /** The challenge for this State if it was issued to this client and user and has not expired; removes it. */
  take(state: Uint8Array, client: string, username: string): PendingChallenge | undefined {
    if (state.length !== 16) return undefined;
    const key = Buffer.from(state).toString('hex');
    const found = this.#pending.get(key);
    if (!found) return undefined;
    this.#pending.delete(key);
    if (found.expiresAt <= this.#clock.now()) return undefined;
    const sameUser = found.username.length === username.length && timingSafeEqual(Buffer.from(found.username), Buffer.from(username));
    if (found.client !== client || !sameUser) return undefined;
    return found;
  }
}

export interface AccessDeps {
  readonly core: Core;
  readonly states: ChallengeStates;
  readonly actor: Actor;
}

/** Password and code from one append-mode field; null when the field cannot hold both. */
export function splitAppended(field: string, policy: Pick<AccessPolicy, 'appendDelimiter' | 'appendCodeLength'>): { password: string; code: string } | null {
  if (policy.appendDelimiter !== undefined) {
    const at = field.lastIndexOf(policy.appendDelimiter);
    if (at < 0) return null;
    return { password: field.slice(0, at), code: field.slice(at + policy.appendDelimiter.length) };
  }
  if (field.length <= policy.appendCodeLength) return null;
  return { password: field.slice(0, -policy.appendCodeLength), code: field.slice(-policy.appendCodeLength) };
}

const CODE_PROMPT = 'Enter the verification code from your authenticator app';
/** Methods a user can switch to from a challenge by replying with their number. */
const MENU_ENTRIES: Partial<Record<MethodType, string>> = { sms: 'a text message', voice: 'a phone call', push: 'the mobile app' };

function fromOutcome(o: AuthenticationOutcome): AccessDecision {
  if (o.view.state === 'approved') return { kind: 'accept', reason: o.reason, ...(o.replyAttributes ? { replyAttributes: o.replyAttributes } : {}) };
  return { kind: 'reject', reason: o.reason };
}

/** The Reply-Message of a challenge: what to enter, then the other methods by number. */
export function challengeMessage(outcome: AuthenticationOutcome, menu: readonly MethodType[]): string {
  const ask =
    outcome.match !== undefined
      ? `Open Countersign Authenticator and select ${outcome.match}, then press Enter here`
      : outcome.view.method === 'sms' && outcome.sentTo !== undefined
        ? `Enter the code sent to ${outcome.sentTo}`
        : CODE_PROMPT;
  if (menu.length === 0) return ask;
  const options = menu.map((type, i) => `${i + 1} for ${MENU_ENTRIES[type] ?? type}`);
  return `${ask}, or reply ${options.join(', ')}`;
}

/**
 * The second factor once the password is settled: a code is asked for with an Access-Challenge
 * (its Reply-Message offering the user's other methods by number); a phone call holds the request
 * until it is answered or `holdMs` passes; anything else is final.
 */
async function secondFactor(
  deps: AccessDeps,
  policy: AccessPolicy,
  start: { username: string; application: string; clientIp: string | null; method?: MethodType; oneStep?: boolean },
  carry: unknown,
): Promise<AccessDecision & { carry?: unknown }> {
  const { core, states, actor } = deps;
  const outcome = await core.authentications.create(start, actor);
  // A push request shows its number in a challenge; a call needs nothing shown and is waited for now.
  const push = outcome.view.state === 'pending' && outcome.match !== undefined;
  if (outcome.view.state === 'pending' && !push) return hold(deps, policy, outcome.view.id, carry);
  if (outcome.view.state !== 'challenge' && !push) return { ...fromOutcome(outcome), carry };
  // Always in the same order (text message, phone call, app), whatever order the methods were added in.
  const choices = outcome.choices ?? [];
  const menu = (Object.keys(MENU_ENTRIES) as MethodType[]).filter((type) => type !== outcome.view.method && choices.includes(type));
  const state = states.issue({ authenticationId: outcome.view.id, client: policy.client, username: start.username, carry, menu, awaiting: push });
  return { kind: 'challenge', state, message: challengeMessage(outcome, menu), reason: outcome.reason };
}

/** Holds the request until the out-of-band answer (or `holdMs`). */
async function hold(deps: AccessDeps, policy: AccessPolicy, id: string, carry: unknown): Promise<AccessDecision & { carry?: unknown }> {
  const final = await deps.core.authentications.wait(id, policy.holdMs);
  return final.state === 'approved' ? { kind: 'accept', reason: 'out_of_band_ok', carry } : { kind: 'reject', reason: final.state === 'pending' ? 'no_answer_in_time' : `out_of_band_${final.state}` };
}

/**
 * Decides one Access-Request. `carry` is kept with a challenge and handed back with the final
 * accept (proxy mode keeps the upstream Accept there).
 */
export async function decideAccess(
  deps: AccessDeps,
  policy: AccessPolicy,
  req: AccessRequest,
  carry: unknown = null,
): Promise<AccessDecision & { carry?: unknown }> {
  const { core, states, actor } = deps;
  if (req.username === '') return { kind: 'reject', reason: 'no_username' };

  // The answer to an Access-Challenge.
  if (req.state !== null) {
    const pending = states.take(req.state, policy.client, req.username);
    if (!pending) return { kind: 'reject', reason: 'unknown_state' };
    // A number from the menu: the method chosen replaces the one asked for.
    const pick = req.password !== null && /^[1-9]$/.test(req.password) ? pending.menu?.[Number(req.password) - 1] : undefined;
    if (pick !== undefined) {
      await core.authentications.withdraw(pending.authenticationId, actor);
      return secondFactor(deps, policy, { username: req.username, application: policy.application, clientIp: req.endUserIp, method: pick }, pending.carry);
    }
    // Whatever was typed (even nothing) after a push request: wait for the device's answer.
    if (pending.awaiting === true) return hold(deps, policy, pending.authenticationId, pending.carry);
    if (req.password === null || req.password === '') return { kind: 'reject', reason: 'no_code' };
    const outcome = await core.authentications.answer(pending.authenticationId, req.password, actor);
    return { ...fromOutcome(outcome), carry: pending.carry };
  }

  if (req.password === null) return { kind: 'reject', reason: 'no_password' };
  const start = { username: req.username, application: policy.application, clientIp: req.endUserIp };

  if (policy.mode === 'passcode') {
    if (req.password === '') return { kind: 'reject', reason: 'no_code' };
    return { ...fromOutcome(await core.authentications.create({ ...start, passcode: req.password }, actor)), carry };
  }

  let password = req.password;
  let code: string | null = null;
  if (policy.mode === 'append') {
    const parts = splitAppended(req.password, policy);
    // With a delimiter, a password without one asks for a phone call: the client cannot answer a challenge.
    if (parts) ({ password, code } = parts);
    else if (policy.appendDelimiter === undefined) return { kind: 'reject', reason: 'no_code' };
  }
  if (policy.firstFactor) {
    const first = await policy.firstFactor.verify(req.username, password);
    if (!first.ok) return { kind: 'reject', reason: `first_factor_${first.reason}` };
  }
  if (code !== null) return { ...fromOutcome(await core.authentications.create({ ...start, passcode: code }, actor)), carry };
  return secondFactor(deps, policy, policy.mode === 'append' ? { ...start, oneStep: true } : start, carry);
}
