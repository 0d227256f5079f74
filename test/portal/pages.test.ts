import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliActor } from '../support/harness.ts';
import { totpAt } from '../http/helpers.ts';
import { createTwilioSender } from '../../src/delivery/twilio.ts';
import { startTwilioTwin } from '../support/twilio-twin.ts';
import { InjectBrowser, csrfOf, startWebApp, type WebApp } from '../support/web-app.ts';

let w: WebApp;
beforeEach(async () => {
  w = await startWebApp();
});
afterEach(async () => w.close());

const PASSWORD = 'correct horse battery';

async function localUser(username: string): Promise<void> {
  await w.core.users.create({ username, displayName: `${username} Example` }, cliActor);
  await w.core.users.setPassword(username, PASSWORD, cliActor);
}

async function signIn(b: InjectBrowser, username: string, password = PASSWORD) {
  const page = await b.get('/portal/sign-in');
  return b.post('/portal/sign-in', { _csrf: csrfOf(page.body), username, password });
}

/** Signs in a user without a method and finishes enrollment; returns the authenticator's secret. */
async function enroll(b: InjectBrowser, username: string): Promise<string> {
  const res = await signIn(b, username);
  expect(res.headers.location).toBe('/portal/enroll');
  const page = await b.get('/portal/enroll');
  const secret = (/id="secret">([A-Z2-7 ]+)</.exec(page.body)?.[1] ?? '').replace(/ /g, '');
  const done = await b.post('/portal/enroll', { _csrf: csrfOf(page.body), code: totpAt(secret, w.clock.now()) });
  // With the first authenticator come backup codes, shown on this answer only.
  expect(done.statusCode).toBe(200);
  lastBackupCodes = [...done.body.matchAll(/<li><code>([0-9]{5}-[0-9]{5})<\/code><\/li>/g)].map((m) => m[1] as string);
  expect(lastBackupCodes).toHaveLength(10);
  expect(done.body).toContain('href="/portal/account?notice=account.setupNext"');
  return secret;
}

let lastBackupCodes: string[] = [];

