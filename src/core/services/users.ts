import { parse } from 'csv-parse/sync';
import type { Actor, CreateUserInput, FraudReportInput, ImportReport, ImportRowError, ProgressFn, UpdateUserInput, UserView } from '../api.ts';
import type { Audit } from '../audit.ts';
import { CoreError, isCoreError } from '../errors.ts';
import type { Clock, PasswordHasher, Random, ReplyAttributeCheck, Store } from '../ports.ts';
import { CONSOLE_ROLES, METHOD_TYPES, type ConsoleRole, type AuditEvent, type EffectiveStatus, type MethodType, type NewUser, type Page, type User, type UserPatch } from '../types.ts';
import { methods } from '../methods/index.ts';
import {
  invalid,
  requireLanguage,
  validateEmail,
  validatePassword,
  validatePhone,
  validatePin,
  validateReason,
  validateReplyAttributes,
  validateText,
  validateUsername,
} from '../validation.ts';
import type { PolicyCache } from '../policy-cache.ts';

export function effectiveStatus(user: User): EffectiveStatus {
  if (user.status === 'disabled') return 'disabled';
  if (user.blockedAt !== null) return 'blocked';
  if (user.lockedAt !== null) return 'locked';
  return 'enabled';
}

export function toUserView(user: User): UserView {
  const { pinHash, passwordHash, ...rest } = user;
  return { ...rest, state: effectiveStatus(user), hasPin: pinHash !== null, hasPassword: passwordHash !== null };
}

/** Method types a user may sign in with by default (a fallback such as security questions is not one). */
const DEFAULT_METHOD_TYPES = METHOD_TYPES.filter((t) => !methods[t].fallbackOnly);

function validateMethodType(value: unknown, field = 'defaultMethod'): MethodType | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value !== 'string' || !(DEFAULT_METHOD_TYPES as readonly string[]).includes(value)) throw invalid(field, `must be one of ${DEFAULT_METHOD_TYPES.join(', ')}`);
  return value as MethodType;
}

function validateStatus(value: unknown): 'enabled' | 'disabled' {
  if (value !== 'enabled' && value !== 'disabled') throw invalid('status', 'must be enabled or disabled');
  return value;
}

const CSV_COLUMNS = [
  'username',
  'display_name',
  'email',
  'phone',
  'phone_country',
  'phone_extension',
  'backup_phone',
  'backup_phone_country',
  'backup_phone_extension',
  'language',
  'status',
  'default_method',
] as const;

export interface UsersDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly random: Random;
  readonly passwords: PasswordHasher;
  readonly audit: Audit;
  readonly policy: PolicyCache;
  /** The RADIUS door's rules for reply attributes; without it only names, sizes and counts are checked. */
  readonly replyAttributeCheck?: ReplyAttributeCheck | undefined;
}

