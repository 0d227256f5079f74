/** Bypasses, applications, API keys and settings: the administrative services. */
import type { Actor, ApiKeyView, BypassView, CreatedApiKey, IssueBypassInput, Principal } from '../api.ts';
import type { Audit } from '../audit.ts';
import { validateNetworks } from '../auth/networks.ts';
import { CoreError } from '../errors.ts';
import type { Clock, KeyedHasher, Random, Store } from '../ports.ts';
import type { PolicyCache } from '../policy-cache.ts';
import { applySettingsPatch } from '../settings.ts';
import { METHOD_TYPES, ROLES, type ApiKey, type Application, type ApplicationPatch, type Bypass, type MethodType, type NewApplication, type Role, type Settings, type SettingsPatch } from '../types.ts';
import { invalid, validateInteger, validateReason, validateText } from '../validation.ts';
import type { UsersService } from './users.ts';

interface AdminDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly random: Random;
  readonly keyedHasher: KeyedHasher;
  readonly audit: Audit;
  readonly policy: PolicyCache;
  readonly users: UsersService;
}

function bypassView(b: Bypass, username: string): BypassView {
  return { username, reason: b.reason, createdBy: b.createdBy, createdAt: b.createdAt, expiresAt: b.expiresAt, usedAt: b.usedAt };
}

export function createBypassService({ store, clock, random, audit, policy, users }: AdminDeps) {
  return {
    async issue(username: string, input: IssueBypassInput, actor: Actor): Promise<BypassView> {
      const user = await users.find(username, actor);
      const settings = await policy.settings();
      if (typeof input !== 'object' || input === null) throw invalid('body', 'must be an object');
      let seconds = input.seconds === undefined ? settings.bypass.defaultSeconds : validateInteger(input.seconds, 'seconds', 1, settings.bypass.maxSeconds);
      // Users start a bypass of their own sign-in only where the portal settings allow it, for at most portal.bypassSeconds.
      if (actor.kind === 'user') {
        if (!settings.portal.allowBypass) throw new CoreError('forbidden', 'users may not start a bypass (portal.allowBypass)');
        if (actor.name.toLowerCase() !== user.username.toLowerCase()) throw new CoreError('forbidden', 'users may start a bypass of their own account only');
        seconds = input.seconds === undefined ? settings.portal.bypassSeconds : validateInteger(input.seconds, 'seconds', 1, settings.portal.bypassSeconds);
      }
      const reason = validateReason(input.reason);
      const now = clock.now();
      const bypass = await store.bypasses.issue({ id: random.id(), userId: user.id, reason, createdBy: `${actor.kind}:${actor.name}`, createdAt: now, expiresAt: now + seconds * 1000 });
      await audit.admin({ action: 'bypass.issue', user, actor, now, reason, details: { seconds } });
      return bypassView(bypass, user.username);
    },
    async get(username: string): Promise<BypassView | null> {
      const user = await users.find(username);
      const b = await store.bypasses.active(user.id, clock.now());
      return b ? bypassView(b, user.username) : null;
    },
    async cancel(username: string, actor: Actor): Promise<void> {
      const user = await users.find(username, actor);
      const cancelled = await store.bypasses.cancel(user.id);
      if (!cancelled) throw new CoreError('not_found', 'this user has no active bypass');
      await audit.admin({ action: 'bypass.cancel', user, actor, now: clock.now() });
    },
  };
}

const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;

function validateApplication(input: Partial<NewApplication>, partial: boolean): Partial<NewApplication> {
  if (typeof input !== 'object' || input === null) throw invalid('body', 'must be an object');
  const out: Record<string, unknown> = {};
  if (input.name !== undefined || !partial) {
    if (typeof input.name !== 'string' || !APP_NAME.test(input.name)) throw invalid('name', 'must be 1-64 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit');
    out['name'] = input.name;
  }
  if (input.requireUserMatch !== undefined) {
    if (typeof input.requireUserMatch !== 'boolean') throw invalid('requireUserMatch', 'must be true or false');
    out['requireUserMatch'] = input.requireUserMatch;
  }
  if (input.trustedIps !== undefined) {
    if (!Array.isArray(input.trustedIps) || !input.trustedIps.every((v) => typeof v === 'string')) throw invalid('trustedIps', 'must be a list of strings');
    out['trustedIps'] = validateNetworks(input.trustedIps);
  }
  if (input.cacheSeconds !== undefined) out['cacheSeconds'] = input.cacheSeconds === null ? null : validateInteger(input.cacheSeconds, 'cacheSeconds', 0, 86_400);
  if (input.allowedMethods !== undefined) {
    const list: unknown = input.allowedMethods;
    if (list !== null && (!Array.isArray(list) || !list.every((m) => typeof m === 'string' && (METHOD_TYPES as readonly string[]).includes(m))))
      throw invalid('allowedMethods', `must be null or a list of ${METHOD_TYPES.join(', ')}`);
    out['allowedMethods'] = input.allowedMethods === null ? null : [...new Set(input.allowedMethods as MethodType[])];
  }
  return out;
}

