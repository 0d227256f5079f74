/**
 * Directory synchronization: keeps Countersign's users in step with the directory.
 *
 * A target (one directory source) has sync items, in priority order; each item has a scope (an
 * OU, a group or a filter), its own attribute map and defaults for new users. A user matching
 * several items is taken by the first. A run reads every item's entries page by page and, per
 * entry, compares a digest of the mapped attributes with the digest stored at the last run:
 * unchanged entries cost one read and no write, so a resync of an unchanged directory writes
 * nothing. Changed and new entries go through the core (validated and audited).
 *
 * A full run also finds the users that are no longer in any item's scope (moved, deleted, or
 * filtered out). Those, and users whose directory account was disabled, are disabled or removed as
 * configured; when more of them than the threshold would be changed in one run, none is changed:
 * the run ends `awaiting_approval` and an administrator approves or rejects the list.
 *
 * Incremental runs ask only for entries whose change marker (uSNChanged, entryCSN or
 * modifyTimestamp) is at or above the marker saved by the last run on the same server. They do
 * not detect removals; full runs do, at least every `fullSyncHours` and on demand.
 *
 * Runs are idempotent: users are matched by their stable directory id, and the cursor and removals
 * only move at the end of a run, so a run interrupted half-way is simply run again.
 */
import { hash } from 'node:crypto';
import { ResultCodeError, type Client, type Entry } from 'ldapts';
import type { Actor, Core } from '../core/api.ts';
import { createAudit } from '../core/audit.ts';
import { isCoreError } from '../core/errors.ts';
import type { Clock, DirectoryEntryRecord, PendingChange, Random, Store, SyncCounts, SyncCursor, SyncRun, SyncRunError } from '../core/ports.ts';
import type { MethodType, User } from '../core/types.ts';
import { closeQuietly, connectService } from './connection.ts';
import { newUserInput, sourceConflict, userChanges } from './import.ts';
import { escapeFilterValue } from './ldap-first-factor.ts';
import { EntryMappingError, externalIdOf, mapEntry, requestedAttributes, type AttributeMap, type DirectoryUser } from './presets.ts';
import { expandGroup, scopeError } from './search.ts';
import type { DirectorySource } from './source.ts';

export type SyncScope =
  | { readonly kind: 'ou'; readonly dn: string }
  | { readonly kind: 'group'; readonly dn: string }
  /** An RFC 4515 filter, combined with the map's user filter. */
  | { readonly kind: 'filter'; readonly filter: string };

export interface SyncItem {
  readonly name: string;
  readonly scope: SyncScope;
  /** The source's attribute map with this item's overrides. */
  readonly map: AttributeMap;
  /** Applied to new users (the directory's preferredLanguage wins over `language`). */
  readonly defaults: { readonly language?: string; readonly defaultMethod?: MethodType };
}

export interface SyncPolicy {
  /** Run on the schedule (false: only on demand). */
  readonly scheduled: boolean;
  /** What happens to users no longer in any item's scope (or deleted from the directory). */
  readonly removal: 'disable' | 'delete' | 'none';
  /** More disables and removals than this in one run wait for an administrator's approval. */
  readonly removalThreshold: number;
  /** Minutes between scheduled runs (1..1440). */
  readonly intervalMinutes: number;
  /** A scheduled run is full when the last full run is older than this (1..168 hours). */
  readonly fullSyncHours: number;
}

/** The attribute that tells what changed since the last run, or null when the directory has none. */
export interface ChangeMarker {
  readonly attribute: string;
  /** 'integer' compares numerically (uSNChanged); 'text' compares as strings (entryCSN, modifyTimestamp). */
  readonly kind: 'integer' | 'text';
}

export interface SyncTarget {
  /** The directory source's name, stored with every user it creates. */
  readonly name: string;
  readonly source: DirectorySource;
  readonly items: readonly SyncItem[];
  readonly policy: SyncPolicy;
  readonly pageSize: number;
  readonly phoneCountry?: string;
  readonly changeMarker: ChangeMarker | null;
}

