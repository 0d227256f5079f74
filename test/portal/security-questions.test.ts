import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliActor } from '../support/harness.ts';
import { totpAt } from '../http/helpers.ts';
import { InjectBrowser, csrfOf, startWebApp, type WebApp } from '../support/web-app.ts';

let w: WebApp;
beforeEach(async () => {
  w = await startWebApp();
  await w.core.users.create({ username: 'alice', displayName: 'Alice Example' }, cliActor);
  await w.core.users.setPassword('alice', PASSWORD, cliActor);
});
afterEach(async () => w.close());

const PASSWORD = 'correct horse battery';
const ANSWERS: Record<string, string> = { 'first-pet': 'Biscuit', 'birth-city': 'Lyon', 'first-car': 'Renault Clio', 'first-concert': 'Daft Punk' };

async function signIn(b: InjectBrowser) {
  const page = await b.get('/portal/sign-in');
  return b.post('/portal/sign-in', { _csrf: csrfOf(page.body), username: 'alice', password: PASSWORD });
}

/** The questions a page asks, by their text, mapped back to their ids through the choice list. */
const QUESTION_TEXT: Record<string, string> = {
  'first-pet': 'What was the name of your first pet?',
  'birth-city': 'In which city were you born?',
  'first-car': 'What was the make and model of your first car?',
  'first-concert': 'What was the first concert you went to?',
};
function askedIn(html: string): string[] {
  return [...html.matchAll(/<label for="answer-\d">([^<]+)<\/label>/g)].map((m) => Object.keys(QUESTION_TEXT).find((id) => QUESTION_TEXT[id] === m[1]) ?? `unknown: ${m[1]}`);
}

/** First sign-in: authenticator, backup codes, then the security questions page. Returns the TOTP secret. */
async function enrollWithQuestions(b: InjectBrowser): Promise<string> {
  expect((await signIn(b)).headers.location).toBe('/portal/enroll');
  const page = await b.get('/portal/enroll');
  const secret = (/id="secret">([A-Z2-7 ]+)</.exec(page.body)?.[1] ?? '').replace(/ /g, '');
  const codes = await b.post('/portal/enroll', { _csrf: csrfOf(page.body), code: totpAt(secret, w.clock.now()) });
  // With backup codes offered, their page leads on to the questions; without, the enrollment does.
  if (codes.statusCode === 303) expect(codes.headers.location).toBe('/portal/questions');
  else expect(codes.body).toContain('href="/portal/questions"');
  const form = await b.get('/portal/questions');
  expect(form.statusCode).toBe(200);
  expect(form.body).toContain('weaker than an authenticator');
  const ids = Object.keys(ANSWERS);
  const fields = Object.fromEntries(ids.flatMap((id, i) => [[`question${i + 1}`, id], [`answer${i + 1}`, ANSWERS[id] as string]]));
  // The same question twice: refused, with the choices kept.
  const twice = await b.post('/portal/questions', { _csrf: csrfOf(form.body), ...fields, question4: 'first-pet' });
  expect(twice.statusCode).toBe(400);
  expect(twice.body).toContain('Choose four different questions');
  expect(twice.body).toMatch(/<select id="question-2" name="question2" required>.*<option value="birth-city" selected>/s);
  const saved = await b.post('/portal/questions', { _csrf: csrfOf(form.body), ...fields });
  expect(saved.headers.location).toBe('/portal/account?notice=questions.saved');
  return secret;
}

