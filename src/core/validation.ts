/** Input validation shared by every service. Each function names the field it rejects. */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { CoreError } from './errors.ts';
import type { PhoneInput } from './api.ts';
import type { ReplyAttributeCheck } from './ports.ts';
import type { Phone, ReplyAttribute } from './types.ts';

export function invalid(field: string, message: string): CoreError {
  return new CoreError('validation_failed', `${field}: ${message}`, { [field]: message });
}

// C0/C1 controls, DEL, and the characters that break LDAP DNs, CSV and log lines in surprising ways.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Usernames: 1-256 characters, no control characters, no surrounding spaces. Forms like DOMAIN\user and user@domain are fine. */
export function validateUsername(value: unknown, field = 'username'): string {
  if (typeof value !== 'string') throw invalid(field, 'must be a string');
  const v = value.normalize('NFC');
  if (v.length === 0) throw invalid(field, 'must not be empty');
  if (v.length > 256) throw invalid(field, 'must be at most 256 characters');
  if (v.trim() !== v) throw invalid(field, 'must not start or end with spaces');
  if (CONTROL.test(v)) throw invalid(field, 'must not contain control characters');
  return v;
}

export function validateText(value: unknown, field: string, max: number, opts: { required?: boolean } = {}): string | null {
  if (value === null || value === undefined || value === '') {
    if (opts.required) throw invalid(field, 'is required');
    return null;
  }
  if (typeof value !== 'string') throw invalid(field, 'must be a string');
  if (value.length > max) throw invalid(field, `must be at most ${max} characters`);
  if (CONTROL.test(value)) throw invalid(field, 'must not contain control characters');
  return value.trim();
}

const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

export function validateEmail(value: unknown, field = 'email'): string | null {
  const v = validateText(value, field, 254);
  if (v === null) return null;
  if (!EMAIL.test(v)) throw invalid(field, `"${v}" is not an email address`);
  return v;
}

const LANGUAGE = /^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/;

export function validateLanguage(value: string): string | null {
  return LANGUAGE.test(value) && value.length <= 35 ? value : null;
}

export function requireLanguage(value: unknown, field = 'language'): string {
  if (typeof value !== 'string' || validateLanguage(value) === null) throw invalid(field, 'must be a language tag such as en or fr-CA');
  return value;
}

/**
 * Numbers already checked, by number, country and extension: parsing is costly (NANP numbers are
 * matched against every +1 country's patterns) and imports check each number twice (when an entry
 * is mapped, then when the user is created from the result). Only valid results are kept.
 */
const validPhones = new Map<string, Phone>();
const VALID_PHONES_KEPT = 4096;
const phoneKey = (number: string, country: string | null | undefined, extension: string | null | undefined): string => `${number}\u0000${country ?? ''}\u0000${extension ?? ''}`;

/** Phones are stored in E.164 with an optional extension (digits only). */
export function validatePhone(value: PhoneInput | null | undefined, field = 'phone'): Phone | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || typeof value.number !== 'string') throw invalid(field, 'must be an object with a number');
  if (value.number.trim() === '') return null;
  const key = phoneKey(value.number, value.country, value.extension);
  const known = validPhones.get(key);
  if (known) return known;
  const phone = parsePhone(value, field);
  if (validPhones.size >= VALID_PHONES_KEPT) validPhones.clear();
  validPhones.set(key, phone);
  // The stored form validates to itself.
  validPhones.set(phoneKey(phone.number, phone.country, phone.extension), phone);
  return phone;
}

function parsePhone(value: PhoneInput, field: string): Phone {
  if (value.number.length > 64 || CONTROL.test(value.number)) throw invalid(`${field}.number`, 'is not a phone number');
  const country = value.country ? value.country.toUpperCase() : undefined;
  if (country !== undefined && !/^[A-Z]{2}$/.test(country)) throw invalid(`${field}.country`, 'must be a two-letter country code such as US');
  const parsed = parsePhoneNumberFromString(value.number, country as CountryCode | undefined);
  if (!parsed || !parsed.isValid()) {
    throw invalid(`${field}.number`, `"${value.number}" is not a valid phone number${country ? ` for ${country}` : ' (use +country format or give a country)'}`);
  }
  const extension = value.extension ?? parsed.ext ?? null;
  if (extension !== null && extension !== '' && !/^[0-9]{1,10}$/.test(extension)) throw invalid(`${field}.extension`, 'must be 1-10 digits');
  return Object.freeze({ number: parsed.number, extension: extension === '' ? null : extension, country: parsed.country ?? country ?? null });
}

