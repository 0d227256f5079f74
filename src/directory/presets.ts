/**
 * Attribute presets for directory import: which LDAP attribute holds each user field, for Active
 * Directory and OpenLDAP, and a pure mapping of one LDAP entry to a core CreateUserInput.
 * Every attribute can be remapped with a partial override: `withOverrides(activeDirectory, {email: 'proxyAddresses'})`.
 */
import type { Entry } from 'ldapts';
import type { CreateUserInput } from '../core/api.ts';
import { isCoreError } from '../core/errors.ts';
import { validateEmail, validateLanguage, validatePhone, validateText, validateUsername } from '../core/validation.ts';

/** How group membership is resolved for a {kind:'group'} scope. */
export type GroupMembership =
  /** Active Directory's LDAP_MATCHING_RULE_IN_CHAIN on memberOf: nested groups resolved by the server. */
  | 'inChain'
  /** The user's memberOf attribute equals the group DN (direct membership only). */
  | 'memberOf'
  /** The group's `member` values, expanded recursively (nested groups) by Countersign. */
  | 'member';

export interface AttributeMap {
  /** Preset name, for messages. */
  readonly name: string;
  /** Login name attribute. */
  readonly login: string;
  /** Used when the login attribute is absent (AD: userPrincipalName). */
  readonly loginFallback: string | null;
  /** Stable id that survives renames: objectGUID (AD), entryUUID (OpenLDAP). */
  readonly externalId: string;
  /** 'guid': a 16-byte binary AD GUID, rendered as the canonical lower-case string; 'text': as is. */
  readonly externalIdFormat: 'guid' | 'text';
  /** First present one wins. */
  readonly displayName: readonly string[];
  readonly email: string;
  /** The primary phone (texts and calls go here first). */
  readonly phone: string;
  readonly backupPhone: string;
  readonly language: string;
  /**
   * What marks a disabled account: a bit of an integer attribute (AD: userAccountControl 0x2), or
   * an attribute holding one exact value (OpenLDAP ppolicy: pwdAccountLockedTime 000001010000Z,
   * locked until an administrator unlocks it), or nothing.
   */
  readonly disabled: { readonly attribute: string; readonly bit: number } | { readonly attribute: string; readonly value: string } | null;
  /** LDAP filter selecting user accounts (RFC 4515 text, from configuration). */
  readonly userFilter: string;
  readonly groupMembership: GroupMembership;
}

export const activeDirectory: AttributeMap = {
  name: 'activeDirectory',
  login: 'sAMAccountName',
  loginFallback: 'userPrincipalName',
  externalId: 'objectGUID',
  externalIdFormat: 'guid',
  displayName: ['displayName', 'cn'],
  email: 'mail',
  phone: 'mobile',
  backupPhone: 'telephoneNumber',
  language: 'preferredLanguage',
  disabled: { attribute: 'userAccountControl', bit: 0x2 },
  // SAM_NORMAL_USER_ACCOUNT: people, not computers, trusts or groups.
  userFilter: '(sAMAccountType=805306368)',
  groupMembership: 'inChain',
};

export const openldap: AttributeMap = {
  name: 'openldap',
  login: 'uid',
  loginFallback: null,
  externalId: 'entryUUID',
  externalIdFormat: 'text',
  displayName: ['displayName', 'cn'],
  email: 'mail',
  phone: 'mobile',
  backupPhone: 'telephoneNumber',
  language: 'preferredLanguage',
  // A timed lockout (any other value) is temporary and refused at bind time; it does not disable.
  disabled: { attribute: 'pwdAccountLockedTime', value: '000001010000Z' },
  userFilter: '(objectClass=inetOrgPerson)',
  groupMembership: 'member',
};

export const PRESETS = { activeDirectory, openldap } as const;

const ATTRIBUTE = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;

export class AttributeMapError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'AttributeMapError';
    this.field = field;
  }
}

