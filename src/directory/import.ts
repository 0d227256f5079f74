/**
 * Directory import: creates or updates Countersign users from directory accounts, through the
 * core's public API (so every change is validated and audited). Users are matched by their stable
 * directory id (source directory + externalId), never by name: a local user, or a user of another
 * directory, with the same username is reported as an error and never overwritten.
 */
import type { Actor, Core, CreateUserInput, ProgressFn, UpdateUserInput } from '../core/api.ts';
import { isCoreError } from '../core/errors.ts';
import type { Store } from '../core/ports.ts';
import type { MethodType, Phone, User } from '../core/types.ts';
import type { DirectoryUser } from './presets.ts';

export interface DirectoryImportDeps {
  readonly core: Core;
  /** Lookups by source and by name (read-only). */
  readonly store: Pick<Store, 'users'>;
  readonly actor: Actor;
}

export interface DirectoryImportOptions {
  /** Name of the directory source; stored as the users' source. */
  readonly directory: string;
  /** Applied to new users only (the directory's preferredLanguage wins when present). */
  readonly defaults?: { readonly language?: string; readonly defaultMethod?: MethodType };
}

export interface DirectoryImportError {
  readonly dn: string;
  readonly username: string;
  /** CoreError code ('user_exists', 'validation_failed', ...) or 'source_conflict'. */
  readonly code: string;
  readonly message: string;
}

export interface DirectoryImportReport {
  readonly total: number;
  readonly created: number;
  /** Existing users whose attributes changed. */
  readonly updated: number;
  /** Existing users already up to date. */
  readonly unchanged: number;
  /** Users disabled because their directory account is disabled (created disabled, or switched). */
  readonly disabled: number;
  readonly errors: readonly DirectoryImportError[];
  /** Attributes dropped for failing validation, per DN. */
  readonly warnings: readonly { readonly dn: string; readonly message: string }[];
}

const samePhone = (a: Phone | null, b: { number: string; extension?: string | null } | null | undefined): boolean =>
  (a === null && (b === null || b === undefined)) || (a !== null && !!b && a.number === b.number && (a.extension ?? null) === (b.extension ?? null));

/** The fields the directory manages that differ from the stored user. */
export function userChanges(user: User, d: DirectoryUser): UpdateUserInput {
  const i = d.input;
  const patch: Record<string, unknown> = {};
  if (i.username !== user.username) patch['username'] = i.username;
  if ((i.displayName ?? null) !== user.displayName) patch['displayName'] = i.displayName ?? null;
  if ((i.email?.toLowerCase() ?? null) !== (user.email?.toLowerCase() ?? null)) patch['email'] = i.email ?? null;
  if (!samePhone(user.phone, i.phone)) patch['phone'] = i.phone ?? null;
  if (!samePhone(user.backupPhone, i.backupPhone)) patch['backupPhone'] = i.backupPhone ?? null;
  if (i.language !== undefined && i.language !== user.language) patch['language'] = i.language;
  return patch;
}

/** The core input creating a new user from a directory account, with the defaults for new users. */
export function newUserInput(d: DirectoryUser, directory: string, defaults: DirectoryImportOptions['defaults'] = {}): CreateUserInput {
  return {
    ...d.input,
    ...(d.input.language === undefined && defaults.language !== undefined ? { language: defaults.language } : {}),
    ...(defaults.defaultMethod !== undefined ? { defaultMethod: defaults.defaultMethod } : {}),
    status: d.disabled ? 'disabled' : 'enabled',
    source: { kind: 'directory', directory, externalId: d.externalId },
  };
}

/** The error for a directory account whose username another user (`clash`) holds already. */
export function sourceConflict(d: DirectoryUser, clash: User | undefined): DirectoryImportError {
  const username = d.input.username;
  const owner = !clash ? 'another user' : clash.source.kind === 'local' ? 'a local user' : `a user of directory "${clash.source.directory}" with another id`;
  return { dn: d.dn, username, code: 'source_conflict', message: `username "${username}" already belongs to ${owner}; not overwritten` };
}

/**
 * Imports directory accounts. Bad entries are reported in `errors` and never stop the others.
 * A disabled directory account disables the user; re-enabling stays an administrator's decision.
 */
export async function importDirectoryUsers(
  deps: DirectoryImportDeps,
  users: readonly DirectoryUser[],
  options: DirectoryImportOptions,
  progress?: ProgressFn,
): Promise<DirectoryImportReport> {
  const { core, store, actor } = deps;
  const directory = options.directory;
  if (typeof directory !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(directory)) {
    throw new TypeError('directory: must be a name of 1-64 letters, digits, dot, dash or underscore');
  }
  let created = 0;
  let updated = 0;
  let unchanged = 0;
  let disabled = 0;
  const errors: DirectoryImportError[] = [];
  const warnings = users.flatMap((u) => u.warnings.map((message) => ({ dn: u.dn, message })));
  const total = users.length;

  for (let n = 0; n < users.length; n++) {
    const d = users[n] as DirectoryUser;
    const username = d.input.username;
    try {
      const existing = await store.users.getBySource(directory, d.externalId);
      if (existing) {
        const patch = userChanges(existing, d);
        let current = existing;
        if (Object.keys(patch).length > 0) {
          await core.users.update(existing.username, patch, actor);
          current = { ...existing, username };
          updated++;
        } else {
          unchanged++;
        }
        if (d.disabled && existing.status !== 'disabled') {
          await core.users.setEnabled(current.username, false, actor);
          disabled++;
        }
      } else {
        const clash = await store.users.getByUsername(username);
        if (clash) {
          errors.push(sourceConflict(d, clash));
        } else {
          await core.users.create(newUserInput(d, directory, options.defaults), actor);
          created++;
          if (d.disabled) disabled++;
        }
      }
    } catch (e) {
      if (!isCoreError(e)) throw e;
      errors.push({ dn: d.dn, username, code: e.code, message: e.message });
    }
    progress?.(n + 1, total);
  }
  return { total, created, updated, unchanged, disabled, errors, warnings };
}
