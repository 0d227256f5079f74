/**
 * Core errors carry a stable code; each front door maps codes to its protocol once, at the edge.
 * Tests assert the code, never the message.
 */
export type ErrorCode =
  | 'validation_failed'
  | 'not_found'
  | 'user_not_found'
  | 'user_exists'
  | 'application_exists'
  | 'application_not_found'
  | 'method_not_found'
  | 'authentication_not_found'
  | 'authentication_closed'
  | 'unauthenticated'
  | 'forbidden'
  | 'rate_limited'
  | 'conflict'
  | 'resync_failed'
  /** A code entered to confirm a new authenticator did not match it. */
  | 'code_rejected'
  /** A mobile device's activation code was wrong, used or expired. */
  | 'activation_failed'
  | 'import_failed'
  /** An outside service (the SMS provider) did not take a message: nothing was sent. */
  | 'delivery_failed'
  | 'store_unavailable'
  | 'config_invalid'
  | 'internal';

export class CoreError extends Error {
  readonly code: ErrorCode;
  /** Field-level detail for validation errors: path -> message. */
  readonly details: Readonly<Record<string, string>> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, string>) {
    super(message);
    this.name = 'CoreError';
    this.code = code;
    this.details = details;
  }
}

export function isCoreError(e: unknown, code?: ErrorCode): e is CoreError {
  return e instanceof CoreError && (code === undefined || e.code === code);
}
