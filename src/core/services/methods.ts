import { parse } from 'csv-parse/sync';
import { XMLParser } from 'fast-xml-parser';
import QRCode from 'qrcode';
import type { Actor, AddPhoneMethodInput, BackupCodesResult, EnrollTotpInput, EnrollmentResult, ImportReport, ImportRowError, MethodView, ProgressFn } from '../api.ts';
import type { Audit } from '../audit.ts';
import { CoreError, isCoreError } from '../errors.ts';
import { otpauthUri, parseSecret, resyncHotp, toBase32 } from '../oath.ts';
import { BACKUP_CODE_COUNT, backupCodesLeft, backupSecret } from '../methods/backup.ts';
import { MAX_ANSWER_LENGTH, MIN_ANSWER_LENGTH, QUESTION_IDS, QUESTIONS_PER_USER, normalizeAnswer, questionsSecret, storedQuestions, type QuestionAnswer, type QuestionId } from '../methods/questions.ts';
import { phoneMethodSecret, phoneOf } from '../methods/phone.ts';
import { methods as registry } from '../methods/index.ts';
import { NO_OATH } from '../methods/method.ts';
import type { PolicyCache } from '../policy-cache.ts';
import type { Clock, Random, Store } from '../ports.ts';
import type { MethodRecord, MethodType, OathConfig } from '../types.ts';
import { invalid, validateText, validateUsername } from '../validation.ts';
import type { UsersService } from './users.ts';

/** RFC 4226 requires at least 128 bits and recommends 160; software tokens get 160. */
const SOFTWARE_SECRET_BYTES = 20;
const MIN_IMPORTED_SECRET_BYTES = 10;
const RESYNC_WINDOW = 100;

export function toMethodView(m: MethodRecord): MethodView {
  return {
    id: m.id,
    type: m.type,
    label: m.label,
    config: m.config,
    drift: m.drift,
    pending: m.pending,
    remaining: m.type === 'backup' ? backupCodesLeft(m.secret, m.lastStep) : null,
    createdAt: m.createdAt,
    lastUsedAt: m.lastUsedAt,
  };
}

/** A scalar from parsed input as text; anything else (objects, arrays) as the empty string. */
function scalarText(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : '';
}

function oathConfig(input: { algorithm?: unknown; digits?: unknown; period?: unknown; serial?: unknown }, origin: OathConfig['origin'], prefix = ''): OathConfig {
  const algorithm = input.algorithm === undefined || input.algorithm === '' ? 'SHA1' : scalarText(input.algorithm).toUpperCase().replace('-', '');
  if (algorithm !== 'SHA1' && algorithm !== 'SHA256' && algorithm !== 'SHA512') throw invalid(`${prefix}algorithm`, 'must be SHA1, SHA256 or SHA512');
  const digits = input.digits === undefined || input.digits === '' ? 6 : Number(input.digits);
  if (digits !== 6 && digits !== 7 && digits !== 8) throw invalid(`${prefix}digits`, 'must be 6, 7 or 8');
  const period = input.period === undefined || input.period === '' ? 30 : Number(input.period);
  if (!Number.isInteger(period) || period < 10 || period > 300) throw invalid(`${prefix}period`, 'must be an integer from 10 to 300 seconds');
  const serial = validateText(input.serial, `${prefix}serial`, 128);
  return { algorithm, digits, period, serial, origin };
}

/**
 * Answers to security questions as given by a caller: `min` to `max` entries, each a question from
 * QUESTION_IDS (no question twice) and an answer of MIN_ANSWER_LENGTH to MAX_ANSWER_LENGTH
 * characters once normalized. Errors name the entry.
 */