export interface SyncDeps {
  readonly core: Core;
  readonly store: Store;
  readonly clock: Clock;
  readonly random: Random;
  readonly actor: Actor;
  /** This server, as host:pid; recorded with the run. */
  readonly node: string;
}

export interface SyncRunOptions {
  readonly mode: 'full' | 'incremental';
  readonly trigger: SyncRun['trigger'];
  /** Entries processed so far, and an estimate of the total (the last run's count) when known. */
  readonly progress?: (done: number, estimate: number | null) => void;
  /** Aborts between pages; the run is recorded as failed and nothing is removed. */
  readonly signal?: AbortSignal;
  /** Called with the run's id as soon as it is recorded. */
  readonly onStart?: (runId: string) => void;
  /** Called just before the final record is written (the service frees the directory's lease there, so whoever sees the run finished may start the next). */
  readonly beforeFinish?: () => Promise<void>;
}

export class SyncTargetError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'SyncTargetError';
    this.field = field;
  }
}

/** The most errors kept with a run; the count is always exact. */
export const MAX_RUN_ERRORS = 100;
const MEMBERS_PAGE = 2000;

export const EMPTY_COUNTS: SyncCounts = { seen: 0, added: 0, updated: 0, unchanged: 0, disabled: 0, enabled: 0, removed: 0, errors: 0, skipped: 0 };

type MutableCounts = { -readonly [K in keyof SyncCounts]: SyncCounts[K] };

/**
 * Everything that decides how an item maps its entries: a change to the item's attribute map,
 * defaults or the source's phone country makes every entry look changed once.
 */
function itemKey(item: SyncItem, target: SyncTarget): string {
  return JSON.stringify([item.name, item.defaults, item.map, target.phoneCountry ?? null]);
}

/**
 * Digest of an entry as the directory sent it (DN and the values of the attributes the item reads,
 * not the change marker), with the item's key. Compared before any mapping or validation, so an
 * unchanged entry costs a hash and nothing else.
 */
function rawDigest(entry: Entry, key: string, read: ReadonlySet<string>): string {
  const parts: string[] = [key, entry.dn];
  const names = Object.keys(entry)
    .filter((k) => k !== 'dn' && read.has(k.toLowerCase()))
    .sort();
  for (const name of names) {
    const v = entry[name];
    const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
    parts.push(name.toLowerCase(), ...list.map((x) => (typeof x === 'string' ? x : `b64:${x.toString('base64')}`)));
  }
  return hash('sha256', parts.join('\u0000'), 'base64url').slice(0, 27);
}

/** The filter for an item (entries of a 'member' group are expanded by the client instead). */
export function itemFilter(item: SyncItem, since: string | null, marker: ChangeMarker | null): string {
  const parts = [item.map.userFilter];
  if (item.scope.kind === 'filter') parts.push(item.scope.filter);
  if (item.scope.kind === 'group') {
    if (item.map.groupMembership === 'inChain') parts.push(`(memberOf:1.2.840.113556.1.4.1941:=${escapeFilterValue(item.scope.dn)})`);
    else if (item.map.groupMembership === 'memberOf') parts.push(`(memberOf=${escapeFilterValue(item.scope.dn)})`);
  }
  if (since !== null && marker !== null) parts.push(`(${marker.attribute}>=${escapeFilterValue(since)})`);
  return parts.length === 1 ? (parts[0] as string) : `(&${parts.join('')})`;
}

function laterMarker(marker: ChangeMarker, a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  if (marker.kind === 'integer') return BigInt(a) >= BigInt(b) ? a : b;
  return a >= b ? a : b;
}

function markerOf(entry: Entry, marker: ChangeMarker): string | null {
  const lc = marker.attribute.toLowerCase();
  for (const key of Object.keys(entry)) {
    if (key.toLowerCase() !== lc) continue;
    const v = entry[key];
    const first = Array.isArray(v) ? v[0] : v;
    if (first === undefined) return null;
    const s = typeof first === 'string' ? first : first.toString('utf8');
    if (marker.kind === 'integer' && !/^\d{1,30}$/.test(s)) return null;
    return s === '' ? null : s;
  }
  return null;
}

