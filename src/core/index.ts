/**
 * The core: domain and policy. Imports no framework, no driver, no protocol library; everything
 * outside arrives through the ports in ./ports.ts.
 */
import type { AuthenticationListener, Core } from './api.ts';
import { createAudit } from './audit.ts';
import { createEngine } from './auth/engine.ts';
import { invalid, validateText, validateUsername } from './validation.ts';
import type { Clock, KeyedHasher, PasswordHasher, Random, ReplyAttributeCheck, PushSender, SmsSender, Store, VoiceCaller } from './ports.ts';
import { createPolicyCache } from './policy-cache.ts';
import { createApiKeysService, createApplicationsService, createBypassService, createSettingsService } from './services/admin.ts';
import { checkAnswers, createMethodsService } from './services/methods.ts';
import { encodeAnswers, QUESTIONS_PER_USER } from './methods/questions.ts';
import { createReportsService } from './services/reports.ts';
import { createRetentionService } from './services/retention.ts';
import { createSessionsService } from './services/sessions.ts';
import { createPhoneVerificationService } from './services/phone-verification.ts';
import { createUsersService } from './services/users.ts';
import { createDevicesService } from './services/devices.ts';
import { METHOD_TYPES, type AuditQuery, type MethodType } from './types.ts';
import { isIpAddress } from './auth/networks.ts';

export interface CoreDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly random: Random;
  readonly passwords: PasswordHasher;
  readonly keyedHasher: KeyedHasher;
  readonly serverName: string;
  /** Issuer shown in authenticator apps. */
  readonly issuer?: string;
  readonly onAuthentication?: AuthenticationListener;
  /** Sends text messages (phone verification codes); absent: no SMS provider is configured. */
  readonly sms?: SmsSender | undefined;
  /** The RADIUS door's rules for users' reply attributes (known names, values of the right type). */
  readonly replyAttributeCheck?: ReplyAttributeCheck | undefined;
  /** Places phone calls (the voice method); absent: no voice provider is configured. */
  readonly voice?: VoiceCaller | undefined;
  /** Wakes push devices (Web Push); absent: devices find their requests when the app is opened. */
  readonly push?: PushSender | undefined;
}

function validatePasscodeInput(passcode: unknown): string {
  // Shape only; the method decides what a well-formed code is (and counts malformed ones as failures).
  if (typeof passcode !== 'string' || passcode.length > 64) throw invalid('passcode', 'must be a string of at most 64 characters');
  return passcode;
}

