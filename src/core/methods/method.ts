import type { VerifyResult } from '../oath.ts';
import type { MethodRecord, MethodType, OathConfig, Settings } from '../types.ts';

/** The configuration stored for methods that hold no OATH key (security questions, phones, mobile devices). */
export const NO_OATH: OathConfig = { algorithm: 'SHA256', digits: 6, period: 0, serial: null, origin: 'software' };

/** One field a method asks for when it is enrolled; the console and portal render forms from it. */
export interface EnrollField {
  readonly name: string;
  readonly label: string;
  readonly kind: 'text' | 'integer' | 'select';
  readonly options?: readonly (string | number)[];
  readonly default?: string | number;
  readonly required: boolean;
}

/**
 * A method type (authenticator kind). One file per type, listed in ./index.ts. Methods describe
 * themselves; the engine knows only this interface.
 */
export interface MethodDefinition {
  readonly type: MethodType;
  readonly displayName: string;
  readonly description: string;
  /**
   * 'passcode': the user types a code from their authenticator; 'delivered': the engine sends a
   * code for this one authentication (text message) and the user types it; 'out-of-band': the
   * engine waits for an answer elsewhere (a phone call).
   */
  readonly answer: 'passcode' | 'delivered' | 'out-of-band';
  /**
   * How a verified code is consumed: 'advance' (the step must be later than the stored one: OATH
   * counters and time steps) or 'exact' (the stored step must still be the one verified against:
   * backup codes' set of used codes).
   */
  readonly consume: 'advance' | 'exact';
  /** Where it may be enrolled. */
  readonly enrollableFrom: readonly ('admin' | 'portal' | 'import')[];
  readonly enrollFields: readonly EnrollField[];
  /**
   * True when the user confirms an out-of-band request by picking the number shown where they sign
   * in (push): a door that cannot show a number cannot use the method.
   */
  readonly numberMatching: boolean;
  /** True for methods kept only for migration (weaker), shown as such. */
  readonly legacy: boolean;
  /**
   * True for a fallback the user portal's sign-in asks for by name (security questions): never
   * tried against a passcode, never chosen as the method of a challenge.
   */
  readonly fallbackOnly: boolean;
  /**
   * Verification without storage or clock (it may take work off the event loop, hence the
   * promise). The caller consumes the returned step atomically.
   */
  verify(input: { readonly method: MethodRecord; readonly code: string; readonly now: number; readonly settings: Settings }): VerifyResult | Promise<VerifyResult>;
}