/**
 * The directory's own "now" as a change marker, read before the first page: a cursor taken from
 * the entries alone could pass over an entry changed while the run was reading. Active Directory
 * publishes highestCommittedUSN on the root DSE; OpenLDAP with syncprov keeps contextCSN on the
 * suffix. Null when the directory publishes neither (the highest marker seen is used).
 */
async function directoryHighWater(client: Client, source: DirectorySource, marker: ChangeMarker): Promise<string | null> {
  try {
    if (marker.attribute.toLowerCase() === 'usnchanged') {
      const { searchEntries } = await client.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['highestCommittedUSN'] });
      const v = searchEntries[0]?.['highestCommittedUSN'];
      const s = Array.isArray(v) ? v[0] : v;
      return typeof s === 'string' && /^\d+$/.test(s) ? s : null;
    }
    if (marker.attribute.toLowerCase() === 'entrycsn') {
      const { searchEntries } = await client.search(source.baseDn, { scope: 'base', filter: '(objectClass=*)', attributes: ['contextCSN'] });
      const v = searchEntries[0]?.['contextCSN'];
      const values = (Array.isArray(v) ? v : v === undefined ? [] : [v]).map((x) => (typeof x === 'string' ? x : x.toString('utf8')));
      // One contextCSN per provider (server id): the lowest is safe for all of them.
      return values.length > 0 ? (values.sort()[0] as string) : null;
    }
  } catch {
    return null;
  }
  return null;
}

function errorOf(e: unknown, dn: string, username: string | null): SyncRunError {
  if (isCoreError(e)) return { dn, username, code: e.code, message: e.message };
  throw e;
}

interface SyncRecord {
  readonly user: DirectoryUser;
  readonly item: SyncItem;
  readonly digest: string;
  readonly stored: DirectoryEntryRecord | undefined;
}

