import { verifyTotp } from '../oath.ts';
import type { MethodDefinition } from './method.ts';

export const totp: MethodDefinition = {
  type: 'totp',
  displayName: 'Authenticator app (TOTP)',
  description: 'Time-based one-time codes (RFC 6238) from an authenticator app or a hardware token.',
  answer: 'passcode',
  consume: 'advance',
  enrollableFrom: ['admin', 'portal', 'import'],
  enrollFields: [
    { name: 'label', label: 'Label', kind: 'text', required: false },
    { name: 'algorithm', label: 'Algorithm', kind: 'select', options: ['SHA1', 'SHA256', 'SHA512'], default: 'SHA1', required: false },
    { name: 'digits', label: 'Digits', kind: 'select', options: [6, 7, 8], default: 6, required: false },
    { name: 'period', label: 'Period (seconds)', kind: 'integer', default: 30, required: false },
  ],
  legacy: false,
  numberMatching: false,
  fallbackOnly: false,
  verify: ({ method, code, now, settings }) =>
    verifyTotp({ secret: method.secret, config: method.config, lastStep: method.lastStep, code, now, window: settings.totp.window }),
};