export function checkAnswers(value: unknown, count: { readonly min: number; readonly max: number }): QuestionAnswer[] {
  if (!Array.isArray(value) || value.length < count.min || value.length > count.max) {
    throw invalid('answers', count.min === count.max ? `must be ${count.min} answers` : `must be ${count.min} to ${count.max} answers`);
  }
  const seen = new Set<string>();
  return (value as unknown[]).map((entry, i) => {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const question = e['question'];
    if (typeof question !== 'string' || !(QUESTION_IDS as readonly string[]).includes(question)) throw invalid(`answers.${i}.question`, `must be one of ${QUESTION_IDS.join(', ')}`);
    if (seen.has(question)) throw invalid(`answers.${i}.question`, 'must not repeat another question');
    seen.add(question);
    const answer = e['answer'];
    const length = typeof answer === 'string' ? [...normalizeAnswer(answer)].length : -1;
    if (typeof answer !== 'string' || answer.length > MAX_ANSWER_LENGTH * 4 || length < MIN_ANSWER_LENGTH || length > MAX_ANSWER_LENGTH) {
      throw invalid(`answers.${i}.answer`, `must be ${MIN_ANSWER_LENGTH} to ${MAX_ANSWER_LENGTH} characters`);
    }
    return { question: question as QuestionId, answer };
  });
}

interface TokenRow {
  readonly username: string;
  readonly type: MethodType;
  readonly secret: Uint8Array;
  readonly config: OathConfig;
  readonly counter: number | null;
  readonly label: string;
}

export interface MethodsDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly random: Random;
  readonly audit: Audit;
  readonly users: UsersService;
  readonly policy: PolicyCache;
  readonly issuer: string;
}

