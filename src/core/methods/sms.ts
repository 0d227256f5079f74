import type { MethodDefinition } from './method.ts';
import { phoneMethod } from './phone.ts';

export const sms: MethodDefinition = phoneMethod({
  type: 'sms',
  displayName: 'Text message (SMS)',
  description: 'A one-time code texted to the primary or backup phone for each sign-in.',
  answer: 'delivered',
});