describe('portal pages', () => {
  it('serve the sign-in page with a strict CSP, no script, a labelled form and a form cookie', async () => {
    const b = new InjectBrowser(w.app);
    const res = await b.get('/portal/sign-in');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['content-security-policy']).not.toContain('script-src');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.body).not.toContain('<script');
    expect(res.body).toMatch(/<label for="username">Username<\/label>/);
    const cookie = res.cookies.find((c) => c.name === '__Host-cs_portal_form');
    expect(cookie).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(cookie).not.toHaveProperty('domain');
  });

  it('stay out of the OpenAPI document', async () => {
    const doc = JSON.parse((await w.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).body) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/portal'))).toEqual([]);
    expect(Object.keys(doc.paths)).toContain('/api/v1/users');
  });

  it('answer every sign-in failure the same way and refuse a form without its token', async () => {
    await localUser('alice');
    const b = new InjectBrowser(w.app);
    const wrong = await signIn(b, 'alice', 'wrong password here');
    const unknown = await signIn(b, 'nobody', PASSWORD);
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    const message = (html: string) => /<p class="notice bad"[^>]*>([^<]*)</.exec(html)?.[1];
    expect(message(wrong.body)).toBe('Sign-in failed. Check your username and password and try again.');
    expect(message(unknown.body)).toBe(message(wrong.body));
    expect(b.cookies.has('__Host-cs_portal')).toBe(false);
    const refusals = await w.core.audit.query({ action: 'sign_in', limit: 5 });
    expect(refusals.map((e) => [e.username, e.reason, e.result])).toEqual([
      ['nobody', 'first_factor_unknown_user', 'denied'],
      ['alice', 'first_factor_invalid_credentials', 'denied'],
    ]);
    const forged = await new InjectBrowser(w.app).post('/portal/sign-in', { _csrf: 'x'.repeat(43), username: 'alice', password: PASSWORD });
    expect(forged.statusCode).toBe(403);
  });

  it('enroll a new user with a confirmed authenticator, then sign in with a code from it', async () => {
    await localUser('alice');
    const b = new InjectBrowser(w.app);
    const secret = await enroll(b, 'alice');
    const account = await b.get('/portal/account?notice=account.setupNext');
    expect(account.statusCode).toBe(200);
    expect(account.body).toContain('Your authenticator is active.');
    expect((await w.core.methods.list('alice')).map((m) => [m.type, m.pending]).sort()).toEqual([
      ['backup', false],
      ['totp', false],
    ]);

    const signOut = await b.post('/portal/sign-out', { _csrf: csrfOf(account.body) });
    expect(signOut.headers.location).toBe('/portal/sign-in?notice=signIn.signedOut');
    expect((await b.get('/portal/account')).headers.location).toBe('/portal/sign-in?notice=signIn.expired');

    w.clock.advance(30_000);
    const first = await signIn(b, 'alice');
    expect(first.headers.location).toBe('/portal/verify');
    const beforeToken = b.cookies.get('__Host-cs_portal');
    const verify = await b.get('/portal/verify');
    const ok = await b.post('/portal/verify', { _csrf: csrfOf(verify.body), code: totpAt(secret, w.clock.now()) });
    expect(ok.headers.location).toBe('/portal/account');
    // Renewed at sign-in: the token from before the second factor no longer opens anything.
    expect(b.cookies.get('__Host-cs_portal')).not.toBe(beforeToken);
    const stale = new InjectBrowser(w.app);
    stale.cookies.set('__Host-cs_portal', beforeToken ?? '');
    expect((await stale.get('/portal/account')).statusCode).toBe(303);
    expect((await b.get('/portal/account')).statusCode).toBe(200);
  });

  it('refuse a wrong code, offer a new try, and count the failure', async () => {
    await localUser('alice');
    const b = new InjectBrowser(w.app);
    const secret = await enroll(b, 'alice');
    await b.post('/portal/sign-out', { _csrf: csrfOf((await b.get('/portal/account')).body) });
    w.clock.advance(30_000);
    await signIn(b, 'alice');
    const verify = await b.get('/portal/verify');
    const right = totpAt(secret, w.clock.now());
    const bad = await b.post('/portal/verify', { _csrf: csrfOf(verify.body), code: right === '000000' ? '111111' : '000000' });
    expect(bad.statusCode).toBe(401);
    expect(bad.body).toContain('That code did not work.');
    expect((await w.core.users.get('alice')).failedCount).toBe(1);
    const ok = await b.post('/portal/verify', { _csrf: csrfOf(bad.body), code: right });
    expect(ok.headers.location).toBe('/portal/account');
  });

  it('change PIN and phones, with the PIN policy and CSRF enforced', async () => {
    await localUser('alice');
    const b = new InjectBrowser(w.app);
    await enroll(b, 'alice');
    const page = await b.get('/portal/account');
    const csrf = csrfOf(page.body);
    expect((await b.post('/portal/account/pin', { _csrf: csrf, pin: '1234', pinAgain: '1234' })).headers.location).toBe('/portal/account?notice=account.pinInvalid');
    expect((await b.post('/portal/account/pin', { _csrf: csrf, pin: '4821', pinAgain: '4822' })).headers.location).toBe('/portal/account?notice=account.pinMismatch');
    expect((await b.post('/portal/account/pin', { _csrf: 'forged', pin: '4821', pinAgain: '4821' })).statusCode).toBe(403);
    expect((await w.core.users.get('alice')).hasPin).toBe(false);
    expect((await b.post('/portal/account/pin', { _csrf: csrf, pin: '4821', pinAgain: '4821' })).headers.location).toBe('/portal/account?notice=account.saved');
    expect((await w.core.users.get('alice')).hasPin).toBe(true);

    const phones = await b.post('/portal/account/phones', { _csrf: csrf, phoneCountry: 'FR', phoneNumber: '01 23 45 67 89', phoneExtension: '12', backupNumber: '+1 415 555 0100' });
    expect(phones.headers.location).toBe('/portal/account?notice=account.saved');
    const user = await w.core.users.get('alice');
    expect(user.phone).toEqual({ number: '+33123456789', country: 'FR', extension: '12' });
    expect(user.backupPhone?.number).toBe('+14155550100');
    expect((await b.post('/portal/account/phones', { _csrf: csrf, phoneNumber: '12' })).headers.location).toBe('/portal/account?notice=account.phoneInvalid');
  });

  it('start a one-time bypass only where allowed, and the next sign-in skips the code', async () => {
    await localUser('alice');
    const b = new InjectBrowser(w.app);
    await enroll(b, 'alice');
    let page = await b.get('/portal/account');
    expect(page.body).not.toContain('action="/portal/bypass"');
    expect((await b.post('/portal/bypass', { _csrf: csrfOf(page.body), seconds: '300' })).headers.location).toBe('/portal/account?notice=error.forbidden');
    await w.core.settings.update({ portal: { allowBypass: true, bypassSeconds: 300 } }, cliActor);
    page = await b.get('/portal/account');
    expect(page.body).toContain('action="/portal/bypass"');
    expect((await b.post('/portal/bypass', { _csrf: csrfOf(page.body), seconds: '301' })).headers.location).toBe('/portal/account?notice=error.generic');
    expect((await b.post('/portal/bypass', { _csrf: csrfOf(page.body), seconds: '120' })).headers.location).toBe('/portal/account?notice=account.saved');
    const bypass = await w.core.bypass.get('alice');
    expect(bypass && bypass.expiresAt - bypass.createdAt).toBe(120_000);
    await b.post('/portal/sign-out', { _csrf: csrfOf((await b.get('/portal/account')).body) });
    expect((await signIn(b, 'alice')).headers.location).toBe('/portal/account');
    expect((await w.core.bypass.get('alice'))?.usedAt ?? 'used').toBe('used');
  });

  it('report a sign-in as fraud: the account is blocked, the session ends, administrators see it', async () => {
    await localUser('alice');
    const b = new InjectBrowser(w.app);
    const secret = await enroll(b, 'alice');
    w.clock.advance(30_000);
    await w.core.authentications.create({ username: 'alice', application: 'default', clientIp: '203.0.113.9', passcode: totpAt(secret, w.clock.now()) }, cliActor);
    const account = await b.get('/portal/account');
    const id = /name="authentication" value="([^"]+)"/.exec(account.body)?.[1] ?? '';
    expect(account.body).toContain('203.0.113.9');
    const form = await b.get(`/portal/fraud?authentication=${id}`);
    expect(form.body).toContain('Reporting blocks your account');
    const done = await b.post('/portal/fraud', { _csrf: csrfOf(form.body), authentication: id, note: 'I was asleep' });
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain('Your report was sent to your administrator.');
    expect((await w.core.users.get('alice')).state).toBe('blocked');
    expect((await b.get('/portal/account')).statusCode).toBe(303);
    const [event] = await w.core.audit.query({ action: 'user.fraud_report', limit: 1 });
    expect(event).toMatchObject({ username: 'alice', reason: 'I was asleep', details: { authenticationId: id, blocked: true } });
  });

  it('ask for a fresh code before removing an authenticator', async () => {
    await localUser('alice');
    const b = new InjectBrowser(w.app);
    const secret = await enroll(b, 'alice');
    const second = await w.core.methods.enrollTotp('alice', { label: 'Spare' }, cliActor);
    w.clock.advance(400_000);
    const page = await b.get('/portal/account');
    expect(page.body).toContain('Spare');
    const remove = await b.post(`/portal/methods/${second.method.id}/remove`, { _csrf: csrfOf(page.body) });
    expect(remove.headers.location).toBe('/portal/reauth');
    expect((await w.core.methods.list('alice')).filter((m) => m.type === 'totp')).toHaveLength(2);
    const reauth = await b.get('/portal/reauth');
    expect(reauth.body).toContain('Before you change how you sign in');
    const ok = await b.post('/portal/reauth', { _csrf: csrfOf(reauth.body), code: totpAt(secret, w.clock.now()) });
    expect(ok.headers.location).toBe('/portal/account?notice=account.removed');
    expect((await w.core.methods.list('alice')).map((m) => m.label).sort()).toEqual(['Authenticator app', 'Backup codes']);
  });

  it('set up the mobile app after a fresh code: a QR code of the activation address, whose code activates a device once', async () => {
    await localUser('alice');
    const b = new InjectBrowser(w.app);
    const secret = await enroll(b, 'alice');
    w.clock.advance(400_000);
    const account = await b.get('/portal/account');
    expect(account.body).toContain('Set up the mobile app');
    const start = await b.post('/portal/mobile-app', { _csrf: csrfOf(account.body) });
    expect(start.headers.location).toBe('/portal/reauth');
    const reauth = await b.get('/portal/reauth');
    expect((await b.post('/portal/reauth', { _csrf: csrfOf(reauth.body), code: totpAt(secret, w.clock.now()) })).headers.location).toBe('/portal/mobile-app');
    const page = await b.get('/portal/mobile-app');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<img class="qr" src="data:image/svg+xml;base64,');
    const link = /id="activation-link">([^<]+)</.exec(page.body)?.[1] ?? '';
    expect(link).toMatch(/^https:\/\/localhost(:\d+)?\/mobile\/app\/#activate=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const code = link.slice(link.indexOf('#activate=') + '#activate='.length);
    const { webcrypto } = await import('node:crypto');
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    const publicKey = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey)).toString('base64url');
    const device = await w.core.devices.activate({ activationCode: code, publicKey, name: 'Phone' }, cliActor);
    expect(device.username).toBe('alice');
    await expect(w.core.devices.activate({ activationCode: code, publicKey, name: 'Phone' }, cliActor)).rejects.toMatchObject({ code: 'activation_failed' });
    expect((await w.core.methods.list('alice')).map((m) => [m.type, m.label, m.pending])).toContainEqual(['push', 'Phone', false]);
    // Without the option, the page is not offered.
    await w.core.settings.update({ portal: { enrollMethods: ['totp', 'backup'] } }, cliActor);
    expect((await b.get('/portal/account')).body).not.toContain('Set up the mobile app');
    expect((await b.get('/portal/mobile-app')).headers.location).toBe('/portal/account');
  });

  it('sign in with the mobile app: a page showing the number follows the approval; a code can be used instead', async () => {
    await localUser('alice');
    const b = new InjectBrowser(w.app);
    const secret = await enroll(b, 'alice');
    await b.post('/portal/sign-out', { _csrf: csrfOf((await b.get('/portal/account')).body) });
    const { activationCode } = await w.core.devices.startActivation('alice', cliActor);
    const { webcrypto } = await import('node:crypto');
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    const publicKey = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey)).toString('base64url');
    const device = await w.core.devices.activate({ activationCode, publicKey, name: 'Phone' }, cliActor);
    await w.core.users.update('alice', { defaultMethod: 'push' }, cliActor);

    expect((await signIn(b, 'alice')).headers.location).toBe('/portal/verify');
    const waiting = await b.get('/portal/verify');
    expect(waiting.statusCode).toBe(200);
    expect(waiting.body).toContain('<meta http-equiv="refresh" content="3;url=/portal/verify">');
    const shown = Number(/id="match"[^>]*>(\d+)</.exec(waiting.body)?.[1]);
    const [request] = await w.core.devices.requests(device.id);
    expect(request?.numbers).toContain(shown);
    // Still waiting: the same page again.
    expect((await b.get('/portal/verify')).body).toContain(`>${shown}<`);
    expect(await w.core.devices.answer(device.id, request?.id as string, { decision: 'approve', number: shown }, cliActor)).toEqual({ state: 'approved' });
    expect((await b.get('/portal/verify')).headers.location).toBe('/portal/account');

    // Again, then "Use a code instead": a code signs in.
    await b.post('/portal/sign-out', { _csrf: csrfOf((await b.get('/portal/account')).body) });
    await signIn(b, 'alice');
    const again = await b.get('/portal/verify');
    expect(await w.core.devices.requests(device.id)).toHaveLength(1);
    const instead = await b.post('/portal/verify/code', { _csrf: csrfOf(again.body) });
    expect(instead.headers.location).toBe('/portal/verify');
    // The app's request is withdrawn: the phone no longer lists it.
    expect(await w.core.devices.requests(device.id)).toEqual([]);
    const form = await b.get('/portal/verify');
    expect(form.body).toContain('name="code"');
    w.clock.advance(30_000);
    expect((await b.post('/portal/verify', { _csrf: csrfOf(form.body), code: totpAt(secret, w.clock.now()) })).headers.location).toBe('/portal/account');
  });

  it('sign in with a backup code once, and make new codes only after a fresh code', async () => {
    await localUser('alice');
    const b = new InjectBrowser(w.app);
    const secret = await enroll(b, 'alice');
    const codes = lastBackupCodes;
    expect((await w.core.methods.list('alice')).find((m) => m.type === 'backup')?.remaining).toBe(10);
    await b.post('/portal/sign-out', { _csrf: csrfOf((await b.get('/portal/account')).body) });
    await signIn(b, 'alice');
    const verify = await b.get('/portal/verify');
    expect(verify.body).toContain('Enter one of your backup codes instead.');
    const ok = await b.post('/portal/verify', { _csrf: csrfOf(verify.body), code: codes[3] as string });
    expect(ok.headers.location).toBe('/portal/account');
    const account = await b.get('/portal/account');
    expect(account.body).toContain('9 of 10 backup codes left.');
    // The same code again: refused.
    await b.post('/portal/sign-out', { _csrf: csrfOf(account.body) });
    await signIn(b, 'alice');
    const again = await b.post('/portal/verify', { _csrf: csrfOf((await b.get('/portal/verify')).body), code: codes[3] as string });
    expect(again.statusCode).toBe(401);
    // New codes: a fresh code first, then the new set replaces the old one.
    w.clock.advance(30_000);
    const second = await b.post('/portal/verify', { _csrf: csrfOf(again.body), code: totpAt(secret, w.clock.now()) });
    expect(second.headers.location).toBe('/portal/account');
    w.clock.advance(400_000);
    const page = await b.get('/portal/account');
    expect((await b.post('/portal/backup-codes', { _csrf: csrfOf(page.body) })).headers.location).toBe('/portal/reauth');
    const reauth = await b.get('/portal/reauth');
    const fresh = await b.post('/portal/reauth', { _csrf: csrfOf(reauth.body), code: totpAt(secret, w.clock.now()) });
    expect(fresh.statusCode).toBe(200);
    const newCodes = [...fresh.body.matchAll(/<li><code>([0-9]{5}-[0-9]{5})<\/code><\/li>/g)].map((m) => m[1]);
    expect(newCodes).toHaveLength(10);
    expect(newCodes).not.toContain(codes[0]);
    expect((await w.core.authentications.create({ username: 'alice', passcode: codes[0] as string }, cliActor)).view.state).toBe('denied');
  });

  it('speak French from Accept-Language, ?lang= or the user setting', async () => {
    const fr = new InjectBrowser(w.app, { 'accept-language': 'fr-CA,fr;q=0.9,en;q=0.5' });
    const page = await fr.get('/portal/sign-in');
    expect(page.body).toContain('<html lang="fr">');
    expect(page.body).toContain('<label for="password">Mot de passe</label>');
    const en = await new InjectBrowser(w.app, { 'accept-language': 'fr' }).get('/portal/sign-in?lang=en');
    expect(en.body).toContain('<html lang="en">');
    await localUser('alice');
    const b = new InjectBrowser(w.app);
    await enroll(b, 'alice');
    const account = await b.get('/portal/account');
    await b.post('/portal/account/language', { _csrf: csrfOf(account.body), language: 'fr' });
    expect((await w.core.users.get('alice')).language).toBe('fr');
    expect((await b.get('/portal/account')).body).toContain('Votre compte');
  });
});

