import type { MethodDefinition } from './method.ts';
import { noCodeOfItsOwn } from './phone.ts';

export const sms: MethodDefinition = {
  type: 'sms',
  displayName: 'Text message (SMS)',
  description: 'A one-time code texted to the primary or backup phone for each sign-in.',
  answer: 'delivered',
  consume: 'exact',
  enrollableFrom: ['admin'],
  enrollFields: [{ name: 'phone', label: 'Phone', kind: 'select', options: ['phone', 'backupPhone'], default: 'phone', required: false }],
  legacy: false,
  numberMatching: false,
  fallbackOnly: false,
  verify: noCodeOfItsOwn,
};
