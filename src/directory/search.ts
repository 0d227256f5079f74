/**
 * Finding the users to import: everyone under an OU, the (nested) members of a group, or a name
 * search. Values from callers (DNs, the name query) are escaped (RFC 4515) before they enter a
 * filter; results are fetched with the paged results control.
 */
import { ResultCodeError, type Entry } from 'ldapts';
import { closeQuietly, connectService } from './connection.ts';
import { escapeFilterValue } from './ldap-first-factor.ts';
import { EntryMappingError, mapEntry, requestedAttributes, type AttributeMap, type DirectoryUser, type MapOptions } from './presets.ts';
import type { DirectorySource } from './source.ts';

export type SearchScope =
  /** Every user in the subtree of this DN. */
  | { readonly kind: 'ou'; readonly dn: string }
  /** Members of this group (nested groups included, except with groupMembership 'memberOf'). */
  | { readonly kind: 'group'; readonly dn: string }
  /** Users whose login or display name contains `query` (case-insensitive). */
  | { readonly kind: 'name'; readonly query: string };

export interface SearchOptions extends MapOptions {
  /** Entries per page of the paged results control (1..1000, default 500). */
  readonly pageSize?: number;
  /** Stop after this many users (default 100000). */
  readonly maxUsers?: number;
}

export interface SearchResult {
  readonly users: DirectoryUser[];
  /** Entries that matched but cannot be imported (no login name, no stable id). */
  readonly skipped: { readonly dn: string; readonly message: string }[];
}

/** Deepest group nesting followed by the 'member' strategy; deeper groups are ignored. */
export const MAX_GROUP_DEPTH = 16;
/** Longest name query. */
export const MAX_QUERY_LENGTH = 128;

export class DirectorySearchError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'DirectorySearchError';
    this.field = field;
  }
}

const eq = (attribute: string, value: string): string => `(${attribute}=${escapeFilterValue(value)})`;

/** The filter text for an 'ou' or 'name' scope, or a 'group' scope resolved by the server. */
export function scopeFilter(map: AttributeMap, scope: SearchScope): string {
  switch (scope.kind) {
    case 'ou':
      return map.userFilter;
    case 'name': {
      const q = escapeFilterValue(scope.query);
      const names = [map.login, ...(map.loginFallback ? [map.loginFallback] : []), ...map.displayName];
      return `(&${map.userFilter}(|${names.map((a) => `(${a}=*${q}*)`).join('')}))`;
    }
    case 'group':
      if (map.groupMembership === 'inChain') return `(&${map.userFilter}(memberOf:1.2.840.113556.1.4.1941:=${escapeFilterValue(scope.dn)}))`;
      if (map.groupMembership === 'memberOf') return `(&${map.userFilter}${eq('memberOf', scope.dn)})`;
      throw new DirectorySearchError('scope', "groupMembership 'member' is expanded by the client, not a filter");
  }
}

function validateScope(scope: SearchScope): void {
  if (typeof scope !== 'object' || scope === null) throw new DirectorySearchError('scope', 'must be an object');
  if (scope.kind === 'ou' || scope.kind === 'group') {
    if (typeof scope.dn !== 'string' || scope.dn.trim() === '' || scope.dn.length > 1024 || /[\x00-\x1f]/.test(scope.dn)) {
      throw new DirectorySearchError('scope.dn', 'must be a DN');
    }
  } else if (scope.kind === 'name') {
    if (typeof scope.query !== 'string' || scope.query.trim() === '' || scope.query.length > MAX_QUERY_LENGTH || /[\x00-\x1f]/.test(scope.query)) {
      throw new DirectorySearchError('scope.query', `must be 1 to ${MAX_QUERY_LENGTH} printable characters`);
    }
  } else {
    throw new DirectorySearchError('scope.kind', 'must be ou, group or name');
  }
}

const dnKey = (dn: string): string => dn.replace(/\s*,\s*/g, ',').toLowerCase();