describe('phone verification in the portal', () => {
  it('texts a code through the SMS provider, verifies the phone with it, and a new number needs a new code', async () => {
    const twin = await startTwilioTwin();
    const sms = createTwilioSender({ accountSid: twin.accountSid, authToken: twin.authToken, from: '+15005550006', baseUrl: twin.url });
    const web = await startWebApp({ sms });
    const saved = w;
    w = web;
    try {
      await localUser('alice');
      const b = new InjectBrowser(web.app);
      await enroll(b, 'alice');
      let page = await b.get('/portal/account');
      expect(page.body).not.toContain('id="phone-check"');
      const csrf = csrfOf(page.body);
      await b.post('/portal/account/phones', { _csrf: csrf, phoneNumber: '+1 415 555 0100', backupNumber: '+44 20 7183 8750' });
      page = await b.get('/portal/account');
      expect(page.body).toContain('action="/portal/phones/phone/send"');
      expect(page.body).toContain('action="/portal/phones/backupPhone/send"');
      expect(page.body).not.toContain('action="/portal/phones/phone/confirm"');

      // Send: the text reaches the provider; the page now asks for the code.
      expect((await b.post('/portal/phones/phone/send', { _csrf: 'forged' })).statusCode).toBe(403);
      expect((await b.post('/portal/phones/fax/send', { _csrf: csrf })).headers.location).toBe('/portal/account?notice=error.generic');
      const sent = await b.post('/portal/phones/phone/send', { _csrf: csrf });
      expect(sent.headers.location).toBe('/portal/account?notice=account.codeSent');
      expect(twin.messages).toHaveLength(1);
      expect(twin.messages[0]).toMatchObject({ to: '+14155550100', from: '+15005550006' });
      const code = /^Countersign: your code to verify this phone is ([0-9]{6})$/.exec(twin.messages[0]?.body ?? '')?.[1] ?? '';
      expect(code).toMatch(/^[0-9]{6}$/);
      expect((await b.post('/portal/phones/phone/send', { _csrf: csrf })).headers.location).toBe('/portal/account?notice=account.phoneTooSoon');
      page = await b.get('/portal/account?notice=account.codeSent');
      expect(page.body).toContain('A code is on its way by text message.');
      expect(page.body).toContain('action="/portal/phones/phone/confirm"');

      // A wrong code is refused; the right one verifies the phone.
      const bad = await b.post('/portal/phones/phone/confirm', { _csrf: csrf, code: code === '000000' ? '111111' : '000000' });
      expect(bad.headers.location).toBe('/portal/account?notice=account.phoneCodeFailed');
      expect((await b.get('/portal/account?notice=account.phoneCodeFailed')).body).toMatch(/<p class="notice bad"[^>]*>That code did not work\./);
      expect((await web.core.users.get('alice')).phoneVerifiedAt).toBeNull();
      const ok = await b.post('/portal/phones/phone/confirm', { _csrf: csrf, code });
      expect(ok.headers.location).toBe('/portal/account?notice=account.phoneVerified');
      page = await b.get('/portal/account');
      const primary = /<li id="phone-check-phone">([\s\S]*?)<\/li>/.exec(page.body)?.[1] ?? '';
      expect(primary).toContain('Verified');
      expect(primary).not.toContain('/send');
      expect(page.body).not.toContain('action="/portal/phones/phone/confirm"');
      expect((await web.core.users.get('alice')).phoneVerifiedAt).toBe(web.clock.now());
      // Used once.
      expect((await b.post('/portal/phones/phone/confirm', { _csrf: csrf, code })).headers.location).toBe('/portal/account?notice=account.phoneCodeFailed');

      // Saving the same number keeps the verification; a new number clears it.
      await b.post('/portal/account/phones', { _csrf: csrf, phoneNumber: '+1 415 555 0100', backupNumber: '+44 20 7183 8750' });
      expect((await web.core.users.get('alice')).phoneVerifiedAt).not.toBeNull();
      await b.post('/portal/account/phones', { _csrf: csrf, phoneNumber: '+1 415 555 0199', backupNumber: '+44 20 7183 8750' });
      expect((await web.core.users.get('alice')).phoneVerifiedAt).toBeNull();
      page = await b.get('/portal/account');
      expect(/<li id="phone-check-phone">([\s\S]*?)<\/li>/.exec(page.body)?.[1]).toContain('Not verified');
      expect(page.body).toContain('action="/portal/phones/phone/send"');

      const events = await web.core.audit.query({ username: 'alice', kind: 'admin', limit: 20 });
      expect(events.filter((e) => e.action.startsWith('user.phone.')).map((e) => [e.action, e.result])).toEqual([
        ['user.phone.verified', 'failure'],
        ['user.phone.verified', 'success'],
        ['user.phone.verified', 'failure'],
        ['user.phone.code_sent', 'success'],
      ]);
    } finally {
      w = saved;
      await web.close();
      await twin.close();
    }
  });

  it('says so when the provider refuses the message, and offers no code without a provider', async () => {
    const twin = await startTwilioTwin();
    const sms = createTwilioSender({ accountSid: twin.accountSid, authToken: 'not-the-token', from: '+15005550006', baseUrl: twin.url });
    const web = await startWebApp({ sms });
    const saved = w;
    w = web;
    try {
      await localUser('alice');
      const b = new InjectBrowser(web.app);
      await enroll(b, 'alice');
      const csrf = csrfOf((await b.get('/portal/account')).body);
      await b.post('/portal/account/phones', { _csrf: csrf, phoneNumber: '+1 415 555 0100' });
      const refused = await b.post('/portal/phones/phone/send', { _csrf: csrf });
      expect(refused.headers.location).toBe('/portal/account?notice=account.phoneSendFailed');
      expect((await b.get('/portal/account?notice=account.phoneSendFailed')).body).toContain('The text message could not be sent.');
      expect(twin.messages).toHaveLength(0);
    } finally {
      w = saved;
      await web.close();
      await twin.close();
    }

    // The suite's app has no SMS provider: phones show their state, with no button.
    await localUser('bob');
    const b = new InjectBrowser(w.app);
    await enroll(b, 'bob');
    const csrf = csrfOf((await b.get('/portal/account')).body);
    await b.post('/portal/account/phones', { _csrf: csrf, phoneNumber: '+1 415 555 0100' });
    const page = await b.get('/portal/account');
    expect(page.body).toContain('Text messages are not set up on this server');
    expect(page.body).toContain('Not verified');
    expect(page.body).not.toContain('/portal/phones/phone/send');
    expect((await b.post('/portal/phones/phone/send', { _csrf: csrf })).headers.location).toBe('/portal/account?notice=error.forbidden');
  });
});
