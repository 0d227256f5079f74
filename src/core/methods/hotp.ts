import { verifyHotp } from '../oath.ts';
import type { MethodDefinition } from './method.ts';

export const hotp: MethodDefinition = {
  type: 'hotp',
  displayName: 'Event token (HOTP)',
  description: 'Counter-based one-time codes (RFC 4226), usually from a hardware token imported with its secret.',
  answer: 'passcode',
  consume: 'advance',
  enrollableFrom: ['import'],
  enrollFields: [],
  legacy: false,
  numberMatching: false,
  fallbackOnly: false,
  verify: ({ method, code, settings }) =>
    verifyHotp({ secret: method.secret, config: method.config, lastStep: method.lastStep, code, lookAhead: settings.hotp.lookAhead }),
};
