/**
 * Settings and applications are read on every authentication but change rarely. They are cached
 * for a short time (changes made by another node apply within `ttlMs`; changes made through this
 * core apply at once).
 */
import { NetworkList } from './auth/networks.ts';
import { CoreError } from './errors.ts';
import type { Clock, Random, Store } from './ports.ts';
import { mergeSettings } from './settings.ts';
import type { Application, Settings } from './types.ts';

export const DEFAULT_APPLICATION = 'default';
export const PORTAL_APPLICATION = 'portal';
/** Applications every installation has, created on first use: the default one, the user portal and the admin console. */
export const BUILT_IN_APPLICATIONS: readonly string[] = [DEFAULT_APPLICATION, PORTAL_APPLICATION, 'console'];

export function createPolicyCache(store: Store, clock: Clock, random: Random, ttlMs = 2000) {
  let settingsEntry: { value: Settings; at: number } | undefined;
  const apps = new Map<string, { value: Application; at: number }>();
  const networks = new Map<string, NetworkList>();

  const fresh = (at: number): boolean => clock.now() - at < ttlMs;

  async function settings(): Promise<Settings> {
    if (settingsEntry && fresh(settingsEntry.at)) return settingsEntry.value;
    const value = mergeSettings(await store.settings.get());
    settingsEntry = { value, at: clock.now() };
    return value;
  }

  async function application(name: string): Promise<Application> {
    const key = name.toLowerCase();
    const hit = apps.get(key);
    if (hit && fresh(hit.at)) return hit.value;
    const app = (await store.applications.getByName(name)) ?? (BUILT_IN_APPLICATIONS.includes(key) ? await createBuiltIn(key) : undefined);
    if (!app) throw new CoreError('application_not_found', `no application named "${name}"`);
    apps.set(key, { value: app, at: clock.now() });
    return app;
  }

  async function createBuiltIn(name: string): Promise<Application> {
    try {
      return await store.applications.create({ name, requireUserMatch: true, trustedIps: [], cacheSeconds: null, allowedMethods: null }, random.id(), clock.now());
    } catch (e) {
      const existing = await store.applications.getByName(name);
      if (existing) return existing;
      throw e;
    }
  }

  async function applicationById(id: string): Promise<Application> {
    for (const entry of apps.values()) if (entry.value.id === id && fresh(entry.at)) return entry.value;
    const app = await store.applications.get(id);
    if (!app) throw new CoreError('application_not_found', 'the application of this authentication no longer exists');
    apps.set(app.name.toLowerCase(), { value: app, at: clock.now() });
    return app;
  }

  /** Company-wide and per-application trusted networks, compiled once per distinct list. */
  function trustedNetworks(s: Settings, app: Application): NetworkList {
    const entries = [...s.trustedIps, ...app.trustedIps];
    const key = entries.join(',');
    let list = networks.get(key);
    if (!list) {
      if (networks.size > 256) networks.clear();
      list = new NetworkList(entries);
      networks.set(key, list);
    }
    return list;
  }

  function invalidate(): void {
    settingsEntry = undefined;
    apps.clear();
  }

  return { settings, application, applicationById, trustedNetworks, invalidate };
}

export type PolicyCache = ReturnType<typeof createPolicyCache>;
