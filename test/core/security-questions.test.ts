import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Actor, QuestionAnswer } from '../../src/core/api.ts';
import { encodeAnswers, normalizeAnswer } from '../../src/core/methods/questions.ts';
import { cliActor, createTestCore, type TestCore } from '../support/harness.ts';

let t: TestCore;
beforeEach(async () => {
  t = await createTestCore();
});
afterEach(async () => t.close());

const self = (name: string): Actor => ({ kind: 'user', name, role: 'self' });

const ANSWERS: QuestionAnswer[] = [
  { question: 'first-pet', answer: 'Biscuit' },
  { question: 'birth-city', answer: 'Saint-Étienne' },
  { question: 'first-car', answer: 'Renault  Clio' },
  { question: 'first-concert', answer: 'Daft Punk 1997' },
];

async function offer(): Promise<void> {
  await t.core.settings.update({ portal: { enrollMethods: ['totp', 'backup', 'questions'] } }, cliActor);
}

/** A portal sign-in's challenge for alice (she has an authenticator and questions). */
async function portalChallenge(): Promise<string> {
  const c = await t.core.authentications.create({ username: 'alice', application: 'portal', exemptions: { trustedIp: false, cache: false, bypass: false } }, self('alice'));
  expect(c.view.state).toBe('challenge');
  return c.view.id;
}