/** A preset with some attributes remapped. Attribute names are checked; throws AttributeMapError naming the field. */
export function withOverrides(base: AttributeMap, override: Partial<AttributeMap> = {}): AttributeMap {
  const map = { ...base, ...override };
  const check = (field: string, v: unknown): void => {
    if (typeof v !== 'string' || !ATTRIBUTE.test(v)) throw new AttributeMapError(field, 'must be an attribute name such as mail');
  };
  for (const f of ['login', 'externalId', 'email', 'phone', 'backupPhone', 'language'] as const) check(f, map[f]);
  if (map.loginFallback !== null) check('loginFallback', map.loginFallback);
  if (!Array.isArray(map.displayName) || map.displayName.length === 0) throw new AttributeMapError('displayName', 'must list at least one attribute');
  map.displayName.forEach((a, i) => check(`displayName[${i}]`, a));
  if (map.disabled !== null) {
    check('disabled.attribute', map.disabled.attribute);
    if ('bit' in map.disabled) {
      if (!Number.isInteger(map.disabled.bit) || map.disabled.bit <= 0 || map.disabled.bit > 0x7fffffff) throw new AttributeMapError('disabled.bit', 'must be a positive integer bit mask');
    } else if (typeof map.disabled.value !== 'string' || map.disabled.value === '') {
      throw new AttributeMapError('disabled.value', 'must be the attribute value that marks a disabled account');
    }
  }
  if (map.externalIdFormat !== 'guid' && map.externalIdFormat !== 'text') throw new AttributeMapError('externalIdFormat', 'must be guid or text');
  if (!['inChain', 'memberOf', 'member'].includes(map.groupMembership)) throw new AttributeMapError('groupMembership', 'must be inChain, memberOf or member');
  if (typeof map.userFilter !== 'string' || !/^\(.*\)$/s.test(map.userFilter.trim())) throw new AttributeMapError('userFilter', 'must be an LDAP filter in parentheses');
  return map;
}

/** The attributes to request for a map. */
export function requestedAttributes(map: AttributeMap): string[] {
  const names = [map.login, map.loginFallback, map.externalId, ...map.displayName, map.email, map.phone, map.backupPhone, map.language, map.disabled?.attribute];
  return [...new Set(names.filter((n): n is string => typeof n === 'string'))];
}

/** One directory account, ready for import. */
export interface DirectoryUser {
  readonly dn: string;
  /** Stable id (canonical GUID for AD). */
  readonly externalId: string;
  /** The directory says the account is disabled. */
  readonly disabled: boolean;
  /** Without source, status, language defaults: the importer adds those. */
  readonly input: CreateUserInput;
  /** Attributes dropped because they failed validation (the user is still imported). */
  readonly warnings: readonly string[];
}

export class EntryMappingError extends Error {
  readonly dn: string;
  constructor(dn: string, message: string) {
    super(message);
    this.name = 'EntryMappingError';
    this.dn = dn;
  }
}

/** Canonical string of a 16-byte AD GUID (the first three groups are little-endian). */
export function guidToString(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError('a GUID is 16 bytes');
  const h = (i: number): string => (bytes[i] as number).toString(16).padStart(2, '0');
  const run = (...idx: number[]): string => idx.map(h).join('');
  return `${run(3, 2, 1, 0)}-${run(5, 4)}-${run(7, 6)}-${run(8, 9)}-${run(10, 11, 12, 13, 14, 15)}`;
}

function values(entry: Entry, attribute: string): (string | Buffer)[] {
  const lc = attribute.toLowerCase();
  for (const key of Object.keys(entry)) {
    if (key.toLowerCase() !== lc || key === 'dn') continue;
    const v = entry[key];
    if (v === undefined) return [];
    return Array.isArray(v) ? v : [v];
  }
  return [];
}

function first(entry: Entry, attribute: string): string | undefined {
  const v = values(entry, attribute)[0];
  if (v === undefined) return undefined;
  const s = typeof v === 'string' ? v : v.toString('utf8');
  return s.trim() === '' ? undefined : s.trim();
}

