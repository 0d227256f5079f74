/**
 * Security questions: a legacy fallback kept for organizations moving from MFA Server, whose user
 * portal let users answer questions when their phone was out of reach. Weaker than any
 * authenticator (answers can be guessed or researched), so it is off unless the administrator
 * offers it (`portal.enrollMethods`), it is used only by the user portal's sign-in, and only when
 * the portal asks for it by name: a passcode sent anywhere else is never checked against answers.
 *
 * The user picks QUESTIONS_PER_USER questions from a fixed list and answers each. The method's
 * secret (sealed at rest like every secret) holds a random salt, then per question its index in
 * QUESTION_IDS and the scrypt hash of the normalized answer: answers have little entropy, so each
 * check costs a deliberate amount of work. lastStep counts the uses (consume: 'exact').
 */
import { scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { VerifyResult } from '../oath.ts';
import type { MethodDefinition } from './method.ts';

/** The questions users choose from, by stable id. Append only: stored sets refer to the index. */
export const QUESTION_IDS = [
  'first-pet',
  'birth-city',
  'first-school',
  'childhood-friend',
  'first-car',
  'first-job',
  'favourite-teacher',
  'parents-meeting-city',
  'childhood-street',
  'first-concert',
] as const;
export type QuestionId = (typeof QUESTION_IDS)[number];

export const QUESTIONS_PER_USER = 4;
export const MIN_ANSWER_LENGTH = 2;
export const MAX_ANSWER_LENGTH = 128;

const SALT_BYTES = 16;
const HASH_BYTES = 32;
const ENTRY_BYTES = 1 + HASH_BYTES;
/** 16 MiB and tens of milliseconds per answer, off the event loop (libuv's thread pool). */
const SCRYPT: ScryptOptions = { N: 16_384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export interface QuestionAnswer {
  readonly question: QuestionId;
  readonly answer: string;
}

/** The same answer however it is typed: Unicode-normalized, lower case, single spaces, trimmed. */
export function normalizeAnswer(answer: string): string {
  return answer.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();
}

function hashAnswer(salt: Uint8Array, index: number, answer: string): Promise<Buffer> {
  // The question's index is part of the salt: one answer given to two questions hashes differently.
  const pepper = Buffer.concat([salt, Buffer.of(index)]);
  return new Promise((resolve, reject) => {
    scryptCallback(normalizeAnswer(answer), pepper, HASH_BYTES, SCRYPT, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** The stored form of a user's answers: salt, then (question index, hash) per question. */
export async function questionsSecret(salt: Uint8Array, answers: readonly QuestionAnswer[]): Promise<Uint8Array> {
  const out = new Uint8Array(SALT_BYTES + answers.length * ENTRY_BYTES);
  out.set(salt.subarray(0, SALT_BYTES), 0);
  const hashes = await Promise.all(answers.map((a) => hashAnswer(out.subarray(0, SALT_BYTES), QUESTION_IDS.indexOf(a.question), a.answer)));
  answers.forEach((a, i) => {
    const at = SALT_BYTES + i * ENTRY_BYTES;
    out[at] = QUESTION_IDS.indexOf(a.question);
    out.set(hashes[i] as Buffer, at + 1);
  });
  return out;
}

/** The questions of a stored set, in the order the user chose them. */
export function storedQuestions(secret: Uint8Array): QuestionId[] {
  const ids: QuestionId[] = [];
  for (let at = SALT_BYTES; at + ENTRY_BYTES <= secret.length; at += ENTRY_BYTES) {
    const id = QUESTION_IDS[secret[at] as number];
    if (id) ids.push(id);
  }
  return ids;
}

/**
 * The answers as the core hands them to the method (built by the core from validated input, never
 * taken from a passcode field).
 */
export function encodeAnswers(answers: readonly QuestionAnswer[]): string {
  return JSON.stringify(answers.map((a) => [a.question, a.answer]));
}

function decodeAnswers(code: string): QuestionAnswer[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(code);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || parsed.length > QUESTIONS_PER_USER) return undefined;
  const out: QuestionAnswer[] = [];
  for (const entry of parsed as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 2) return undefined;
    const [question, answer] = entry as unknown[];
    if (typeof question !== 'string' || !(QUESTION_IDS as readonly string[]).includes(question) || typeof answer !== 'string') return undefined;
    out.push({ question: question as QuestionId, answer });
  }
  return new Set(out.map((a) => a.question)).size === out.length ? out : undefined;
}

/**
 * Every answered question must be one of the user's and every answer right; at least `required`
 * distinct questions answered. Every given answer is hashed and compared, right or wrong.
 */
export async function verifyAnswers(secret: Uint8Array, uses: number | null, code: string, required: number): Promise<VerifyResult> {
  const answers = decodeAnswers(code);
  if (!answers) return { ok: false, reason: 'malformed' };
  const salt = secret.subarray(0, SALT_BYTES);
  const entries = new Map<number, Uint8Array>();
  for (let at = SALT_BYTES; at + ENTRY_BYTES <= secret.length; at += ENTRY_BYTES) entries.set(secret[at] as number, secret.subarray(at + 1, at + ENTRY_BYTES));
  let ok = answers.length >= required;
  const hashes = await Promise.all(answers.map((a) => hashAnswer(salt, QUESTION_IDS.indexOf(a.question), a.answer)));
  answers.forEach((a, i) => {
    const stored = entries.get(QUESTION_IDS.indexOf(a.question));
    const match = stored !== undefined && timingSafeEqual(stored, hashes[i] as Buffer);
    ok = ok && match;
  });
  return ok ? { ok: true, step: (uses ?? 0) + 1, drift: 0 } : { ok: false, reason: 'invalid' };
}

export const questions: MethodDefinition = {
  type: 'questions',
  displayName: 'Security questions',
  description: 'Answers to questions the user chose: a fallback at the user portal sign-in only, kept for migration from MFA Server. Weaker than an authenticator.',
  answer: 'passcode',
  consume: 'exact',
  enrollableFrom: ['portal'],
  enrollFields: [],
  legacy: true,
  numberMatching: false,
  fallbackOnly: true,
  verify: ({ method, code, settings }) => verifyAnswers(method.secret, method.lastStep, code, settings.portal.questionsAsked),
};