export function createMethodsService(deps: MethodsDeps) {
  const { store, clock, random, audit, users, policy, issuer } = deps;

  async function findMethod(userId: string, methodId: string): Promise<MethodRecord> {
    const method = typeof methodId === 'string' && methodId.length <= 64 ? await store.methods.get(methodId) : undefined;
    if (!method || method.userId !== userId) throw new CoreError('method_not_found', 'no such method for this user');
    return method;
  }

  async function addToken(row: TokenRow, actor: Actor): Promise<void> {
    const user = await users.find(row.username);
    const now = clock.now();
    const method = await store.methods.add(
      // HOTP: lastStep is the counter of the last code already used; the next expected code is `counter`.
      { userId: user.id, type: row.type, label: row.label, secret: row.secret, config: row.config, lastStep: row.counter === null || row.counter === 0 ? null : row.counter - 1 },
      random.id(),
      now,
    );
    await audit.admin({ action: 'method.import', user, actor, now, details: { methodId: method.id, type: row.type, serial: row.config.serial } });
  }

  function csvRows(text: string): { rows: (() => TokenRow)[] } {
    let records: Record<string, string>[];
    try {
      records = parse(text, { bom: true, columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()), skip_empty_lines: true, trim: true }) as Record<string, string>[];
    } catch (e) {
      throw new CoreError('import_failed', `the file is not valid CSV: ${(e as Error).message}`);
    }
    return {
      rows: records.map((r) => () => {
        const type = (r['type'] || 'totp').toLowerCase();
        if (type !== 'totp' && type !== 'hotp') throw invalid('type', 'must be totp or hotp');
        const secret = parseSecret(r['secret'] ?? '');
        if (!secret) throw invalid('secret', 'must be base32 or 0x-prefixed hex');
        if (secret.length < MIN_IMPORTED_SECRET_BYTES) throw invalid('secret', `must be at least ${MIN_IMPORTED_SECRET_BYTES * 8} bits`);
        const counter = r['counter'] ? Number(r['counter']) : null;
        if (counter !== null && (!Number.isSafeInteger(counter) || counter < 0)) throw invalid('counter', 'must be a non-negative integer');
        const config = oathConfig({ algorithm: r['algorithm'], digits: r['digits'], period: r['period'], serial: r['serial'] }, 'imported');
        return {
          username: validateUsername(r['username'] ?? ''),
          type,
          secret,
          config,
          counter,
          label: validateText(r['label'], 'label', 128) ?? (config.serial ? `${type.toUpperCase()} ${config.serial}` : type.toUpperCase()),
        };
      }),
    };
  }

  /** RFC 6030 key container with plaintext secrets. */
  function pskcRows(text: string): { rows: (() => TokenRow)[] } {
    const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: true, parseTagValue: false, parseAttributeValue: false, isArray: (name) => name === 'KeyPackage', processEntities: false });
    let doc: Record<string, unknown>;
    try {
      doc = parser.parse(text, true) as Record<string, unknown>;
    } catch (e) {
      throw new CoreError('import_failed', `the file is not valid XML: ${(e as Error).message}`);
    }
    const container = doc['KeyContainer'] as Record<string, unknown> | undefined;
    if (!container) throw new CoreError('import_failed', 'not a PSKC document: no KeyContainer element');
    const packages = (container['KeyPackage'] as Record<string, unknown>[] | undefined) ?? [];
    const get = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, p) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined), o);
    return {
      rows: packages.map((pkg) => () => {
        const key = get(pkg, 'Key');
        const alg = scalarText(get(key, '@Algorithm'));
        const type = alg.endsWith(':totp') ? 'totp' : alg.endsWith(':hotp') ? 'hotp' : null;
        if (!type) throw invalid('Algorithm', `unsupported key algorithm "${alg}" (expected the PSKC hotp or totp URN)`);
        if (get(key, 'Data', 'Secret', 'EncryptedValue') !== undefined) throw invalid('Secret', 'encrypted secrets are not supported: export the container with plaintext secrets');
        const b64 = scalarText(get(key, 'Data', 'Secret', 'PlainValue')).replace(/\s+/g, '');
        if (!/^[A-Za-z0-9+/]+=*$/.test(b64)) throw invalid('Secret', 'missing or malformed PlainValue');
        const secret = new Uint8Array(Buffer.from(b64, 'base64'));
        if (secret.length < MIN_IMPORTED_SECRET_BYTES) throw invalid('Secret', `must be at least ${MIN_IMPORTED_SECRET_BYTES * 8} bits`);
        const username = get(key, 'UserId') ?? get(pkg, 'DeviceInfo', 'UserId');
        if (typeof username !== 'string' || username === '') throw invalid('UserId', 'each KeyPackage must name its user (Key/UserId or DeviceInfo/UserId)');
        const hashAlg = get(key, 'AlgorithmParameters', 'Suite');
        const counterText = get(key, 'Data', 'Counter', 'PlainValue');
        const counter = counterText === undefined ? null : Number(scalarText(counterText) || Number.NaN);
        if (counter !== null && (!Number.isSafeInteger(counter) || counter < 0)) throw invalid('Counter', 'must be a non-negative integer');
        const serial = get(pkg, 'DeviceInfo', 'SerialNo');
        const config = oathConfig(
          {
            algorithm: typeof hashAlg === 'string' ? hashAlg.replace(/^HMAC-/i, '') : undefined,
            digits: get(key, 'AlgorithmParameters', 'ResponseFormat', '@Length'),
            period: get(key, 'Data', 'TimeInterval', 'PlainValue'),
            serial: scalarText(serial) || undefined,
          },
          'imported',
        );
        return { username: validateUsername(username), type, secret, config, counter, label: config.serial ? `${type.toUpperCase()} ${config.serial}` : type.toUpperCase() };
      }),
    };
  }

  return {
    async list(username: string): Promise<MethodView[]> {
      const user = await users.find(username);
      return (await store.methods.listForUser(user.id)).map(toMethodView);
    },

    async enrollTotp(username: string, input: EnrollTotpInput, actor: Actor): Promise<EnrollmentResult> {
      const user = await users.find(username, actor);
      if (typeof input !== 'object' || input === null) throw invalid('body', 'must be an object');
      const config = oathConfig(input, 'software');
      const label = validateText(input.label, 'label', 128) ?? 'Authenticator app';
      const secret = random.bytes(SOFTWARE_SECRET_BYTES);
      const now = clock.now();
      const pending = input.confirm === true;
      const method = await store.methods.add({ userId: user.id, type: 'totp', label, secret, config, pending }, random.id(), now);
      const uri = otpauthUri({ type: 'totp', issuer, account: user.username, secret, config });
      const qrSvg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
      await audit.admin({ action: 'method.enroll', user, actor, now, details: { methodId: method.id, type: 'totp', pending } });
      return { method: toMethodView(method), secret: toBase32(secret), otpauthUri: uri, qrSvg };
    },

    async addPhoneMethod(username: string, input: AddPhoneMethodInput, actor: Actor): Promise<MethodView> {
      const user = await users.find(username, actor);
      if (typeof input !== 'object' || input === null) throw invalid('body', 'must be an object');
      const type = input.type;
      if (type !== 'sms' && type !== 'voice') throw invalid('type', 'must be sms or voice');
      const which = input.phone ?? 'phone';
      if (which !== 'phone' && which !== 'backupPhone') throw invalid('phone', 'must be phone or backupPhone');
      if (!user[which]) throw invalid('phone', `the user has no ${which === 'phone' ? 'primary' : 'backup'} phone: set one first`);
      const existing = (await store.methods.listForUser(user.id)).find((m) => m.type === type && phoneOf(m) === which);
      if (existing) return toMethodView(existing);
      const label = validateText(input.label, 'label', 128) ?? `${type === 'sms' ? 'Text message' : 'Phone call'} to the ${which === 'phone' ? 'primary' : 'backup'} phone`;
      const now = clock.now();
      const config = NO_OATH;
      const method = await store.methods.add({ userId: user.id, type, label, secret: phoneMethodSecret(which), config }, random.id(), now);
      await audit.admin({ action: 'method.enroll', user, actor, now, details: { methodId: method.id, type, phone: which } });
      return toMethodView(method);
    },

    async importTokens(format: 'csv' | 'pskc', text: string, actor: Actor, progress?: ProgressFn): Promise<ImportReport> {
      if (format !== 'csv' && format !== 'pskc') throw invalid('format', 'must be csv or pskc');
      if (typeof text !== 'string' || text.length === 0) throw invalid('file', 'is empty');
      const { rows } = format === 'csv' ? csvRows(text) : pskcRows(text);
      const errors: ImportRowError[] = [];
      let created = 0;
      for (let i = 0; i < rows.length; i++) {
        try {
          await addToken((rows[i] as () => TokenRow)(), actor);
          created++;
        } catch (e) {
          if (!isCoreError(e)) throw e;
          const field = e.details ? (Object.keys(e.details)[0] ?? null) : e.code === 'user_not_found' ? 'username' : null;
          errors.push({ row: format === 'csv' ? i + 2 : i + 1, field, message: e.code === 'user_not_found' ? 'no such user' : e.message });
        }
        progress?.(i + 1, rows.length);
      }
      return { total: rows.length, created, updated: 0, skipped: errors.length, errors };
    },

    async createBackupCodes(username: string, actor: Actor): Promise<BackupCodesResult> {
      const user = await users.find(username, actor);
      const half = (): string => String(random.int(100_000)).padStart(5, '0');
      const codes = Array.from({ length: BACKUP_CODE_COUNT }, () => `${half()}${half()}`);
      const secret = backupSecret(random.bytes(16), codes);
      const now = clock.now();
      const config: OathConfig = { algorithm: 'SHA256', digits: 10, period: 0, serial: null, origin: 'software' };
      for (const old of await store.methods.listForUser(user.id)) if (old.type === 'backup') await store.methods.delete(old.id);
      const method = await store.methods.add({ userId: user.id, type: 'backup', label: 'Backup codes', secret, config }, random.id(), now);
      await audit.admin({ action: 'method.backup_codes', user, actor, now, details: { methodId: method.id, count: codes.length } });
      return { method: toMethodView(method), codes: codes.map((c) => `${c.slice(0, 5)}-${c.slice(5)}`) };
    },

    async setQuestions(username: string, input: readonly QuestionAnswer[], actor: Actor): Promise<MethodView> {
      const user = await users.find(username, actor);
      if (actor.role !== 'self' || actor.name.toLowerCase() !== user.username.toLowerCase()) throw new CoreError('forbidden', 'only the user sets their own security questions');
      if (!(await policy.settings()).portal.enrollMethods.includes('questions')) throw new CoreError('forbidden', 'security questions are not offered (portal.enrollMethods)');
      const answers = checkAnswers(input, { min: QUESTIONS_PER_USER, max: QUESTIONS_PER_USER });
      const secret = await questionsSecret(random.bytes(16), answers);
      const now = clock.now();
      const config = NO_OATH;
      for (const old of await store.methods.listForUser(user.id)) if (old.type === 'questions') await store.methods.delete(old.id);
      const method = await store.methods.add({ userId: user.id, type: 'questions', label: 'Security questions', secret, config }, random.id(), now);
      await audit.admin({ action: 'method.questions', user, actor, now, details: { methodId: method.id, questions: answers.map((a) => a.question) } });
      return toMethodView(method);
    },

    async questionsOf(username: string): Promise<QuestionId[]> {
      const user = await users.find(username);
      const method = (await store.methods.listForUser(user.id)).find((m) => m.type === 'questions');
      return method ? storedQuestions(method.secret) : [];
    },

    async confirm(username: string, methodId: string, code: string, actor: Actor): Promise<MethodView> {
      const user = await users.find(username);
      const method = await findMethod(user.id, methodId);
      if (!method.pending) throw new CoreError('method_not_found', 'this method is not awaiting confirmation');
      if (typeof code !== 'string' || code.length > 64) throw invalid('code', 'must be a string of at most 64 characters');
      const now = clock.now();
      const result = await registry[method.type].verify({ method, code, now, settings: await policy.settings() });
      if (!result.ok || !(await store.methods.confirm(method.id, result.step, result.drift, now))) {
        await audit.admin({ action: 'method.confirm', user, actor, now, result: 'failure', details: { methodId } });
        throw new CoreError('code_rejected', 'the code does not match this authenticator');
      }
      await audit.admin({ action: 'method.confirm', user, actor, now, details: { methodId, type: method.type } });
      return toMethodView((await store.methods.get(method.id)) as MethodRecord);
    },

    async remove(username: string, methodId: string, actor: Actor): Promise<void> {
      const user = await users.find(username, actor);
      const method = await findMethod(user.id, methodId);
      await store.methods.delete(method.id);
      await audit.admin({ action: 'method.remove', user, actor, now: clock.now(), details: { methodId: method.id, type: method.type } });
    },

    async resync(username: string, methodId: string, code1: string, code2: string, actor: Actor): Promise<MethodView> {
      const user = await users.find(username, actor);
      const method = await findMethod(user.id, methodId);
      if (method.type !== 'hotp') throw invalid('method', 'only HOTP tokens are resynchronized; TOTP tokens follow their drift automatically');
      const counter = resyncHotp({ secret: method.secret, config: method.config, lastStep: method.lastStep, code1, code2, searchWindow: RESYNC_WINDOW });
      const now = clock.now();
      if (counter === null) {
        await audit.admin({ action: 'method.resync', user, actor, now, result: 'failure', details: { methodId } });
        throw new CoreError('resync_failed', 'the two codes were not found as consecutive codes of this token');
      }
      await store.methods.setStep(method.id, counter, 0, now);
      await audit.admin({ action: 'method.resync', user, actor, now, details: { methodId } });
      const updated = await store.methods.get(method.id);
      return toMethodView(updated as MethodRecord);
    },
  };
}
