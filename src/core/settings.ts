/** Company settings: defaults, merging stored overrides, and validating changes. */
import { CoreError } from './errors.ts';
import { validateNetworks } from './auth/networks.ts';
import { validateLanguage } from './validation.ts';
import type { Settings, SettingsPatch } from './types.ts';

export const DEFAULT_SETTINGS: Settings = {
  lockout: { threshold: 10, autoUnlockSeconds: 900 },
  bypass: { defaultSeconds: 300, maxSeconds: 86_400 },
  cacheSeconds: 0,
  trustedIps: [],
  totp: { window: 1 },
  hotp: { lookAhead: 10 },
  challengeSeconds: 120,
  defaultLanguage: 'en',
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
};

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
        const rule = INTEGER_RULES[path];
        if (!rule) errors[path] = 'unknown setting';
        else if (!Number.isInteger(subValue) || (subValue) < rule.min || (subValue) > rule.max)
          errors[path] = `must be an integer from ${rule.min} to ${rule.max}`;
        else merged[sub] = subValue;
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
  if (Object.keys(errors).length > 0) {
    throw new CoreError('validation_failed', `invalid settings: ${Object.entries(errors).map(([k, m]) => `${k} ${m}`).join('; ')}`, errors);
  }
  return { settings, changed };
}