describe('security questions', () => {
  beforeEach(async () => {
    await t.core.users.create({ username: 'alice' }, cliActor);
    await t.core.methods.enrollTotp('alice', {}, cliActor);
  });

  it('are refused while not offered, set only by the user, and validated field by field', async () => {
    await expect(t.core.methods.setQuestions('alice', ANSWERS, self('alice'))).rejects.toMatchObject({ code: 'forbidden' });
    await offer();
    await expect(t.core.methods.setQuestions('alice', ANSWERS, cliActor)).rejects.toMatchObject({ code: 'forbidden' });
    await expect(t.core.methods.setQuestions('alice', ANSWERS, self('bob'))).rejects.toMatchObject({ code: 'forbidden' });
    const bad: [unknown, string][] = [
      [ANSWERS.slice(0, 3), 'answers'],
      [[...ANSWERS.slice(0, 3), { question: 'first-pet', answer: 'Rex' }], 'answers.3.question'],
      [[...ANSWERS.slice(0, 3), { question: 'favourite-colour', answer: 'blue' }], 'answers.3.question'],
      [[...ANSWERS.slice(0, 3), { question: 'first-job', answer: ' x ' }], 'answers.3.answer'],
      [[...ANSWERS.slice(0, 3), { question: 'first-job', answer: 'y'.repeat(129) }], 'answers.3.answer'],
      [[...ANSWERS.slice(0, 3), { question: 'first-job', answer: 42 }], 'answers.3.answer'],
      ['not a list', 'answers'],
    ];
    for (const [input, fieldName] of bad) {
      await expect(t.core.methods.setQuestions('alice', input as QuestionAnswer[], self('alice')), fieldName).rejects.toMatchObject({ code: 'validation_failed', details: { [fieldName]: expect.any(String) } });
    }
    const method = await t.core.methods.setQuestions('alice', ANSWERS, self('alice'));
    expect(method).toMatchObject({ type: 'questions', pending: false });
    expect(await t.core.methods.questionsOf('alice')).toEqual(['first-pet', 'birth-city', 'first-car', 'first-concert']);
    // The stored form holds no answer, even normalized.
    const stored = await t.store.methods.get(method.id);
    const secret = Buffer.from(stored?.secret ?? []).toString('latin1');
    for (const a of ANSWERS) expect(secret).not.toContain(normalizeAnswer(a.answer));
    const audit = await t.core.audit.query({ action: 'method.questions', limit: 1 });
    expect(audit[0]?.details).toMatchObject({ questions: ['first-pet', 'birth-city', 'first-car', 'first-concert'] });
    expect(JSON.stringify(audit)).not.toContain('Biscuit');
  });

  it('answer a portal challenge: right answers however typed, wrong ones counted as failures', async () => {
    await offer();
    await t.core.methods.setQuestions('alice', ANSWERS, self('alice'));
    const right: QuestionAnswer[] = [
      { question: 'birth-city', answer: '  saint-étienne ' },
      { question: 'first-car', answer: 'RENAULT clio' },
    ];
    const ok = await t.core.authentications.answerQuestions(await portalChallenge(), right, self('alice'));
    expect(ok).toMatchObject({ view: { state: 'approved', method: 'questions' }, reason: 'passcode_ok' });

    const wrong = await t.core.authentications.answerQuestions(await portalChallenge(), [right[0] as QuestionAnswer, { question: 'first-car', answer: 'Peugeot 205' }], self('alice'));
    expect(wrong).toMatchObject({ view: { state: 'denied' }, reason: 'invalid_passcode' });
    expect((await t.core.users.get('alice')).failedCount).toBe(1);

    // Fewer answers than the setting asks for, or a question she did not choose: denied.
    const one = await t.core.authentications.answerQuestions(await portalChallenge(), [right[0] as QuestionAnswer], self('alice'));
    expect(one.view.state).toBe('denied');
    const other = await t.core.authentications.answerQuestions(await portalChallenge(), [right[0] as QuestionAnswer, { question: 'first-job', answer: 'baker' }], self('alice'));
    expect(other.view.state).toBe('denied');
    // Each challenge takes one answer.
    const id = await portalChallenge();
    await t.core.authentications.answerQuestions(id, right, self('alice'));
    await expect(t.core.authentications.answerQuestions(id, right, self('alice'))).rejects.toMatchObject({ code: 'authentication_closed' });
    await expect(t.core.authentications.answerQuestions(await portalChallenge(), [{ question: 'first-pet', answer: '' }], self('alice'))).rejects.toMatchObject({ code: 'validation_failed' });
  });

  it('never answer anywhere but the portal, never as a passcode, and stop when no longer offered', async () => {
    await offer();
    await t.core.methods.setQuestions('alice', ANSWERS, self('alice'));
    const right = ANSWERS.slice(0, 2);
    // Another application's challenge.
    const other = await t.core.authentications.create({ username: 'alice' }, cliActor);
    expect((await t.core.authentications.answerQuestions(other.view.id, right, self('alice'))).reason).toBe('method_not_allowed');
    // The encoded answers given as a passcode are not checked against them.
    const encoded = encodeAnswers([{ question: 'first-pet', answer: 'Biscuit' }]);
    expect(encoded.length).toBeLessThanOrEqual(64);
    await t.core.settings.update({ portal: { questionsAsked: 1 } }, cliActor);
    const asPasscode = await t.core.authentications.answer(await portalChallenge(), encoded, self('alice'));
    expect(asPasscode.view.state).toBe('denied');
    expect((await t.core.authentications.create({ username: 'alice', application: 'portal', passcode: encoded }, cliActor)).view.state).toBe('denied');
    // Asked for by name at the start of an authentication: refused.
    expect((await t.core.authentications.create({ username: 'alice', method: 'questions' }, cliActor)).reason).toBe('method_not_allowed');
    // One right answer is enough with questionsAsked 1.
    expect((await t.core.authentications.answerQuestions(await portalChallenge(), [{ question: 'first-pet', answer: 'biscuit' }], self('alice'))).view.state).toBe('approved');
    // Withdrawn by the administrator: refused at once.
    await t.core.settings.update({ portal: { enrollMethods: ['totp'] } }, cliActor);
    expect((await t.core.authentications.answerQuestions(await portalChallenge(), right, self('alice'))).reason).toBe('method_not_allowed');
  });

  it('do not count as a method of their own: a user with only questions has no method to sign in with', async () => {
    await offer();
    await t.core.methods.setQuestions('alice', ANSWERS, self('alice'));
    for (const m of await t.core.methods.list('alice')) if (m.type === 'totp') await t.core.methods.remove('alice', m.id, cliActor);
    const c = await t.core.authentications.create({ username: 'alice', application: 'portal' }, self('alice'));
    expect(c).toMatchObject({ view: { state: 'denied' }, reason: 'no_method' });
  });

  it('validate the number asked at sign-in', async () => {
    await expect(t.core.settings.update({ portal: { questionsAsked: 5 } }, cliActor)).rejects.toMatchObject({ details: { 'portal.questionsAsked': 'must be an integer from 1 to 4' } });
    await expect(t.core.settings.update({ portal: { questionsAsked: 0 } }, cliActor)).rejects.toMatchObject({ code: 'validation_failed' });
    expect((await t.core.settings.update({ portal: { questionsAsked: 3 } }, cliActor)).portal.questionsAsked).toBe(3);
  });
});