export function createApplicationsService({ store, clock, random, audit, policy }: AdminDeps) {
  async function find(name: string): Promise<Application> {
    const app = typeof name === 'string' && name.length <= 64 ? await store.applications.getByName(name) : undefined;
    if (!app) throw new CoreError('application_not_found', `no application named "${name}"`);
    return app;
  }
  return {
    list: () => store.applications.list(),
    get: find,
    async create(input: Partial<NewApplication> & { name: string }, actor: Actor): Promise<Application> {
      const v = validateApplication(input, false);
      const now = clock.now();
      const app = await store.applications.create(
        { name: v.name as string, requireUserMatch: v.requireUserMatch ?? true, trustedIps: v.trustedIps ?? [], cacheSeconds: v.cacheSeconds ?? null, allowedMethods: v.allowedMethods ?? null },
        random.id(),
        now,
      );
      policy.invalidate();
      await audit.admin({ action: 'application.create', actor, now, details: { application: app.name } });
      return app;
    },
    async update(name: string, patch: ApplicationPatch, actor: Actor): Promise<Application> {
      const app = await find(name);
      const v = validateApplication(patch, true);
      const now = clock.now();
      const updated = await store.applications.update(app.id, v, now);
      policy.invalidate();
      await audit.admin({ action: 'application.update', actor, now, details: { application: updated.name, fields: Object.keys(v) } });
      return updated;
    },
    async delete(name: string, actor: Actor): Promise<void> {
      const app = await find(name);
      if (app.name === 'default') throw invalid('name', 'the default application cannot be deleted');
      await store.applications.delete(app.id);
      policy.invalidate();
      await audit.admin({ action: 'application.delete', actor, now: clock.now(), details: { application: app.name } });
    },
  };
}

const TOKEN = /^cs_([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{43})$/;
const KEY_CACHE_MS = 5000;
const TOUCH_EVERY_MS = 60_000;

function apiKeyView(k: ApiKey): ApiKeyView {
  return { id: k.id, name: k.name, role: k.role, prefix: `cs_${k.lookupId}_`, createdAt: k.createdAt, lastUsedAt: k.lastUsedAt, revokedAt: k.revokedAt };
}

export function createApiKeysService({ store, clock, random, keyedHasher, audit }: AdminDeps) {
  // Bearer tokens verified recently: token digest -> principal. Revocation through this process
  // applies at once; through another node, within KEY_CACHE_MS.
  const cache = new Map<string, { principal: Principal; at: number }>();
  const touched = new Map<string, number>();

  return {
    async create(input: { name: string; role: Role }, actor: Actor): Promise<CreatedApiKey> {
      const name = validateText(input?.name, 'name', 100, { required: true }) as string;
      if (!(ROLES as readonly string[]).includes(input.role)) throw invalid('role', `must be one of ${ROLES.join(', ')}`);
      const lookupId = Buffer.from(random.bytes(9)).toString('base64url');
      const secret = Buffer.from(random.bytes(32)).toString('base64url');
      const now = clock.now();
      const key = await store.apiKeys.create({ id: random.id(), lookupId, hash: keyedHasher.digest(secret), name, role: input.role, createdAt: now, lastUsedAt: null, revokedAt: null });
      await audit.admin({ action: 'apikey.create', actor, now, details: { apiKeyId: key.id, name, role: input.role } });
      return { key: apiKeyView(key), token: `cs_${lookupId}_${secret}` };
    },
    list: async (): Promise<ApiKeyView[]> => (await store.apiKeys.list()).map(apiKeyView),
    async revoke(id: string, actor: Actor): Promise<void> {
      const now = clock.now();
      if (typeof id !== 'string' || !(await store.apiKeys.revoke(id, now))) throw new CoreError('not_found', 'no such API key');
      cache.clear();
      await audit.admin({ action: 'apikey.revoke', actor, now, details: { apiKeyId: id } });
    },
    async authenticate(token: string): Promise<Principal | undefined> {
      if (typeof token !== 'string') return undefined;
      const m = TOKEN.exec(token);
      if (!m) return undefined;
      const now = clock.now();
      const hit = cache.get(token);
      if (hit && now - hit.at < KEY_CACHE_MS) return hit.principal;
      const key = await store.apiKeys.getByLookupId(m[1] as string);
      // Compare even when the key is unknown, so timing does not tell which lookup ids exist.
      const ok = keyedHasher.matches(m[2] as string, key?.hash ?? '0'.repeat(64)) && key !== undefined && key.revokedAt === null;
      if (!ok || !key) {
        cache.delete(token);
        return undefined;
      }
      const principal: Principal = { apiKeyId: key.id, name: key.name, role: key.role };
      if (cache.size > 10_000) cache.clear();
      cache.set(token, { principal, at: now });
      if (now - (touched.get(key.id) ?? 0) > TOUCH_EVERY_MS) {
        touched.set(key.id, now);
        await store.apiKeys.touch(key.id, now);
      }
      return principal;
    },
  };
}

export function createSettingsService({ store, clock, audit, policy }: AdminDeps) {
  return {
    get: (): Promise<Settings> => policy.settings(),
    async update(patch: SettingsPatch, actor: Actor): Promise<Settings> {
      policy.invalidate();
      const current = await policy.settings();
      const { settings, changed } = applySettingsPatch(current, patch);
      const now = clock.now();
      for (const key of changed) await store.settings.put(key, settings[key], now);
      policy.invalidate();
      await audit.admin({ action: 'settings.update', actor, now, details: { changed: Object.fromEntries(changed.map((k) => [k, settings[k]])) } });
      return settings;
    },
  };
}