export function createUsersService(deps: UsersDeps) {
  const { store, clock, random, passwords, audit, policy } = deps;

  /**
   * The user named; with an actor, also checks that the actor may change them: the help desk never
   * changes an administrator's account (their authenticators, bypass, password, state), and a user
   * in the portal only their own.
   */
  async function find(username: string, changedBy?: Actor): Promise<User> {
    const name = typeof username === 'string' ? username : '';
    const user = name.length > 0 && name.length <= 256 ? await store.users.getByUsername(name) : undefined;
    if (!user) throw new CoreError('user_not_found', 'no such user');
    if (changedBy?.role === 'helpdesk' && user.consoleRole === 'admin') throw new CoreError('forbidden', "the help desk may not change an administrator's account");
    if (changedBy?.kind === 'user' && changedBy.name.toLowerCase() !== user.username.toLowerCase()) throw new CoreError('forbidden', 'users may change their own account only');
    return user;
  }

  async function toNewUser(input: CreateUserInput): Promise<NewUser> {
    if (typeof input !== 'object' || input === null) throw invalid('body', 'must be an object');
    const settings = await policy.settings();
    return {
      username: validateUsername(input.username),
      displayName: validateText(input.displayName, 'displayName', 256),
      email: validateEmail(input.email),
      phone: validatePhone(input.phone, 'phone'),
      backupPhone: validatePhone(input.backupPhone, 'backupPhone'),
      language: input.language === undefined ? settings.defaultLanguage : requireLanguage(input.language),
      status: input.status === undefined ? 'enabled' : validateStatus(input.status),
      defaultMethod: validateMethodType(input.defaultMethod),
      pinHash: input.pin === undefined || input.pin === null ? null : await passwords.hash(validatePin(input.pin, settings.pin)),
      ...(input.source ? { source: input.source } : {}),
    };
  }

  async function toPatch(patch: UpdateUserInput): Promise<UserPatch> {
    if (typeof patch !== 'object' || patch === null) throw invalid('body', 'must be an object');
    const out: Record<string, unknown> = {};
    if (patch.username !== undefined) out['username'] = validateUsername(patch.username);
    if (patch.displayName !== undefined) out['displayName'] = validateText(patch.displayName, 'displayName', 256);
    if (patch.email !== undefined) out['email'] = validateEmail(patch.email);
    if (patch.phone !== undefined) out['phone'] = validatePhone(patch.phone, 'phone');
    if (patch.backupPhone !== undefined) out['backupPhone'] = validatePhone(patch.backupPhone, 'backupPhone');
    if (patch.language !== undefined) out['language'] = requireLanguage(patch.language);
    if (patch.status !== undefined) out['status'] = validateStatus(patch.status);
    if (patch.defaultMethod !== undefined) out['defaultMethod'] = validateMethodType(patch.defaultMethod);
    if (patch.pin !== undefined) out['pinHash'] = patch.pin === null ? null : await passwords.hash(validatePin(patch.pin, (await policy.settings()).pin));
    return out;
  }

  async function create(input: CreateUserInput, actor: Actor): Promise<UserView> {
    const now = clock.now();
    const user = await store.users.create(await toNewUser(input), random.id(), now);
    await audit.admin({ action: 'user.create', user, actor, now });
    return toUserView(user);
  }

  /** Like create for each input, in one transaction; one audit event per user created. */
  async function createMany(inputs: readonly CreateUserInput[], actor: Actor): Promise<(UserView | CoreError)[]> {
    const now = clock.now();
    const results: (UserView | CoreError)[] = new Array<UserView | CoreError>(inputs.length);
    const valid: { user: NewUser; id: string; index: number }[] = [];
    for (const [index, input] of inputs.entries()) {
      try {
        valid.push({ user: await toNewUser(input), id: random.id(), index });
      } catch (e) {
        if (!isCoreError(e)) throw e;
        results[index] = e;
      }
    }
    const stored = await store.users.createMany(valid, now);
    await Promise.all(
      stored.map(async (user, i) => {
        const index = (valid[i] as { index: number }).index;
        if (isCoreError(user)) {
          results[index] = user;
          return;
        }
        await audit.admin({ action: 'user.create', user, actor, now });
        results[index] = toUserView(user);
      }),
    );
    return results;
  }

  async function update(username: string, patch: UpdateUserInput, actor: Actor): Promise<UserView> {
    const user = await find(username, actor);
    const now = clock.now();
    const changes = await toPatch(patch);
    const updated = await store.users.update(user.id, changes, now);
    await audit.admin({ action: 'user.update', user: updated, actor, now, details: { fields: Object.keys(changes) } });
    return toUserView(updated);
  }

  async function importCsv(csv: string, actor: Actor, progress?: ProgressFn): Promise<ImportReport> {
    let records: string[][];
    try {
      records = parse(csv, { bom: true, skip_empty_lines: true, relax_column_count: true, trim: true }) as string[][];
    } catch (e) {
      throw new CoreError('import_failed', `the file is not valid CSV: ${(e as Error).message}`);
    }
    const header = (records.shift() ?? []).map((h) => h.toLowerCase().replace(/[\s-]+/g, '_'));
    const unknown = header.filter((h) => !(CSV_COLUMNS as readonly string[]).includes(h));
    if (!header.includes('username')) throw new CoreError('import_failed', 'the header row must name a "username" column');
    if (unknown.length > 0) throw new CoreError('import_failed', `unknown columns: ${unknown.join(', ')} (allowed: ${CSV_COLUMNS.join(', ')})`);
    const errors: ImportRowError[] = [];
    let created = 0;
    let updated = 0;
    const total = records.length;
    for (let i = 0; i < records.length; i++) {
      const line = i + 2;
      const rec = records[i] ?? [];
      const row: Record<string, string> = {};
      header.forEach((h, j) => {
        const v = rec[j];
        if (v !== undefined && v !== '') row[h] = v;
      });
      try {
        if (rec.length > header.length) throw invalid('row', `has ${rec.length} fields, the header has ${header.length}`);
        const phone = (prefix: string) =>
          row[prefix] ? { number: row[prefix], country: row[`${prefix}_country`] ?? null, extension: row[`${prefix}_extension`] ?? null } : undefined;
        const input: CreateUserInput = {
          username: row['username'] ?? '',
          ...(row['display_name'] !== undefined ? { displayName: row['display_name'] } : {}),
          ...(row['email'] !== undefined ? { email: row['email'] } : {}),
          ...(phone('phone') ? { phone: phone('phone') } : {}),
          ...(phone('backup_phone') ? { backupPhone: phone('backup_phone') } : {}),
          ...(row['language'] !== undefined ? { language: row['language'] } : {}),
          ...(row['status'] !== undefined ? { status: row['status'] as 'enabled' } : {}),
          ...(row['default_method'] !== undefined ? { defaultMethod: row['default_method'] as MethodType } : {}),
        };
        const existing = input.username ? await store.users.getByUsername(validateUsername(input.username)) : undefined;
        if (existing) {
          const { username: _ignored, ...patch } = input;
          await store.users.update(existing.id, await toPatch(patch), clock.now());
          updated++;
        } else {
          await store.users.create(await toNewUser(input), random.id(), clock.now());
          created++;
        }
      } catch (e) {
        if (!isCoreError(e)) throw e;
        const field = e.details ? (Object.keys(e.details)[0] ?? null) : null;
        errors.push({ row: line, field, message: e.message });
      }
      progress?.(i + 1, total);
    }
    const report = { total, created, updated, skipped: errors.length, errors };
    await audit.admin({ action: 'user.import', actor, now: clock.now(), details: { total, created, updated, errors: errors.length } });
    return report;
  }

  return {
    find,
    create,
    createMany,
    update,
    importCsv,

    async get(username: string): Promise<UserView> {
      return toUserView(await find(username));
    },

    async list(query: { search?: string; state?: EffectiveStatus; after?: string; limit?: number }): Promise<Page<UserView>> {
      const limit = query.limit ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalid('limit', 'must be an integer from 1 to 1000');
      if (query.search !== undefined && query.search.length > 256) throw invalid('search', 'must be at most 256 characters');
      const page = await store.users.list({
        limit,
        ...(query.search ? { search: query.search } : {}),
        ...(query.state ? { status: query.state } : {}),
        ...(query.after ? { after: query.after } : {}),
      });
      return { items: page.items.map(toUserView), next: page.next };
    },

    count: () => store.users.count(),

    async delete(username: string, actor: Actor): Promise<void> {
      const user = await find(username);
      await store.users.delete(user.id);
      await audit.admin({ action: 'user.delete', user, actor, now: clock.now() });
    },

    async setEnabled(username: string, enabled: boolean, actor: Actor): Promise<UserView> {
      const user = await find(username, actor);
      const now = clock.now();
      const updated = await store.users.update(user.id, { status: enabled ? 'enabled' : 'disabled' }, now);
      if (!enabled) await store.sessions.deleteForUser(user.id);
      await audit.admin({ action: enabled ? 'user.enable' : 'user.disable', user, actor, now });
      return toUserView(updated);
    },

    async signOut(username: string, actor: Actor): Promise<{ ended: number }> {
      const user = await find(username, actor);
      const ended = await store.sessions.deleteForUser(user.id);
      await audit.admin({ action: 'user.sign_out', user, actor, now: clock.now(), details: { sessions: ended } });
      return { ended };
    },

    async block(username: string, reason: string, actor: Actor): Promise<UserView> {
      const why = validateReason(reason);
      const user = await find(username, actor);
      const now = clock.now();
      const updated = await store.users.setBlocked(user.id, { at: now, reason: why }, now);
      await store.sessions.deleteForUser(user.id);
      await audit.admin({ action: 'user.block', user, actor, now, reason: why });
      return toUserView(updated);
    },

    async unblock(username: string, reason: string, actor: Actor): Promise<UserView> {
      const why = validateReason(reason);
      const user = await find(username, actor);
      const now = clock.now();
      const updated = await store.users.setBlocked(user.id, null, now);
      await audit.admin({ action: 'user.unblock', user, actor, now, reason: why });
      return toUserView(updated);
    },

    /**
     * Sets (or with null clears) the user's local password, the first factor for local users.
     * Directory users sign in with their directory password, so they cannot be given one. The
     * value is hashed with argon2id and never logged or audited.
     */
    async setPassword(username: string, password: string | null, actor: Actor): Promise<UserView> {
      const user = await find(username, actor);
      let passwordHash: string | null = null;
      if (password !== null) {
        if (user.source.kind !== 'local') throw invalid('username', 'is a directory user; directory users sign in with their directory password');
        passwordHash = await passwords.hash(validatePassword(password, user.username));
      }
      const now = clock.now();
      const updated = await store.users.update(user.id, { passwordHash }, now);
      await audit.admin({ action: password === null ? 'user.password.clear' : 'user.password.set', user: updated, actor, now });
      return toUserView(updated);
    },

    async unlock(username: string, actor: Actor): Promise<UserView> {
      const user = await find(username);
      const now = clock.now();
      await store.users.resetFailures(user.id, now);
      await audit.admin({ action: 'user.unlock', user, actor, now });
      return toUserView(await find(user.username));
    },

    /**
     * Replaces the user's RADIUS reply attributes (an empty list clears them). Checked here for
     * shape, sizes and count, and by the RADIUS door's rules (deps.replyAttributeCheck) for names
     * and values. Audited as user.reply_attributes with the lists before and after.
     */
    async setReplyAttributes(username: string, attributes: unknown, actor: Actor): Promise<UserView> {
      const list = validateReplyAttributes(attributes, deps.replyAttributeCheck);
      const user = await find(username, actor);
      const now = clock.now();
      const updated = await store.users.update(user.id, { replyAttributes: list }, now);
      await audit.admin({ action: 'user.reply_attributes', user: updated, actor, now, details: { from: user.replyAttributes, to: list } });
      return toUserView(updated);
    },

    async setConsoleRole(username: string, role: ConsoleRole | null, actor: Actor): Promise<UserView> {
      if (role !== null && !(CONSOLE_ROLES as readonly unknown[]).includes(role)) throw invalid('role', `must be one of ${CONSOLE_ROLES.join(', ')}, or null`);
      const user = await find(username);
      const now = clock.now();
      const updated = await store.users.update(user.id, { consoleRole: role }, now);
      if (role === null) await store.sessions.deleteForUser(user.id, 'console');
      await audit.admin({ action: 'user.console_role', user: updated, actor, now, details: { from: user.consoleRole, to: role } });
      return toUserView(updated);
    },

    async reportFraud(username: string, input: FraudReportInput, actor: Actor): Promise<UserView> {
      if (typeof input !== 'object' || input === null) throw invalid('body', 'must be an object');
      const authenticationId = input.authenticationId ?? null;
      if (authenticationId !== null && (typeof authenticationId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(authenticationId))) throw invalid('authenticationId', 'is not an authentication id');
      const note = validateText(input.note, 'note', 500);
      const settings = await policy.settings();
      if (!settings.fraud.allowReports) throw new CoreError('forbidden', 'fraud reports are turned off (fraud.allowReports)');
      const user = await find(username);
      const now = clock.now();
      let after = user;
      if (settings.fraud.blockUser && user.blockedAt === null) {
        after = await store.users.setBlocked(user.id, { at: now, reason: 'fraud reported by the user' }, now);
        await store.sessions.deleteForUser(user.id);
      }
      await audit.admin({
        action: 'user.fraud_report',
        user: after,
        actor,
        now,
        reason: note,
        details: { authenticationId, blocked: after.blockedAt !== null && user.blockedAt === null },
      });
      return toUserView(after);
    },

    async history(username: string, limit = 100): Promise<AuditEvent[]> {
      const user = await find(username);
      const events = await store.audit.query({ username: user.username, kind: 'admin', limit: Math.min(Math.max(limit, 1), 1000) * 4 });
      const wanted = new Set(['user.fraud_report', 'user.block', 'user.unblock', 'user.lock', 'user.unlock', 'user.enable', 'user.disable', 'bypass.issue', 'bypass.cancel']);
      return events.filter((e) => wanted.has(e.action)).slice(0, limit);
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
