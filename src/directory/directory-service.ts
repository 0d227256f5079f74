/**
 * The configured directory sources as one service for the CLI and the API: list them (never the
 * password), test a connection, search users, and import them through the core.
 */
import type { Actor, Core, ProgressFn } from '../core/api.ts';
import { CoreError } from '../core/errors.ts';
import type { Store } from '../core/ports.ts';
import type { MethodType } from '../core/types.ts';
import { testConnection, type ConnectionReport } from './connection.ts';
import { importDirectoryUsers, type DirectoryImportReport } from './import.ts';
import type { AttributeMap, DirectoryUser } from './presets.ts';
import { searchUsers, type SearchResult, type SearchScope } from './search.ts';
import type { DirectorySource } from './source.ts';

export interface ConfiguredSource {
  readonly name: string;
  readonly preset: string;
  readonly source: DirectorySource;
  readonly map: AttributeMap;
  readonly pageSize: number;
  readonly phoneCountry?: string;
}

/** What may be shown about a source: no password. */
export interface SourceView {
  readonly name: string;
  readonly preset: string;
  readonly urls: readonly string[];
  readonly baseDn: string;
  readonly bindDn: string;
  readonly startTls: boolean;
  readonly rejectUnauthorized: boolean;
  readonly loginAttribute: string;
}

/** A found directory account as the CLI and the API show it. */
export function userRow(u: DirectoryUser): { username: string; displayName: string | null; email: string | null; disabled: boolean; externalId: string; dn: string; warnings: readonly string[] } {
  return {
    username: u.input.username,
    displayName: u.input.displayName ?? null,
    email: u.input.email ?? null,
    disabled: u.disabled,
    externalId: u.externalId,
    dn: u.dn,
    warnings: u.warnings,
  };
}

export interface ImportOptions {
  readonly defaults?: { readonly language?: string; readonly defaultMethod?: MethodType };
  /** Match against the database and report, writing nothing. */
  readonly dryRun?: boolean;
  readonly maxUsers?: number;
}

export type ImportResult = DirectoryImportReport & { readonly dryRun: boolean; readonly skipped: SearchResult['skipped'] };

export class DirectoryNotFoundError extends Error {
  readonly code = 'directory_not_found';
  constructor(name: string, names: readonly string[]) {
    super(`no directory source named "${name}" in the configuration` + (names.length ? ` (configured: ${names.join(', ')})` : ' (none is configured: add one under "directories")'));
    this.name = 'DirectoryNotFoundError';
  }
}

/**
 * What an import would do, without writing: the same import run against a core that records
 * nothing but the names it would have created, so a name taken twice in one import is refused as
 * the real core would.
 */
function dryCore(): Core {
  const created = new Set<string>();
  return {
    users: {
      create: (input: { username: string }) => {
        const key = input.username.toLowerCase();
        if (created.has(key)) return Promise.reject(new CoreError('user_exists', `user ${input.username} already exists`));
        created.add(key);
        return Promise.resolve(undefined);
      },
      update: () => Promise.resolve(undefined),
      setEnabled: () => Promise.resolve(undefined),
    },
  } as unknown as Core;
}

export interface DirectoryService {
  list(): SourceView[];
  test(name: string): Promise<ConnectionReport>;
  search(name: string, scope: SearchScope, maxUsers?: number): Promise<SearchResult>;
  import(name: string, scope: SearchScope, options: ImportOptions, actor: Actor, progress?: ProgressFn): Promise<ImportResult>;
}

export function createDirectoryService(deps: { core: Core; store: Store; sources: readonly ConfiguredSource[] }): DirectoryService {
  const find = (name: string): ConfiguredSource => {
    const s = deps.sources.find((x) => x.name === name);
    if (!s) throw new DirectoryNotFoundError(name, deps.sources.map((x) => x.name));
    return s;
  };
  const search = (name: string, scope: SearchScope, maxUsers?: number): Promise<SearchResult> => {
    const s = find(name);
    return searchUsers(s.source, s.map, scope, {
      pageSize: s.pageSize,
      ...(maxUsers !== undefined ? { maxUsers } : {}),
      ...(s.phoneCountry !== undefined ? { phoneCountry: s.phoneCountry } : {}),
    });
  };
  return {
    list: () =>
      deps.sources.map((s) => ({
        name: s.name,
        preset: s.preset,
        urls: s.source.urls,
        baseDn: s.source.baseDn,
        bindDn: s.source.bindDn,
        startTls: s.source.startTls,
        rejectUnauthorized: s.source.rejectUnauthorized,
        loginAttribute: s.source.userAttribute,
      })),
    test: (name) => testConnection(find(name).source),
    search,
    async import(name, scope, options, actor, progress) {
      const found = await search(name, scope, options.maxUsers);
      const dryRun = options.dryRun === true;
      const report = await importDirectoryUsers(
        { core: dryRun ? dryCore() : deps.core, store: deps.store, actor },
        found.users,
        { directory: name, ...(options.defaults ? { defaults: options.defaults } : {}) },
        progress,
      );
      return { dryRun, ...report, skipped: found.skipped };
    },
  };
}