describe('portal security questions (legacy option)', () => {
  it('are not offered by default: no page, no link at sign-in', async () => {
    const b = new InjectBrowser(w.app);
    expect((await signIn(b)).headers.location).toBe('/portal/enroll');
    const page = await b.get('/portal/enroll');
    const secret = (/id="secret">([A-Z2-7 ]+)</.exec(page.body)?.[1] ?? '').replace(/ /g, '');
    const codes = await b.post('/portal/enroll', { _csrf: csrfOf(page.body), code: totpAt(secret, w.clock.now()) });
    expect(codes.body).not.toContain('/portal/questions');
    const account = await b.get('/portal/account');
    expect(account.body).not.toContain('Security questions');
    expect((await b.get('/portal/questions')).headers.location).toBe('/portal/account?notice=error.forbidden');
    await b.post('/portal/sign-out', { _csrf: csrfOf(account.body) });
    await signIn(b);
    expect((await b.get('/portal/verify')).body).not.toContain('/portal/verify/questions');
    expect((await b.get('/portal/verify/questions')).headers.location).toBe('/portal/verify');
  });

  it('are chosen after the first authenticator, then answer a sign-in instead of a code', async () => {
    await w.core.settings.update({ portal: { enrollMethods: ['totp', 'backup', 'questions'], questionsAsked: 2 } }, cliActor);
    const b = new InjectBrowser(w.app);
    await enrollWithQuestions(b);
    const account = await b.get('/portal/account?notice=questions.saved');
    expect(account.body).toContain('You have set four security questions.');
    // Not an authenticator: it is neither listed nor removable.
    expect(account.body).not.toMatch(/<strong>Security questions<\/strong>/);
    await b.post('/portal/sign-out', { _csrf: csrfOf(account.body) });

    expect((await signIn(b)).headers.location).toBe('/portal/verify');
    const verify = await b.get('/portal/verify');
    expect(verify.body).toContain('href="/portal/verify/questions"');
    const ask = await b.get('/portal/verify/questions');
    const asked = askedIn(ask.body);
    expect(asked).toHaveLength(2);
    for (const id of asked) expect(Object.keys(ANSWERS)).toContain(id);
    // Reloading asks the same questions.
    expect(askedIn((await b.get('/portal/verify/questions')).body)).toEqual(asked);

    const wrong = await b.post('/portal/verify/questions', { _csrf: csrfOf(ask.body), answer1: 'nope', answer2: 'nope' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('Those answers did not work.');
    expect(askedIn(wrong.body)).toEqual(asked);
    expect((await w.core.users.get('alice')).failedCount).toBe(1);

    const right = Object.fromEntries(asked.map((id, i) => [`answer${i + 1}`, ` ${(ANSWERS[id] as string).toUpperCase()} `]));
    const ok = await b.post('/portal/verify/questions', { _csrf: csrfOf(wrong.body), ...right });
    expect(ok.headers.location).toBe('/portal/account');
    expect((await b.get('/portal/account')).statusCode).toBe(200);
    const [event] = await w.core.audit.query({ username: 'alice', kind: 'authentication', limit: 1 });
    expect(event).toMatchObject({ result: 'approved', method: 'questions', application: 'portal' });
  });

  it('end the sign-in after too many wrong answers, like codes', async () => {
    await w.core.settings.update({ portal: { enrollMethods: ['totp', 'questions'] } }, cliActor);
    const b = new InjectBrowser(w.app);
    await enrollWithQuestions(b);
    await b.post('/portal/sign-out', { _csrf: csrfOf((await b.get('/portal/account')).body) });
    await signIn(b);
    let page = await b.get('/portal/verify/questions');
    let last = page;
    for (let i = 0; i < 5; i++) {
      last = await b.post('/portal/verify/questions', { _csrf: csrfOf(page.body), answer1: 'wrong', answer2: 'wrong' });
      if (last.statusCode !== 401) break;
      page = last;
    }
    expect(last.headers.location).toBe('/portal/sign-in?notice=signIn.failed');
    expect((await w.core.users.get('alice')).failedCount).toBe(5);
  });

  it('ask for a fresh code before they are changed from the account page', async () => {
    await w.core.settings.update({ portal: { enrollMethods: ['totp', 'questions'] } }, cliActor);
    const b = new InjectBrowser(w.app);
    const secret = await enrollWithQuestions(b);
    w.clock.advance(400_000);
    const account = await b.get('/portal/account');
    expect(account.body).toContain('Change my security questions');
    expect((await b.get('/portal/questions')).headers.location).toBe('/portal/account?notice=error.forbidden');
    expect((await b.post('/portal/questions/edit', { _csrf: csrfOf(account.body) })).headers.location).toBe('/portal/reauth');
    const reauth = await b.get('/portal/reauth');
    expect((await b.post('/portal/reauth', { _csrf: csrfOf(reauth.body), code: totpAt(secret, w.clock.now()) })).headers.location).toBe('/portal/questions');
    const form = await b.get('/portal/questions');
    // The current questions come preselected; answers are never shown back.
    expect(form.body).toMatch(/<select id="question-4" name="question4" required>.*<option value="first-concert" selected>/s);
    expect(form.body).not.toContain('Biscuit');
  });
});