/** Runs one synchronization of `target` and records it. Never throws for directory or entry problems: they end up in the run. */
export async function runDirectorySync(deps: SyncDeps, target: SyncTarget, options: SyncRunOptions): Promise<SyncRun> {
  const { store, clock, random } = deps;
  const directory = target.name;
  const state = await store.directorySync.getState(directory);
  const previous = (await store.directorySync.listRuns({ directory, limit: 1 }))[0];
  const estimate = previous && previous.counts.seen > 0 ? previous.counts.seen : null;
  // The store may hold runs of a process that died: whoever runs now holds the directory's lease.
  for (const stale of await store.directorySync.listRuns({ directory, status: 'running', limit: 100 })) {
    await store.directorySync.transitionRun(stale.id, 'running', 'interrupted', { finishedAt: clock.now() });
  }

  const startedAt = clock.now();
  let run: SyncRun = {
    id: random.id(),
    directory,
    mode: options.mode,
    trigger: options.trigger,
    status: 'running',
    node: deps.node,
    startedAt,
    finishedAt: null,
    counts: EMPTY_COUNTS,
    errors: [],
    pending: [],
    failure: null,
    decidedBy: null,
    decidedAt: null,
  };
  await store.directorySync.createRun(run);
  options.onStart?.(run.id);
  await audit(deps, 'directory.sync.start', directory, { run: run.id, mode: options.mode, trigger: options.trigger });

  const counts: MutableCounts = { ...EMPTY_COUNTS };
  const errors: SyncRunError[] = [];
  const pushError = (e: SyncRunError): void => {
    counts.errors++;
    if (errors.length < MAX_RUN_ERRORS) errors.push(e);
  };
  const pendingDisable: PendingChange[] = [];
  let lastSave = clock.now();
  const checkpoint = async (): Promise<void> => {
    if (clock.now() - lastSave < 2000) return;
    lastSave = clock.now();
    run = { ...run, counts: { ...counts }, errors: [...errors] };
    await store.directorySync.saveRun(run);
  };

  const marker = target.changeMarker;
  const incremental = options.mode === 'incremental' && marker !== null && state?.cursor != null && state.cursor.attribute === marker.attribute;
  let session: Awaited<ReturnType<typeof connectService>> | undefined;
  let currentItem: string | null = null;
  try {
    session = await connectService(target.source);
    // uSNChanged is numbered per domain controller: a cursor from another server means nothing here.
    const since = incremental && state?.cursor?.url === session.url ? state.cursor.value : null;
    const mode: SyncRun['mode'] = since === null ? 'full' : 'incremental';
    run = { ...run, mode };
    const highWater = marker ? await directoryHighWater(session.client, target.source, marker) : null;
    let maxSeen: string | null = null;
    const seen = new Set<string>();

    const keys = new Map(target.items.map((item) => [item.name, itemKey(item, target)]));
    const mapOptions = target.phoneCountry !== undefined ? { phoneCountry: target.phoneCountry } : {};

    const processPage = async (entries: readonly Entry[], item: SyncItem): Promise<void> => {
      options.signal?.throwIfAborted();
      const key = keys.get(item.name) as string;
      const read = new Set(requestedAttributes(item.map).map((a) => a.toLowerCase()));
      // 1. Stable id and raw digest of each entry; the first item to see an id takes it.
      const fresh: { entry: Entry; externalId: string; digest: string }[] = [];
      for (const entry of entries) {
        if (marker) maxSeen = laterMarker(marker, maxSeen, markerOf(entry, marker));
        const externalId = externalIdOf(entry, item.map);
        if (externalId === undefined) {
          counts.skipped++;
          pushError({ dn: entry.dn, username: null, code: 'unusable_entry', message: `no usable ${item.map.externalId}` });
          continue;
        }
        if (seen.has(externalId)) continue;
        seen.add(externalId);
        fresh.push({ entry, externalId, digest: rawDigest(entry, key, read) });
      }
      counts.seen += fresh.length;
      // 2. Unchanged since the last run: nothing more to do.
      const stored = await store.directorySync.entries(
        directory,
        fresh.map((f) => f.externalId),
      );
      const records: SyncRecord[] = [];
      for (const f of fresh) {
        const known = stored.get(f.externalId);
        if (known && known.digest === f.digest) {
          counts.unchanged++;
          continue;
        }
        try {
          records.push({ user: mapEntry(f.entry, item.map, mapOptions), item, digest: f.digest, stored: known });
        } catch (e) {
          if (!(e instanceof EntryMappingError)) throw e;
          counts.skipped++;
          pushError({ dn: e.dn, username: null, code: 'unusable_entry', message: e.message });
        }
      }
      // 3. Changed and new entries.
      const results = await applyRecords(deps, directory, records);
      const writes: DirectoryEntryRecord[] = [];
      for (const result of results) {
        counts[result.outcome]++;
        if (result.enabled) counts.enabled++;
        if (result.error) pushError(result.error);
        if (result.pending) pendingDisable.push(result.pending);
        if (result.entry) writes.push(result.entry);
      }
      await store.directorySync.putEntries(directory, writes);
      options.progress?.(counts.seen + counts.skipped, estimate);
      await checkpoint();
    };

    const attributes = [...new Set(target.items.flatMap((i) => requestedAttributes(i.map)).concat(marker ? [marker.attribute] : []))];
    for (const item of target.items) {
      currentItem = item.name;
      const buffers = item.map.externalIdFormat === 'guid' ? [item.map.externalId] : [];
      if (item.scope.kind === 'group' && item.map.groupMembership === 'member') {
        const client = session.client;
        const search = async (base: string, filter: string, scope: 'sub' | 'base', attrs = attributes): Promise<Entry[]> =>
          (await client.search(base, { scope, filter, derefAliases: 'never', attributes: attrs, explicitBufferAttributes: buffers })).searchEntries;
        const members = await expandGroup(search, target.source.baseDn, item.map, item.scope.dn, Number.MAX_SAFE_INTEGER);
        for (let i = 0; i < members.length; i += target.pageSize) await processPage(members.slice(i, i + target.pageSize), item);
        continue;
      }
      const base = item.scope.kind === 'ou' ? item.scope.dn : target.source.baseDn;
      const pages = session.client.searchPaginated(base, {
        scope: 'sub',
        filter: itemFilter(item, since, marker),
        derefAliases: 'never',
        attributes,
        explicitBufferAttributes: buffers,
        paged: { pageSize: target.pageSize },
      });
      try {
        for await (const page of prefetched(pages)) await processPage(page.searchEntries, item);
      } catch (e) {
        throw item.scope.kind === 'filter' ? e : scopeError(e, item.scope);
      }
    }

    // Removals: only a full run has seen everything in scope.
    const leftScope: PendingChange[] = [];
    if (mode === 'full' && target.policy.removal !== 'none') {
      for (let after: string | null = null; ; ) {
        const members = await store.directorySync.members(directory, after, MEMBERS_PAGE);
        if (members.length === 0) break;
        after = (members[members.length - 1] as { id: string }).id;
        for (const m of members) {
          if (seen.has(m.externalId)) continue;
          if (target.policy.removal === 'disable' && m.status === 'disabled') continue;
          leftScope.push({ userId: m.id, username: m.username, externalId: m.externalId, action: target.policy.removal, reason: 'left_scope' });
        }
      }
    }
    const pending = [...pendingDisable, ...leftScope];
    const cursor: SyncCursor | null = marker && (highWater ?? maxSeen) !== null ? { attribute: marker.attribute, value: (highWater ?? maxSeen) as string, url: session.url } : null;
    const now = clock.now();
    let status: SyncRun['status'] = 'completed';
    if (pending.length > target.policy.removalThreshold) {
      status = 'awaiting_approval';
      for (const older of await store.directorySync.listRuns({ directory, status: 'awaiting_approval', limit: 100 })) {
        await store.directorySync.transitionRun(older.id, 'awaiting_approval', 'superseded', { decidedAt: now, decidedBy: 'system:sync' });
      }
      await audit(deps, 'directory.sync.approval_required', directory, {
        run: run.id,
        pending: pending.length,
        threshold: target.policy.removalThreshold,
        disable: pending.filter((p) => p.action === 'disable').length,
        delete: pending.filter((p) => p.action === 'delete').length,
      });
    } else {
      const applied = await applyPending(deps, target, pending);
      counts.disabled += applied.disabled;
      counts.removed += applied.removed;
      for (const e of applied.errors) pushError(e);
    }
    await store.directorySync.putState({
      directory,
      cursor: cursor ?? (state?.cursor ?? null),
      lastFullAt: mode === 'full' ? startedAt : (state?.lastFullAt ?? null),
      lastRunAt: startedAt,
    });
    run = { ...run, status, finishedAt: clock.now(), counts: { ...counts }, errors, pending: status === 'awaiting_approval' ? pending : [] };
    await options.beforeFinish?.();
    await store.directorySync.saveRun(run);
    await audit(deps, 'directory.sync.finish', directory, { run: run.id, status, mode, ...counts, durationMs: run.finishedAt! - startedAt });
    return run;
  } catch (e) {
    const failure = describeFailure(e, currentItem);
    // The schedule counts a failed run as a run: the next attempt waits a whole interval.
    await store.directorySync.putState({ directory, cursor: state?.cursor ?? null, lastFullAt: state?.lastFullAt ?? null, lastRunAt: startedAt });
    run = { ...run, status: 'failed', finishedAt: clock.now(), counts: { ...counts }, errors, failure: failure.slice(0, 2000) };
    await options.beforeFinish?.().catch(() => undefined);
    await store.directorySync.saveRun(run);
    await audit(deps, 'directory.sync.finish', directory, { run: run.id, status: 'failed', failure: run.failure }, 'failure');
    return run;
  } finally {
    if (session) await closeQuietly(session.client);
  }
}