export function createCore(deps: CoreDeps): Core {
  const { store, clock, random } = deps;
  const startedAt = clock.now();
  const audit = createAudit(store, deps.serverName);
  const policy = createPolicyCache(store, clock, random);
  const users = createUsersService({ store, clock, random, passwords: deps.passwords, audit, policy, replyAttributeCheck: deps.replyAttributeCheck });
  const phones = createPhoneVerificationService({ store, clock, random, keyedHasher: deps.keyedHasher, audit, sms: deps.sms, find: users.find });
  const methods = createMethodsService({ store, clock, random, audit, users, policy, issuer: deps.issuer ?? 'Countersign' });
  const adminDeps = { store, clock, random, keyedHasher: deps.keyedHasher, audit, policy, users };
  const sessions = createSessionsService({ store, clock, random, keyedHasher: deps.keyedHasher, policy, audit });
  const engine = createEngine({
    store,
    clock,
    random,
    audit,
    policy,
    keyedHasher: deps.keyedHasher,
    sms: deps.sms,
    voice: deps.voice,
    push: deps.push,
    // A call answered with the fraud key is the user's own report, as "not me" in the portal.
    reportFraud: async (username, authenticationId) =>
      void (await users.reportFraud(username, { authenticationId }, { kind: 'user', name: username, role: 'self' })),
    onAuthentication: deps.onAuthentication,
  });

  return {
    users: {
      create: users.create,
      createMany: users.createMany,
      get: users.get,
      list: users.list,
      count: users.count,
      update: users.update,
      delete: users.delete,
      setEnabled: users.setEnabled,
      block: users.block,
      unblock: users.unblock,
      unlock: users.unlock,
      signOut: users.signOut,
      setPassword: users.setPassword,
      history: users.history,
      setConsoleRole: users.setConsoleRole,
      setReplyAttributes: users.setReplyAttributes,
      reportFraud: users.reportFraud,
      canSendPhoneCodes: phones.canSendPhoneCodes,
      sendPhoneCode: phones.sendPhoneCode,
      confirmPhoneCode: phones.confirmPhoneCode,
      importCsv: users.importCsv,
    },
    methods,
    devices: createDevicesService({ store, clock, random, keyedHasher: deps.keyedHasher, audit, policy, engine, find: users.find }),
    authentications: {
      create(input, actor) {
        if (typeof input !== 'object' || input === null) throw invalid('body', 'must be an object');
        if (input.oneStep !== undefined && typeof input.oneStep !== 'boolean') throw invalid('oneStep', 'must be true or false');
        if (input.codeOnly !== undefined && typeof input.codeOnly !== 'boolean') throw invalid('codeOnly', 'must be true or false');
        const clean = {
          username: validateUsername(input.username),
          ...(input.application !== undefined ? { application: validateText(input.application, 'application', 64, { required: true }) as string } : {}),
          ...(input.clientIp !== undefined && input.clientIp !== null ? { clientIp: checkIp(input.clientIp) } : {}),
          ...(input.passcode !== undefined ? { passcode: validatePasscodeInput(input.passcode) } : {}),
          ...(input.method !== undefined ? { method: checkMethod(input.method) } : {}),
          ...(input.oneStep === true ? { oneStep: true } : {}),
          ...(input.codeOnly === true ? { codeOnly: true } : {}),
          ...(input.exemptions !== undefined ? { exemptions: checkExemptions(input.exemptions) } : {}),
        };
        return engine.start(clean, actor);
      },
      get: (id) => engine.get(checkId(id)),
      answer: (id, passcode, actor) => engine.answer(checkId(id), validatePasscodeInput(passcode), actor),
      answerQuestions: async (id, answers, actor) =>
        engine.answer(checkId(id), encodeAnswers(checkAnswers(answers, { min: 1, max: QUESTIONS_PER_USER })), actor, 'questions'),
      resolve: (id, token, response, actor) => {
        if (typeof token !== 'string' || token.length === 0 || token.length > 128) throw invalid('token', 'must be a string of 1 to 128 characters');
        if (response !== 'approve' && response !== 'decline' && response !== 'fraud') throw invalid('response', 'must be approve, decline or fraud');
        return engine.resolve(checkId(id), token, response, actor);
      },
      withdraw: (id, actor) => engine.withdraw(checkId(id), actor),
      wait: (id, maxMs) => {
        if (!Number.isInteger(maxMs) || maxMs < 0 || maxMs > 3_600_000) throw invalid('maxMs', 'must be an integer from 0 to 3600000');
        return engine.wait(checkId(id), maxMs);
      },
    },
    bypass: createBypassService(adminDeps),
    audit: {
      query: (q: AuditQuery) => {
        if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > 10_000) throw invalid('limit', 'must be an integer from 1 to 10000');
        if (
          Array.isArray(q.action) &&
          (q.action.length < 1 || q.action.length > 20 || !q.action.every((a) => typeof a === 'string' && a.length >= 1 && a.length <= 64))
        )
          throw invalid('action', 'must be 1 to 20 actions of 1 to 64 characters');
        return store.audit.query(q);
      },
    },
    settings: createSettingsService(adminDeps),
    applications: createApplicationsService(adminDeps),
    apiKeys: createApiKeysService(adminDeps),
    sessions,
    retention: createRetentionService({ store, clock, policy, audit, pruneSessions: sessions.prune }),
    reports: createReportsService({ store, clock, serverName: deps.serverName, startedAt }),
  };
}

function checkExemptions(e: unknown): { trustedIp: boolean; cache: boolean; bypass: boolean } {
  if (typeof e !== 'object' || e === null) throw invalid('exemptions', 'must be an object');
  const o = e as Record<string, unknown>;
  const flag = (k: string): boolean => {
    const v = o[k];
    if (v !== undefined && typeof v !== 'boolean') throw invalid(`exemptions.${k}`, 'must be true or false');
    return v !== false;
  };
  return { trustedIp: flag('trustedIp'), cache: flag('cache'), bypass: flag('bypass') };
}

function checkIp(ip: unknown): string {
  if (typeof ip !== 'string' || !isIpAddress(ip)) throw invalid('clientIp', 'must be an IPv4 or IPv6 address');
  return ip;
}

function checkMethod(m: unknown): MethodType {
  if (typeof m !== 'string' || !(METHOD_TYPES as readonly string[]).includes(m)) throw invalid('method', `must be one of ${METHOD_TYPES.join(', ')}`);
  return m as MethodType;
}

function checkId(id: unknown): string {
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw invalid('id', 'is not an authentication id');
  return id;
}

export type { Core } from './api.ts';