/** Users matching the scope, mapped with the preset. Connects with the service account (fail-over as for the first factor). */
export async function searchUsers(source: DirectorySource, map: AttributeMap, scope: SearchScope, options: SearchOptions = {}): Promise<SearchResult> {
  validateScope(scope);
  const pageSize = options.pageSize ?? 500;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw new DirectorySearchError('pageSize', 'must be an integer from 1 to 1000');
  const maxUsers = options.maxUsers ?? 100_000;
  const attributes = requestedAttributes(map);
  const buffers = map.externalIdFormat === 'guid' ? [map.externalId] : [];
  const { client } = await connectService(source);
  try {
    const search = async (base: string, filter: string, scopeKind: 'sub' | 'base', attrs = attributes): Promise<Entry[]> => {
      const result = await client.search(base, {
        scope: scopeKind,
        filter,
        derefAliases: 'never',
        attributes: attrs,
        explicitBufferAttributes: buffers,
        ...(scopeKind === 'sub' ? { paged: { pageSize } } : {}),
      });
      return result.searchEntries;
    };
    let entries: Entry[] = [];
    try {
      if (scope.kind === 'group' && map.groupMembership === 'member') {
        entries = await expandGroup(search, source.baseDn, map, scope.dn, maxUsers);
      } else {
        const base = scope.kind === 'ou' ? scope.dn : source.baseDn;
        // Page by page, stopping at maxUsers: a small limit never reads a whole OU.
        const pages = client.searchPaginated(base, {
          scope: 'sub',
          filter: scopeFilter(map, scope),
          derefAliases: 'never',
          attributes,
          explicitBufferAttributes: buffers,
          paged: { pageSize: Math.min(pageSize, maxUsers) },
        });
        for await (const page of pages) {
          entries.push(...page.searchEntries);
          if (entries.length >= maxUsers) break;
        }
      }
    } catch (e) {
      throw scopeError(e, scope);
    }
    const users: DirectoryUser[] = [];
    const skipped: { dn: string; message: string }[] = [];
    for (const entry of entries.slice(0, maxUsers)) {
      try {
        users.push(mapEntry(entry, map, options));
      } catch (e) {
        if (!(e instanceof EntryMappingError)) throw e;
        skipped.push({ dn: e.dn, message: e.message });
      }
    }
    return { users, skipped };
  } finally {
    await closeQuietly(client);
  }
}

/** The directory's refusal of the scope itself, as a DirectorySearchError naming it; anything else as it is. */
export function scopeError(e: unknown, scope: { readonly kind: string; readonly dn?: string }): unknown {
  if (!(e instanceof ResultCodeError) || scope.dn === undefined) return e;
  if (e.code === 32) return new DirectorySearchError('scope.dn', `no such entry in the directory: ${scope.dn}`);
  if (e.code === 34) return new DirectorySearchError('scope.dn', `not a valid DN: ${scope.dn}`);
  return e;
}

const GROUP_CLASSES = new Set(['groupofnames', 'groupofuniquenames', 'group']);

function isGroup(entry: Entry): boolean {
  const raw = entry['objectClass'] ?? [];
  const classes = (Array.isArray(raw) ? raw : [raw]).map((c) => (typeof c === 'string' ? c : c.toString('utf8')).toLowerCase());
  return classes.some((c) => GROUP_CLASSES.has(c));
}

export type Search = (base: string, filter: string, scope: 'sub' | 'base', attrs?: string[]) => Promise<Entry[]>;

/**
 * Members of a groupOfNames/group, following nested groups breadth-first (cycles and depth are
 * bounded). Members outside the source's base DN are ignored.
 */
export async function expandGroup(search: Search, baseDn: string, map: AttributeMap, groupDn: string, maxUsers: number): Promise<Entry[]> {
  const baseKey = dnKey(baseDn);
  const inBase = (dn: string): boolean => {
    const k = dnKey(dn);
    return k === baseKey || k.endsWith(`,${baseKey}`);
  };
  const seen = new Set<string>();
  const users = new Map<string, Entry>();
  let level = [groupDn];
  for (let depth = 0; depth < MAX_GROUP_DEPTH && level.length > 0 && users.size < maxUsers; depth++) {
    const next: string[] = [];
    for (const dn of level) {
      const key = dnKey(dn);
      // The group itself must be a group inside the base: a typo must not look like an empty group
      // (for a sync item, everyone would seem to have left it).
      if (depth === 0 && !inBase(dn)) throw new DirectorySearchError('scope.dn', `the group ${dn} is outside the base DN ${baseDn}`);
      if (seen.has(key) || !inBase(dn)) continue;
      seen.add(key);
      let found: Entry[];
      try {
        found = await search(dn, '(objectClass=*)', 'base', ['member', 'objectClass']);
      } catch (e) {
        if (depth === 0 && e instanceof ResultCodeError && (e.code === 32 || e.code === 34)) {
          throw new DirectorySearchError('scope.dn', e.code === 32 ? `no such group in the directory: ${dn}` : `not a valid DN: ${dn}`);
        }
        // A member DN that no longer exists (no referential integrity) is not an error.
        if ((e as { code?: number }).code === 32) continue;
        throw e;
      }
      const entry = found[0];
      if (!entry) continue;
      if (depth === 0 && !isGroup(entry)) throw new DirectorySearchError('scope.dn', `${dn} is not a group (groupOfNames, groupOfUniqueNames or group)`);
      // ldapts lists requested attributes that are absent as []: a user has no member values.
      const raw = entry['member'] ?? [];
      const members = Array.isArray(raw) ? raw : [raw];
      if (members.length > 0) {
        for (const m of members) next.push(typeof m === 'string' ? m : m.toString('utf8'));
        continue;
      }
      if (depth === 0) continue; // the scope DN itself is not a group: no members
      // A user: fetched again with the user filter so non-user members are left out.
      const user = (await search(dn, map.userFilter, 'base'))[0];
      if (user && !users.has(key)) users.set(key, user);
    }
    level = next;
  }
  return [...users.values()];
}
