/**
 * Directory sources and sync targets from the configuration file (`directories` in
 * countersign.yaml). Errors name the source and the bad key.
 */
import { readFile } from 'node:fs/promises';
import type { Config, DirectoryConfig } from '../config/schema.ts';
import { PRESETS, withOverrides, type AttributeMap } from './presets.ts';
import { directorySource, type DirectorySource } from './source.ts';
import type { ConfiguredSource } from './directory-service.ts';
import type { ChangeMarker, SyncItem, SyncTarget } from './sync.ts';

type Attributes = NonNullable<DirectoryConfig['attributes']>;

/** Connection settings (reads caFile and bindPasswordFile). */
export async function sourceFromConfig(d: DirectoryConfig): Promise<DirectorySource> {
  let caPem: string | undefined;
  if (d.caFile !== undefined) {
    try {
      caPem = await readFile(d.caFile, 'utf8');
    } catch (e) {
      throw new Error(`directory ${d.name}: caFile ${d.caFile} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  try {
    return directorySource({
      urls: d.urls,
      bindDn: d.bindDn,
      ...(d.bindPassword !== undefined ? { bindPassword: d.bindPassword } : {}),
      ...(d.bindPasswordFile !== undefined ? { bindPasswordFile: d.bindPasswordFile } : {}),
      baseDn: d.baseDn,
      startTls: d.startTls,
      ...(caPem !== undefined ? { caPem } : {}),
      rejectUnauthorized: d.rejectUnauthorized,
      timeoutMs: d.timeoutMs,
      userAttribute: d.attributes?.login ?? (d.preset === 'activeDirectory' ? 'sAMAccountName' : 'uid'),
    });
  } catch (e) {
    throw new Error(`directory ${d.name}: ${(e as Error).message}`);
  }
}

function overrides(a: Attributes): Partial<AttributeMap> {
  return {
    ...(a.login !== undefined ? { login: a.login } : {}),
    ...(a.loginFallback !== undefined ? { loginFallback: a.loginFallback } : {}),
    ...(a.externalId !== undefined ? { externalId: a.externalId } : {}),
    ...(a.displayName !== undefined ? { displayName: a.displayName } : {}),
    ...(a.email !== undefined ? { email: a.email } : {}),
    ...(a.phone !== undefined ? { phone: a.phone } : {}),
    ...(a.backupPhone !== undefined ? { backupPhone: a.backupPhone } : {}),
    ...(a.language !== undefined ? { language: a.language } : {}),
    ...(a.userFilter !== undefined ? { userFilter: a.userFilter } : {}),
    ...(a.groupMembership !== undefined ? { groupMembership: a.groupMembership } : {}),
  };
}

/** The preset with the source's attribute overrides. */
export function mapFromConfig(d: DirectoryConfig): AttributeMap {
  try {
    return withOverrides(PRESETS[d.preset], overrides(d.attributes ?? {}));
  } catch (e) {
    throw new Error(`directory ${d.name}: attributes.${(e as Error).message}`);
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ATTRIBUTE = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;

/** Change markers known to order numerically; everything else compares as text. */
const INTEGER_MARKERS = new Set(['usnchanged']);

function changeMarkerOf(d: DirectoryConfig): ChangeMarker | null {
  const configured = d.sync?.changeAttribute;
  const attribute = configured ?? (d.preset === 'activeDirectory' ? 'uSNChanged' : 'entryCSN');
  if (attribute === 'none') return null;
  if (!ATTRIBUTE.test(attribute)) throw new Error(`directory ${d.name}: sync.changeAttribute: must be an attribute name such as modifyTimestamp, or none`);
  return { attribute, kind: INTEGER_MARKERS.has(attribute.toLowerCase()) ? 'integer' : 'text' };
}

/** The sync target of a source, or null when the source has no `sync` block. */
export async function syncTargetFromConfig(d: DirectoryConfig): Promise<SyncTarget | null> {
  const sync = d.sync;
  if (sync === undefined) return null;
  const source = await sourceFromConfig(d);
  const base = mapFromConfig(d);
  const names = new Set<string>();
  const items: SyncItem[] = sync.items.map((it, i) => {
    const key = `directory ${d.name}: sync.items[${i}]`;
    if (!NAME.test(it.name)) throw new Error(`${key}.name: must be 1-64 letters, digits, dot, dash or underscore`);
    if (names.has(it.name)) throw new Error(`${key}.name: "${it.name}" is used twice`);
    names.add(it.name);
    const scopes = [it.ou, it.group, it.filter].filter((v) => v !== undefined).length;
    if (scopes !== 1) throw new Error(`${key}: give exactly one of ou, group or filter`);
    if (it.filter !== undefined && !/^\(.*\)$/s.test(it.filter.trim())) throw new Error(`${key}.filter: must be an LDAP filter in parentheses, e.g. (department=Sales)`);
    let map: AttributeMap;
    try {
      map = withOverrides(base, overrides(it.attributes ?? {}));
    } catch (e) {
      throw new Error(`${key}.attributes.${(e as Error).message}`);
    }
    return {
      name: it.name,
      scope: it.ou !== undefined ? { kind: 'ou', dn: it.ou } : it.group !== undefined ? { kind: 'group', dn: it.group } : { kind: 'filter', filter: (it.filter as string).trim() },
      map,
      defaults: { ...(it.language !== undefined ? { language: it.language } : {}), ...(it.defaultMethod !== undefined ? { defaultMethod: it.defaultMethod } : {}) },
    };
  });
  return {
    name: d.name,
    source,
    items,
    policy: { scheduled: sync.enabled, removal: sync.removal, removalThreshold: sync.removalThreshold, intervalMinutes: sync.intervalMinutes, fullSyncHours: sync.fullSyncHours },
    pageSize: d.pageSize,
    ...(d.phoneCountry !== undefined ? { phoneCountry: d.phoneCountry } : {}),
    changeMarker: changeMarkerOf(d),
  };
}

/** Sync targets of every source with a `sync` block. */
export async function syncTargetsFromConfig(config: Config): Promise<SyncTarget[]> {
  const targets: SyncTarget[] = [];
  for (const d of config.directories) {
    const t = await syncTargetFromConfig(d);
    if (t) targets.push(t);
  }
  return targets;
}

/** Every configured source, ready for the directory service. */
export async function configuredSources(config: Config): Promise<ConfiguredSource[]> {
  const sources: ConfiguredSource[] = [];
  for (const d of config.directories) {
    sources.push({
      name: d.name,
      preset: d.preset,
      source: await sourceFromConfig(d),
      map: mapFromConfig(d),
      pageSize: d.pageSize,
      ...(d.phoneCountry !== undefined ? { phoneCountry: d.phoneCountry } : {}),
    });
  }
  return sources;
}
