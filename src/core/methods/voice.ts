import type { MethodDefinition } from './method.ts';
import { phoneMethod } from './phone.ts';

export const voice: MethodDefinition = phoneMethod({
  type: 'voice',
  displayName: 'Phone call',
  description: 'A call to the primary or backup phone: the user presses # to approve, or 0 to report fraud.',
  answer: 'out-of-band',
});
