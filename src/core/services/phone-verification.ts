/**
 * Phone verification: a 6-digit code texted to the user's phone, entered back to prove the number
 * is theirs. Only a keyed hash of the code is stored, bound to the user, the phone and its number,
 * so a code sent to an old number never verifies a new one. Fail closed: no provider, a provider
 * that refuses, a wrong, expired, used or over-tried code never verifies anything.
 */
import type { Actor, UserView } from '../api.ts';
import type { Audit } from '../audit.ts';
import { CoreError } from '../errors.ts';
import type { Clock, KeyedHasher, Random, SmsSender, Store } from '../ports.ts';
import type { Phone, PhoneWhich, User } from '../types.ts';
import { invalid } from '../validation.ts';
import { toUserView } from './users.ts';

export const PHONE_CODE_TTL_MS = 5 * 60_000;
export const PHONE_CODE_INTERVAL_MS = 30_000;
export const PHONE_CODE_MAX_ATTEMPTS = 5;

export interface PhoneVerificationDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly random: Random;
  readonly keyedHasher: KeyedHasher;
  readonly audit: Audit;
  /** Absent: no SMS provider is configured, and codes cannot be sent. */
  readonly sms: SmsSender | undefined;
  /** The user named, checking that the actor may change them (the users service's find). */
  readonly find: (username: string, changedBy?: Actor) => Promise<User>;
}

function checkWhich(which: unknown): PhoneWhich {
  if (which !== 'phone' && which !== 'backupPhone') throw invalid('which', 'must be phone or backupPhone');
  return which;
}

function phoneOf(user: User, which: PhoneWhich): Phone {
  const phone = which === 'phone' ? user.phone : user.backupPhone;
  if (phone === null) throw invalid('which', `the user has no ${which === 'phone' ? 'primary' : 'backup'} phone`);
  return phone;
}

export function createPhoneVerificationService(deps: PhoneVerificationDeps) {
  const { store, clock, random, keyedHasher, audit, sms, find } = deps;

  /** What the stored hash covers: the code is good for this user, this phone and this number only. */
  const material = (user: User, which: PhoneWhich, phone: Phone, code: string): string => `phone-code\n${user.id}\n${which}\n${phone.number}\n${code}`;

  return {
    canSendPhoneCodes: (): boolean => sms !== undefined,

    async sendPhoneCode(username: string, which: PhoneWhich, actor: Actor): Promise<void> {
      const phoneWhich = checkWhich(which);
      if (!sms) throw new CoreError('forbidden', 'no SMS provider is configured (sms.provider)');
      const user = await find(username, actor);
      const phone = phoneOf(user, phoneWhich);
      const now = clock.now();
      const code = String(random.int(1_000_000)).padStart(6, '0');
      const hash = keyedHasher.digest(material(user, phoneWhich, phone, code));
      const stored = await store.phoneCodes.issue({ userId: user.id, which: phoneWhich, hash, sentAt: now, expiresAt: now + PHONE_CODE_TTL_MS }, now - PHONE_CODE_INTERVAL_MS);
      if (!stored) throw new CoreError('rate_limited', `a code was sent to this phone less than ${PHONE_CODE_INTERVAL_MS / 1000} seconds ago`);
      const details = { which: phoneWhich, number: phone.number };
      try {
        await sms.send({ to: phone.number, text: `Countersign: your code to verify this phone is ${code}` });
      } catch (e) {
        // Never delivered: the code goes, so the user may ask again at once.
        await store.phoneCodes.consume(user.id, phoneWhich, hash);
        await audit.admin({ action: 'user.phone.code_sent', user, actor, now, result: 'failure', reason: (e as Error).message.slice(0, 500), details });
        throw new CoreError('delivery_failed', 'the text message could not be sent; try again later');
      }
      await audit.admin({ action: 'user.phone.code_sent', user, actor, now, details });
    },

    async confirmPhoneCode(username: string, which: PhoneWhich, code: string, actor: Actor): Promise<UserView> {
      const phoneWhich = checkWhich(which);
      const user = await find(username, actor);
      const phone = phoneOf(user, phoneWhich);
      const now = clock.now();
      const entered = typeof code === 'string' ? code.trim() : '';
      const details = { which: phoneWhich, number: phone.number };
      const refuse = async (reason: string): Promise<never> => {
        await audit.admin({ action: 'user.phone.verified', user, actor, now, result: 'failure', reason, details });
        throw new CoreError('code_rejected', 'the code is wrong, expired or already used');
      };
      if (!/^[0-9]{6}$/.test(entered)) return refuse('malformed_code');
      // Each attempt is counted before the comparison, so no code is tried more than 5 times.
      const hash = await store.phoneCodes.attempt(user.id, phoneWhich, now, PHONE_CODE_MAX_ATTEMPTS);
      if (hash === undefined) return refuse('no_usable_code');
      if (!keyedHasher.matches(material(user, phoneWhich, phone, entered), hash)) return refuse('wrong_code');
      if (!(await store.phoneCodes.consume(user.id, phoneWhich, hash))) return refuse('code_already_used');
      if (!(await store.users.setPhoneVerified(user.id, phoneWhich, phone, now))) return refuse('phone_changed');
      await audit.admin({ action: 'user.phone.verified', user, actor, now, details });
      return toUserView(await find(user.username));
    },
  };
}
