import type { MethodDefinition } from './method.ts';
import { noCodeOfItsOwn } from './phone.ts';

export const voice: MethodDefinition = {
  type: 'voice',
  displayName: 'Phone call',
  description: 'A call to the primary or backup phone: the user presses # to approve, or 0# to report fraud.',
  answer: 'out-of-band',
  consume: 'exact',
  enrollableFrom: ['admin'],
  enrollFields: [{ name: 'phone', label: 'Phone', kind: 'select', options: ['phone', 'backupPhone'], default: 'phone', required: false }],
  legacy: false,
  numberMatching: false,
  fallbackOnly: false,
  verify: noCodeOfItsOwn,
};