const LDAP_HINTS: { [code: number]: string } = {
  3: 'time limit exceeded: raise the directory time limit for the service account, or narrow the item',
  4: 'size limit exceeded: the directory caps how many entries the service account may read (OpenLDAP: limits dn.exact="<bind DN>" size.prtotal=unlimited; Active Directory: MaxPageSize is per page and is not the cause, check the account\'s query policy)',
  10: 'referral: the item\'s base DN is outside this directory or this server',
  32: 'no such object: the item\'s OU, group or base DN does not exist',
  50: 'insufficient access rights: the service account may not read these entries',
};

/** A readable failure: which item, the LDAP result code and what it usually means. */
function describeFailure(e: unknown, item: string | null): string {
  const where = item === null ? '' : `sync item "${item}": `;
  if (e instanceof ResultCodeError) {
    const hint = LDAP_HINTS[e.code];
    return `${where}LDAP result ${e.code}${hint ? ` (${hint})` : ''}${e.message.trim() ? `: ${e.message.trim()}` : ''}`;
  }
  return `${where}${e instanceof Error ? e.message : String(e)}`;
}

interface RecordResult {
  readonly outcome: 'added' | 'updated' | 'unchanged' | 'errors';
  readonly enabled?: boolean;
  readonly entry?: DirectoryEntryRecord;
  readonly pending?: PendingChange;
  readonly error?: SyncRunError;
}

