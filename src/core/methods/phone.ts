/**
 * Methods that reach the user through one of their phones (text message, voice call). The method
 * record names which phone (primary or backup); the number itself stays on the user, so a number
 * changed by the user or the directory is the one used at the next sign-in.
 */
import type { VerifyResult } from '../oath.ts';
import type { MethodRecord, PhoneWhich } from '../types.ts';
import type { MethodDefinition } from './method.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function phoneMethodSecret(which: PhoneWhich): Uint8Array {
  return encoder.encode(which);
}

/** Which phone a text-message or voice method uses. */
export function phoneOf(method: MethodRecord): PhoneWhich {
  return decoder.decode(method.secret) === 'backupPhone' ? 'backupPhone' : 'phone';
}

/** Phone methods never verify a code on their own: the engine checks the code of the authentication. */
export function noCodeOfItsOwn(): VerifyResult {
  return { ok: false, reason: 'malformed' };
}

/** A method on one of the user's phones, set up by an administrator, answered through the engine. */
export function phoneMethod(def: Pick<MethodDefinition, 'type' | 'displayName' | 'description' | 'answer'>): MethodDefinition {
  return {
    ...def,
    consume: 'exact',
    enrollableFrom: ['admin'],
    enrollFields: [{ name: 'phone', label: 'Phone', kind: 'select', options: ['phone', 'backupPhone'], default: 'phone', required: false }],
    legacy: false,
    numberMatching: false,
    fallbackOnly: false,
    verify: noCodeOfItsOwn,
  };
}
