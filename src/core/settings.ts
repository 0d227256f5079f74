/** Company settings: defaults, merging stored overrides, and validating changes. */
import { CoreError } from './errors.ts';
import { validateNetworks } from './auth/networks.ts';
import { methods } from './methods/index.ts';
import { QUESTIONS_PER_USER } from './methods/questions.ts';
import { validateLanguage } from './validation.ts';
import { METHOD_TYPES, type Settings, type SettingsPatch } from './types.ts';

export const DEFAULT_SETTINGS: Settings = {
  lockout: { threshold: 10, autoUnlockSeconds: 900 },
  bypass: { defaultSeconds: 300, maxSeconds: 86_400 },
  cacheSeconds: 0,
  trustedIps: [],
  totp: { window: 1 },
  hotp: { lookAhead: 10 },
  challengeSeconds: 120,
  defaultLanguage: 'en',
  pin: { minLength: 4, maxLength: 8, refuseTrivial: true },
  portal: {
    allowEnrollment: true,
    enrollMethods: ['totp', 'push', 'backup'],
    questionsAsked: 2,
    allowPhoneChange: true,
    allowPinChange: true,
    allowLanguageChange: true,
    allowMethodChange: true,
    allowBypass: false,
    bypassSeconds: 300,
    trustedIpsSkipSecondFactor: false,
  },
  fraud: { allowReports: true, blockUser: true },
  sessions: { idleSeconds: 900, absoluteSeconds: 28_800, reauthSeconds: 300 },
  retention: { auditDays: 365, authenticationDays: 30 },
};

type Rule = { readonly min: number; readonly max: number };
const INTEGER_RULES: Record<string, Rule> = {
  'lockout.threshold': { min: 0, max: 1000 },
  'lockout.autoUnlockSeconds': { min: 0, max: 31_536_000 },
  'bypass.defaultSeconds': { min: 1, max: 31_536_000 },
  'bypass.maxSeconds': { min: 1, max: 31_536_000 },
  cacheSeconds: { min: 0, max: 86_400 },
  'totp.window': { min: 0, max: 10 },
  'hotp.lookAhead': { min: 0, max: 1000 },
  challengeSeconds: { min: 10, max: 3600 },
  'pin.minLength': { min: 4, max: 16 },
  'pin.maxLength': { min: 4, max: 16 },
  'portal.bypassSeconds': { min: 30, max: 86_400 },
  'portal.questionsAsked': { min: 1, max: QUESTIONS_PER_USER },
  'sessions.idleSeconds': { min: 60, max: 86_400 },
  'sessions.absoluteSeconds': { min: 300, max: 604_800 },
  'sessions.reauthSeconds': { min: 30, max: 3600 },
  'retention.auditDays': { min: 0, max: 36_500 },
  'retention.authenticationDays': { min: 1, max: 3650 },
};
const BOOLEAN_SETTINGS = new Set([
  'pin.refuseTrivial',
  'portal.allowEnrollment',
  'portal.allowPhoneChange',
  'portal.allowPinChange',
  'portal.allowLanguageChange',
  'portal.allowMethodChange',
  'portal.allowBypass',
  'portal.trustedIpsSkipSecondFactor',
  'fraud.allowReports',
  'fraud.blockUser',
]);
const METHOD_LIST_SETTINGS = new Set(['portal.enrollMethods']);
/** What users may set up themselves in the portal: the methods made for it. */
const PORTAL_METHODS = METHOD_TYPES.filter((t) => methods[t].enrollableFrom.includes('portal'));