/**
 * Creates and updates the users of changed entries: new ones in one transaction through the
 * core, existing ones one by one. A directory-disabled account is not disabled here: it is
 * returned as pending.
 */
async function applyRecords(deps: SyncDeps, directory: string, records: readonly SyncRecord[]): Promise<RecordResult[]> {
  const { core, store, actor } = deps;
  if (records.length === 0) return [];
  const byId = new Map((await store.users.getManyBySource(directory, records.map((r) => r.user.externalId))).map((u) => [u.source.kind === 'directory' ? u.source.externalId : '', u]));
  const results: RecordResult[] = [];
  const fresh: SyncRecord[] = [];
  for (const r of records) {
    const existing = byId.get(r.user.externalId);
    if (existing) results.push(await applyExisting(deps, existing, r));
    else fresh.push(r);
  }
  if (fresh.length === 0) return results;
  const created = await core.users.createMany(
    fresh.map((r) => newUserInput(r.user, directory, r.item.defaults)),
    actor,
  );
  for (const [i, result] of created.entries()) {
    const r = fresh[i] as SyncRecord;
    const d = r.user;
    if (!isCoreError(result)) {
      results.push({ outcome: 'added', entry: { externalId: d.externalId, userId: result.id, digest: r.digest, disabledBySync: d.disabled } });
      continue;
    }
    if (result.code !== 'user_exists') {
      results.push({ outcome: 'errors', error: errorOf(result, d.dn, d.input.username) });
      continue;
    }
    results.push({ outcome: 'errors', error: sourceConflict(d, await store.users.getByUsername(d.input.username)) });
  }
  return results;
}

/** Updates one existing user from its changed entry. */
async function applyExisting(deps: SyncDeps, existing: User, r: SyncRecord): Promise<RecordResult> {
  const { core, actor } = deps;
  const d = r.user;
  const stored = r.stored;
  try {
    const patch = userChanges(existing, d);
    let current = existing.username;
    let outcome: RecordResult['outcome'] = 'unchanged';
    if (Object.keys(patch).length > 0) {
      current = (await core.users.update(existing.username, patch, actor)).username;
      outcome = 'updated';
    }
    let disabledBySync = stored?.disabledBySync === true && existing.status === 'disabled';
    let enabled = false;
    if (!d.disabled && disabledBySync) {
      await core.users.setEnabled(current, true, actor);
      disabledBySync = false;
      enabled = true;
    }
    if (d.disabled && existing.status === 'enabled') {
      // Held until the end of the run: counted against the threshold with the removals. The
      // digest is not stored, so the next run looks at this entry again.
      return {
        outcome,
        entry: { externalId: d.externalId, userId: existing.id, digest: '-', disabledBySync },
        pending: { userId: existing.id, username: current, externalId: d.externalId, action: 'disable', reason: 'directory_disabled' },
      };
    }
    return { outcome, enabled, entry: { externalId: d.externalId, userId: existing.id, digest: r.digest, disabledBySync } };
  } catch (e) {
    return { outcome: 'errors', error: errorOf(e, d.dn, d.input.username) };
  }
}

/**
 * Asks for the next page as soon as one arrives, so the directory prepares page n+1 while this
 * process writes page n.
 */