/** The PIN policy of the company settings. */
export interface PinPolicy {
  readonly minLength: number;
  readonly maxLength: number;
  readonly refuseTrivial: boolean;
}

/** One digit repeated (0000) or a run up or down (1234, 8765, 8901). */
function trivialPin(pin: string): boolean {
  const digits = [...pin].map(Number);
  const steps = new Set(digits.slice(1).map((d, i) => (d - (digits[i] as number) + 10) % 10));
  return steps.size === 1 && (steps.has(0) || steps.has(1) || steps.has(9));
}

/** PINs: ASCII digits, within the policy's lengths (always 4 to 16), not trivial when the policy says so. */
export function validatePin(value: unknown, policy: PinPolicy, field = 'pin'): string {
  const min = Math.max(4, policy.minLength);
  const max = Math.min(16, policy.maxLength);
  if (typeof value !== 'string' || !/^[0-9]+$/.test(value) || value.length < min || value.length > max) throw invalid(field, `must be ${min} to ${max} digits`);
  if (policy.refuseTrivial && trivialPin(value)) throw invalid(field, 'must not be one repeated digit or a run such as 1234');
  return value;
}

/** Local passwords (first factor): 12 to 1024 characters, not the username in any case. */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 1024;

export function validatePassword(value: unknown, username: string, field = 'password'): string {
  if (typeof value !== 'string') throw invalid(field, 'must be a string');
  // Code points, so a password of emoji is not counted twice.
  const length = [...value].length;
  if (length < PASSWORD_MIN_LENGTH) throw invalid(field, `must be at least ${PASSWORD_MIN_LENGTH} characters`);
  if (length > PASSWORD_MAX_LENGTH) throw invalid(field, `must be at most ${PASSWORD_MAX_LENGTH} characters`);
  if (value.toLowerCase() === username.toLowerCase()) throw invalid(field, 'must not be the username');
  return value;
}

export function validateReason(value: unknown, field = 'reason'): string {
  const v = validateText(value, field, 500, { required: true });
  return v as string;
}

export function validateInteger(value: unknown, field: string, min: number, max: number): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) throw invalid(field, `must be an integer from ${min} to ${max}`);
  return value as number;
}

/** At most this many reply attributes per user. */
export const REPLY_ATTRIBUTES_MAX = 32;
/** At most this many octets of values in all, so that an answer with them stays well within 4096 octets. */
export const REPLY_ATTRIBUTES_MAX_OCTETS = 2048;
const ATTRIBUTE_NAME = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;
const UTF8 = new TextEncoder();

/**
 * A list of reply attributes: names of letters, digits and dashes (1-64), values of 1-253 octets of
 * text without control characters, at most REPLY_ATTRIBUTES_MAX of them and
 * REPLY_ATTRIBUTES_MAX_OCTETS of values; then each one through `check`, the sending door's own
 * rules. Order and repeated names are kept (RADIUS allows several Class attributes).
 */
export function validateReplyAttributes(
  value: unknown,
  check: ReplyAttributeCheck | undefined,
  field = 'attributes',
): ReplyAttribute[] {
  if (!Array.isArray(value)) throw invalid(field, 'must be a list of {name, value}');
  if (value.length > REPLY_ATTRIBUTES_MAX) throw invalid(field, `must have at most ${REPLY_ATTRIBUTES_MAX} attributes`);
  const out: ReplyAttribute[] = [];
  let octets = 0;
  for (const [i, item] of value.entries()) {
    const at = `${field}[${i}]`;
    if (typeof item !== 'object' || item === null) throw invalid(at, 'must be an object with name and value');
    const { name, value: text, ...rest } = item as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) throw invalid(`${at}.${extra}`, 'is not a field of a reply attribute');
    if (typeof name !== 'string' || !ATTRIBUTE_NAME.test(name)) throw invalid(`${at}.name`, 'must be an attribute name: 1-64 letters, digits and dashes, starting with a letter');
    if (typeof text !== 'string' || text.length === 0) throw invalid(`${at}.value`, 'must be a non-empty string');
    const bytes = UTF8.encode(text).length;
    if (bytes > 253) throw invalid(`${at}.value`, 'must be at most 253 octets');
    if (CONTROL.test(text)) throw invalid(`${at}.value`, 'must not contain control characters');
    octets += bytes;
    const attribute = { name, value: text };
    const problem = check?.(attribute);
    if (problem) throw invalid(`${at}.${problem.part}`, problem.message);
    out.push(attribute);
  }
  if (octets > REPLY_ATTRIBUTES_MAX_OCTETS) throw invalid(field, `values must add up to at most ${REPLY_ATTRIBUTES_MAX_OCTETS} octets`);
  return out;
}