/** The error for one nested setting, or undefined when the value is acceptable. */
function checkNested(path: string, value: unknown): string | undefined {
  if (BOOLEAN_SETTINGS.has(path)) return typeof value === 'boolean' ? undefined : 'must be true or false';
  if (METHOD_LIST_SETTINGS.has(path)) {
    const ok = Array.isArray(value) && value.every((v) => (PORTAL_METHODS as readonly unknown[]).includes(v)) && new Set(value).size === value.length;
    return ok ? undefined : `must be a list of distinct method types users set up themselves (${PORTAL_METHODS.join(', ')})`;
  }
  const rule = INTEGER_RULES[path];
  if (!rule) return 'unknown setting';
  return Number.isInteger(value) && (value as number) >= rule.min && (value as number) <= rule.max ? undefined : `must be an integer from ${rule.min} to ${rule.max}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Stored overrides deep-merged over the defaults; unknown or invalid stored values fall back. */
export function mergeSettings(stored: Partial<Record<keyof Settings, unknown>>): Settings {
  const out: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  for (const key of Object.keys(DEFAULT_SETTINGS) as (keyof Settings)[]) {
    const value = stored[key];
    if (value === undefined) continue;
    const def = DEFAULT_SETTINGS[key];
    out[key] = isRecord(def) && !Array.isArray(def) && isRecord(value) ? { ...def, ...value } : value;
  }
  return out as unknown as Settings;
}

/**
 * Validates a patch against the current settings; returns the changed top-level keys with their
 * new full values. Throws CoreError('validation_failed') with every bad field named.
 */
export function applySettingsPatch(current: Settings, patch: SettingsPatch): { settings: Settings; changed: (keyof Settings)[] } {
  const errors: Record<string, string> = {};
  const next: Record<string, unknown> = { ...current };
  const changed: (keyof Settings)[] = [];
  if (!isRecord(patch)) throw new CoreError('validation_failed', 'settings patch must be an object');
  for (const [key, value] of Object.entries(patch)) {
    if (!(key in DEFAULT_SETTINGS)) {
      errors[key] = 'unknown setting';
      continue;
    }
    const k = key as keyof Settings;
    const def = DEFAULT_SETTINGS[k];
    if (key === 'trustedIps') {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) errors[key] = 'must be a list of addresses, ranges or CIDR blocks';
      else {
        try {
          next[key] = validateNetworks(value);
        } catch (e) {
          errors[key] = e instanceof CoreError ? e.message : 'invalid';
        }
      }
    } else if (key === 'defaultLanguage') {
      if (typeof value !== 'string' || validateLanguage(value) === null) errors[key] = 'must be a language tag such as en or fr-CA';
      else next[key] = value;
    } else if (isRecord(def)) {
      if (!isRecord(value)) {
        errors[key] = 'must be an object';
        continue;
      }
      const merged: Record<string, unknown> = { ...(current[k] as object) };
      for (const [sub, subValue] of Object.entries(value)) {
        const path = `${key}.${sub}`;
        const error = checkNested(path, subValue);
        if (error !== undefined) errors[path] = error;
        else merged[sub] = Array.isArray(subValue) ? [...(subValue as unknown[])] : subValue;
      }
      next[key] = merged;
    } else {
      const rule = INTEGER_RULES[key];
      if (!rule || !Number.isInteger(value) || (value as number) < rule.min || (value as number) > rule.max)
        errors[key] = rule ? `must be an integer from ${rule.min} to ${rule.max}` : 'invalid';
      else next[key] = value;
    }
    changed.push(k);
  }
  const settings = next as unknown as Settings;
  if (settings.bypass.defaultSeconds > settings.bypass.maxSeconds) errors['bypass.defaultSeconds'] = 'must not exceed bypass.maxSeconds';
  if (settings.pin.minLength > settings.pin.maxLength) errors['pin.minLength'] = 'must not exceed pin.maxLength';
  if (settings.portal.bypassSeconds > settings.bypass.maxSeconds) errors['portal.bypassSeconds'] = 'must not exceed bypass.maxSeconds';
  if (settings.sessions.idleSeconds > settings.sessions.absoluteSeconds) errors['sessions.idleSeconds'] = 'must not exceed sessions.absoluteSeconds';
  if (Object.keys(errors).length > 0) {
    throw new CoreError('validation_failed', `invalid settings: ${Object.entries(errors).map(([k, m]) => `${k} ${m}`).join('; ')}`, errors);
  }
  return { settings, changed };
}