function reason(e: unknown): string {
  if (isCoreError(e)) return e.message;
  throw e;
}

export interface MapOptions {
  /** Country for phone numbers written without +country (ISO 3166-1 alpha-2, such as US). */
  readonly phoneCountry?: string;
}

/** The entry's stable id (canonical GUID for AD, lower-cased text otherwise), or undefined when it has none usable. */
export function externalIdOf(entry: Entry, map: AttributeMap): string | undefined {
  const rawId = values(entry, map.externalId)[0];
  if (map.externalIdFormat === 'guid') {
    const bytes = typeof rawId === 'string' ? Buffer.from(rawId, 'binary') : rawId;
    return bytes && bytes.length === 16 ? guidToString(bytes) : undefined;
  }
  if (rawId === undefined) return undefined;
  const s = (typeof rawId === 'string' ? rawId : rawId.toString('utf8')).trim();
  return s !== '' && s.length <= 256 ? s.toLowerCase() : undefined;
}

/**
 * Maps one LDAP entry to an import record. Throws EntryMappingError when the entry has no usable
 * login name or stable id; optional fields that fail validation are dropped with a warning.
 */
export function mapEntry(entry: Entry, map: AttributeMap, options: MapOptions = {}): DirectoryUser {
  const dn = entry.dn;
  const login = first(entry, map.login) ?? (map.loginFallback ? first(entry, map.loginFallback) : undefined);
  if (login === undefined) throw new EntryMappingError(dn, `no ${map.login}${map.loginFallback ? ` or ${map.loginFallback}` : ''}`);
  let username: string;
  try {
    username = validateUsername(login, map.login);
  } catch (e) {
    throw new EntryMappingError(dn, reason(e));
  }

  const externalId = externalIdOf(entry, map);
  if (externalId === undefined) throw new EntryMappingError(dn, `no usable ${map.externalId}`);

  let disabled = false;
  if (map.disabled) {
    const raw = first(entry, map.disabled.attribute);
    if (raw !== undefined) {
      if ('bit' in map.disabled) {
        const n = Number(raw);
        // An unreadable flag fails closed: treated as disabled.
        disabled = !Number.isSafeInteger(n) || (n & map.disabled.bit) !== 0;
      } else {
        disabled = raw === map.disabled.value;
      }
    }
  }

  const warnings: string[] = [];
  const input: Record<string, unknown> = { username };
  const take = (field: string, attribute: string, raw: string | undefined, check: (v: string) => unknown): void => {
    if (raw === undefined) return;
    try {
      const v = check(raw);
      if (v !== null && v !== undefined) input[field] = v;
    } catch (e) {
      warnings.push(`${attribute} dropped: ${reason(e)}`);
    }
  };
  const nameAttr = map.displayName.find((a) => first(entry, a) !== undefined);
  if (nameAttr) take('displayName', nameAttr, first(entry, nameAttr), (v) => validateText(v, 'displayName', 256));
  take('email', map.email, first(entry, map.email), (v) => validateEmail(v));
  const phone = (field: string) => (v: string) => {
    const p = validatePhone({ number: v, country: options.phoneCountry ?? null }, field);
    return p && { number: p.number, country: p.country, extension: p.extension };
  };
  take('phone', map.phone, first(entry, map.phone), phone('phone'));
  take('backupPhone', map.backupPhone, first(entry, map.backupPhone), phone('backupPhone'));
  const lang = first(entry, map.language);
  if (lang !== undefined) {
    // preferredLanguage may carry a quality list (RFC 2798: "en-US, fr;q=0.8"); the first tag counts.
    const tag = (lang.split(',')[0] ?? '').split(';')[0]?.trim() ?? '';
    if (validateLanguage(tag) !== null) input['language'] = tag;
    else warnings.push(`${map.language} dropped: "${lang.slice(0, 40)}" is not a language tag`);
  }
  return { dn, externalId, disabled, input: input as unknown as CreateUserInput, warnings };
}
