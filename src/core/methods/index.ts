/**
 * The method registry. Adding a method type means adding it to MethodType (../types.ts), writing
 * one file beside this one, and listing it here; a missing entry does not compile.
 */
import type { MethodType } from '../types.ts';
import { backup } from './backup.ts';
import { hotp } from './hotp.ts';
import type { MethodDefinition } from './method.ts';
import { push } from './push.ts';
import { questions } from './questions.ts';
import { sms } from './sms.ts';
import { totp } from './totp.ts';
import { voice } from './voice.ts';

export const methods = { totp, hotp, backup, questions, sms, voice, push } as const satisfies Record<MethodType, MethodDefinition>;

export function methodDefinition(type: MethodType): MethodDefinition {
  return methods[type];
}

export type { MethodDefinition, EnrollField } from './method.ts';