async function* prefetched<T>(pages: AsyncGenerator<T>): AsyncGenerator<T> {
  let next = pages.next();
  try {
    for (;;) {
      const current = await next;
      if (current.done) return;
      next = pages.next();
      // A failure of the prefetch surfaces when it is awaited, not as an unhandled rejection.
      next.catch(() => undefined);
      yield current.value;
    }
  } finally {
    await pages.return(undefined);
  }
}

/**
 * Disables or deletes the pending users. Each is checked again first: a user deleted, re-created
 * locally or moved to another directory since the list was made is left alone.
 */
async function applyPending(
  deps: SyncDeps,
  target: SyncTarget,
  pending: readonly PendingChange[],
): Promise<{ disabled: number; removed: number; errors: SyncRunError[] }> {
  const { core, store, actor } = deps;
  let disabled = 0;
  let removed = 0;
  const errors: SyncRunError[] = [];
  for (const p of pending) {
    const user = await store.users.getById(p.userId);
    if (!user || user.source.kind !== 'directory' || user.source.directory !== target.name || user.source.externalId !== p.externalId) continue;
    try {
      if (p.action === 'delete') {
        await core.users.delete(user.username, actor);
        removed++;
      } else {
        if (user.status !== 'disabled') {
          await core.users.setEnabled(user.username, false, actor);
          disabled++;
        }
        await store.directorySync.putEntries(target.name, [{ externalId: p.externalId, userId: p.userId, digest: '-', disabledBySync: true }]);
      }
    } catch (e) {
      errors.push(errorOf(e, '', user.username));
    }
  }
  return { disabled, removed, errors };
}

function audit(deps: SyncDeps, action: string, directory: string, details: Record<string, unknown>, result: 'success' | 'failure' = 'success'): Promise<void> {
  return createAudit(deps.store, deps.node).admin({ action, actor: deps.actor, now: deps.clock.now(), result, details: { directory, ...details } });
}

export type ApprovalDecision = 'approve' | 'reject';

export class SyncApprovalError extends Error {
  readonly code: 'run_not_found' | 'not_awaiting_approval';
  constructor(code: SyncApprovalError['code'], message: string) {
    super(message);
    this.name = 'SyncApprovalError';
    this.code = code;
  }
}

/**
 * An administrator's decision on a run awaiting approval. Approving applies exactly the listed
 * changes (each user checked again); rejecting changes nobody. Audited either way. Only one of two
 * concurrent decisions wins; the other gets `not_awaiting_approval`.
 */
export async function decideSyncRun(deps: SyncDeps, target: SyncTarget, runId: string, decision: ApprovalDecision): Promise<SyncRun> {
  const { store, clock, actor } = deps;
  const run = await store.directorySync.getRun(runId);
  if (!run || run.directory !== target.name) throw new SyncApprovalError('run_not_found', `no synchronization run ${runId} of directory ${target.name}`);
  const by = `${actor.kind}:${actor.name}`;
  const to = decision === 'approve' ? 'approved' : 'rejected';
  if (!(await store.directorySync.transitionRun(runId, 'awaiting_approval', to, { decidedBy: by, decidedAt: clock.now() }))) {
    throw new SyncApprovalError('not_awaiting_approval', `run ${runId} is ${run.status}, not awaiting approval`);
  }
  if (decision === 'reject') {
    await audit(deps, 'directory.sync.reject', target.name, { run: runId, pending: run.pending.length });
    return (await store.directorySync.getRun(runId)) as SyncRun;
  }
  const applied = await applyPending(deps, target, run.pending);
  const decided = (await store.directorySync.getRun(runId)) as SyncRun;
  const updated: SyncRun = {
    ...decided,
    counts: { ...decided.counts, disabled: decided.counts.disabled + applied.disabled, removed: decided.counts.removed + applied.removed, errors: decided.counts.errors + applied.errors.length },
    errors: [...decided.errors, ...applied.errors].slice(0, MAX_RUN_ERRORS),
  };
  await store.directorySync.saveRun(updated);
  await audit(deps, 'directory.sync.approve', target.name, { run: runId, pending: run.pending.length, disabled: applied.disabled, removed: applied.removed });
  return updated;
}
