/**
 * Countersign Authenticator (the push method's web app, /mobile/app/) in a real browser (Debian
 * Chromium, phone-sized) against the HTTP door listening on loopback HTTPS, over a real core and
 * store: activation from the portal's link, then sign-in requests approved with the number,
 * approved with a wrong number, denied, and reported as fraud. The app signs its requests with the
 * time of the server's clock, which the core checks against its own: the test core's fake clock is
 * set to the wall clock before each step.
 */
import { createECDH } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpApp } from '../../src/doors/http/app.ts';
import { APP_CSP } from '../../src/doors/http/mobile/app.ts';
import { cliActor, createTestCore } from '../support/harness.ts';
import { checkAccessibility, formatViolations, launchBrowser, newContext, screenshot, type Browser, type BrowserContext, type Page } from '../support/browser.ts';
import { startWebApp, testHttpAppOptions, type WebApp } from '../support/web-app.ts';
import { attribute, radclient } from '../support/radclient.ts';
import { loopbackClient, startTestRadius } from '../support/radius-server.ts';

let w: WebApp;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [w, browser] = await Promise.all([startWebApp({ listen: true }), launchBrowser()]);
  w.clock.set(Date.now());
  await w.core.applications.create({ name: 'vpn' }, cliActor);
});
afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser.close();
  await w.close();
});

/** Answers cross the network and the app's polling: allow for a loaded machine. */
const wait = { timeout: 10_000 };

const syncClock = (): void => w.clock.set(Date.now());

async function expectAccessible(page: Page): Promise<void> {
  const violations = await checkAccessibility(page);
  expect(violations, formatViolations(violations)).toEqual([]);
}

/** A phone-sized page that fails the test on any Content-Security-Policy violation or script error. */
async function phonePage(locale = 'en-US'): Promise<{ page: Page; problems: string[] }> {
  const context = await newContext(browser, { viewport: 'phone', locale });
  contexts.push(context);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  return { page, problems };
}

/** Starts a push sign-in for `username`; resolves with its id and the number shown at sign-in. */
async function signIn(username: string): Promise<{ id: string; match: number }> {
  syncClock();
  const outcome = await w.core.authentications.create({ username, application: 'vpn', method: 'push', clientIp: '203.0.113.7' }, cliActor);
  expect(outcome.view.state).toBe('pending');
  expect(outcome.match).toEqual(expect.any(Number));
  return { id: outcome.view.id, match: outcome.match as number };
}

/** The state of authentication `id` and the reason the audit trail gives for it. */
async function outcomeOf(id: string): Promise<{ state: string; reason: string | null | undefined }> {
  const events = await w.core.audit.query({ username: 'mona', limit: 100 });
  return { state: (await w.core.authentications.get(id)).state, reason: events.find((e) => e.authenticationId === id && e.kind === 'authentication')?.reason };
}

/** The request's card once the app has fetched it (it polls every 2 seconds). */
async function requestCard(page: Page, id: string) {
  const card = page.getByRole('article', { name: 'Sign-in to vpn' });
  await expect.poll(() => card.count(), wait).toBe(1);
  expect(await card.getAttribute('aria-labelledby')).toBe(`r-${id}-title`);
  return card;
}

describe('Countersign Authenticator in Chromium', () => {
  it('is served with its policy, manifest and service worker', async () => {
    const { page } = await phonePage();
    const index = await page.request.get(`${w.url}/mobile/app/`);
    expect(index.status()).toBe(200);
    expect(index.headers()['content-type']).toMatch(/^text\/html/);
    expect(index.headers()['content-security-policy']).toBe(APP_CSP);
    expect(index.headers()['cache-control']).toBe('no-cache');
    const html = await index.text();
    expect(html).not.toMatch(/<script>|<style|style=/);
    const asset = /src="(\/mobile\/app\/assets\/[^"]+\.js)"/.exec(html)?.[1] as string;
    expect((await page.request.get(`${w.url}${asset}`)).headers()['cache-control']).toBe('public, max-age=31536000, immutable');

    const sw = await page.request.get(`${w.url}/mobile/app/sw.js`);
    expect(sw.status()).toBe(200);
    expect(sw.headers()['content-type']).toBe('text/javascript; charset=utf-8');
    expect(sw.headers()['cache-control']).toBe('no-cache');
    // The browser accepts Brotli: the build's .br form is sent, with the worker's own type.
    expect(sw.headers()['content-encoding']).toBe('br');

    const manifest = await page.request.get(`${w.url}/mobile/app/manifest.webmanifest`);
    expect(manifest.headers()['content-type']).toMatch(/^application\/manifest\+json/);
    expect(await manifest.json()).toMatchObject({ name: 'Countersign Authenticator', short_name: 'Countersign', start_url: '/mobile/app/', scope: '/mobile/app/', display: 'standalone', icons: [{ type: 'image/svg+xml' }] });
    expect((await page.request.get(`${w.url}/mobile/app/icon.svg`)).headers()['content-type']).toBe('image/svg+xml');

    const bare = await page.request.get(`${w.url}/mobile/app?x=1`, { maxRedirects: 0 });
    expect(bare.status()).toBe(308);
    expect(bare.headers()['location']).toBe('/mobile/app/?x=1');
    expect((await page.request.get(`${w.url}/mobile/app/missing.js`)).status()).toBe(404);
  });

  it('activates from the link, then approves with the number, denies a wrong number, denies, and reports fraud', async () => {
    await w.core.users.create({ username: 'mona', displayName: 'Mona Mobile' }, cliActor);
    syncClock();
    const { activationCode } = await w.core.devices.startActivation('mona', cliActor);
    const { page, problems } = await phonePage();

    // Activation: the code comes from the fragment, which leaves the address bar.
    await page.goto(`${w.url}/mobile/app/#activate=${activationCode}`);
    await expect.poll(() => page.getByRole('heading', { name: 'Activate this device' }).isVisible(), wait).toBe(true);
    expect(page.url()).toBe(`${w.url}/mobile/app/`);
    expect(await page.getByLabel('Activation code').inputValue()).toBe(activationCode);
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('name');
    await expectAccessible(page);
    // A device name is required.
    await page.getByRole('button', { name: 'Activate' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), wait).toBe('Enter a name for this device.');
    await page.getByLabel('Device name').fill('Mona’s phone');
    await page.getByRole('button', { name: 'Activate' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Activated for mona' }).isVisible(), wait).toBe(true);
    await expect.poll(() => page.getByText('No sign-in request is waiting.').isVisible(), wait).toBe(true);
    expect(await page.getByText('This device: Mona’s phone').isVisible()).toBe(true);
    // No VAPID key on this server: no notifications offered.
    expect(await page.getByRole('button', { name: 'Turn on notifications' }).count()).toBe(0);
    await expectAccessible(page);

    // The key is a non-extractable P-256 private key in IndexedDB, with the device id.
    // (Browser code as text: the test project has no DOM types.)
    const stored = await page.evaluate(`new Promise((resolve, reject) => {
      const open = indexedDB.open('countersign-authenticator');
      open.onerror = () => reject(new Error('no database'));
      open.onsuccess = () => {
        const get = open.result.transaction('device').objectStore('device').get('current');
        get.onsuccess = () => {
          const d = get.result;
          resolve({ deviceId: d.deviceId, extractable: d.privateKey.extractable, type: d.privateKey.type, curve: d.privateKey.algorithm.namedCurve });
        };
      };
    })`);
    expect(stored).toEqual({ deviceId: activationCode.split('.')[0], extractable: false, type: 'private', curve: 'P-256' });
    const methods = await w.core.methods.list('mona');
    expect(methods.find((m) => m.type === 'push')).toMatchObject({ label: 'Mona’s phone' });

    // Approve with the number shown at sign-in.
    const first = await signIn('mona');
    let card = await requestCard(page, first.id);
    expect(await card.getByText('From 203.0.113.7').isVisible()).toBe(true);
    expect(await card.getByText(/^Time left: \d:\d\d$/).isVisible()).toBe(true);
    expect(await card.getByText('Select the number shown where you are signing in').isVisible()).toBe(true);
    const numbers = (await card.getByRole('group').getByRole('button').allTextContents()).map(Number);
    expect(numbers).toHaveLength(3);
    expect(numbers).toContain(first.match);
    await expectAccessible(page);
    await screenshot(page, 'mobile-app-request');
    await card.getByRole('button', { name: String(first.match), exact: true }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Approved' }).isVisible(), wait).toBe(true);
    expect(await outcomeOf(first.id)).toEqual({ state: 'approved', reason: 'out_of_band_ok' });
    expect(await page.getByRole('article').count()).toBe(0);

    // A wrong number denies the sign-in.
    const second = await signIn('mona');
    card = await requestCard(page, second.id);
    const wrong = (await card.getByRole('group').getByRole('button').allTextContents()).find((n) => Number(n) !== second.match) as string;
    await card.getByRole('button', { name: wrong, exact: true }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Denied' }).isVisible(), wait).toBe(true);
    // The card goes once the server has answered (the result line may still read as the last one).
    await expect.poll(() => page.getByRole('article').count(), wait).toBe(0);
    expect(await outcomeOf(second.id)).toEqual({ state: 'denied', reason: 'number_mismatch' });

    // Deny.
    const third = await signIn('mona');
    card = await requestCard(page, third.id);
    await card.getByRole('button', { name: 'Deny' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Denied' }).textContent(), wait).toBe('DeniedThe sign-in to vpn was refused.');
    // The card goes once the server has answered (the result line may still read as the last one).
    await expect.poll(() => page.getByRole('article').count(), wait).toBe(0);
    expect(await outcomeOf(third.id)).toEqual({ state: 'denied', reason: 'out_of_band_declined' });

    // Not me: a confirmation first; cancelling keeps the request.
    const fourth = await signIn('mona');
    card = await requestCard(page, fourth.id);
    await card.getByRole('button', { name: 'Not me — report fraud' }).click();
    expect(await card.getByRole('button', { name: 'Report fraud', exact: true }).isVisible()).toBe(true);
    await expectAccessible(page);
    await card.getByRole('button', { name: 'Cancel' }).click();
    expect(await card.getByRole('button', { name: 'Report fraud', exact: true }).isVisible()).toBe(false);
    expect((await w.core.authentications.get(fourth.id)).state).toBe('pending');
    await card.getByRole('button', { name: 'Not me — report fraud' }).click();
    await card.getByRole('button', { name: 'Report fraud', exact: true }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'reported as fraud' }).isVisible(), wait).toBe(true);
    expect(await outcomeOf(fourth.id)).toEqual({ state: 'denied', reason: 'fraud_reported' });
    expect((await w.core.users.get('mona')).state).toBe('blocked');
    expect(problems).toEqual([]);

    // Removing the device from the app forgets its key.
    await page.getByRole('button', { name: 'Remove this device from the app' }).click();
    await page.getByRole('button', { name: 'Remove', exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Activate this device' }).isVisible(), wait).toBe(true);
    expect(await page.getByText('The device was removed from the app.').isVisible()).toBe(true);
    await page.reload();
    await expect.poll(() => page.getByRole('heading', { name: 'Activate this device' }).isVisible(), wait).toBe(true);
    expect(problems).toEqual([]);
  });

  it('approves a VPN sign-in: radclient gets the number in its Access-Challenge, the app picks it, the held answer is accepted', async () => {
    await w.core.users.create({ username: 'vera' }, cliActor);
    await w.core.users.setPassword('vera', 'Vera-vpn-password-1', cliActor);
    await w.core.users.update('vera', { defaultMethod: 'push' }, cliActor);
    syncClock();
    const { activationCode } = await w.core.devices.startActivation('vera', cliActor);
    const { page, problems } = await phonePage();
    await page.goto(`${w.url}/mobile/app/#activate=${activationCode}`);
    await page.getByLabel('Device name').fill('Vera’s phone');
    await page.getByRole('button', { name: 'Activate' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Activated for vera' }).isVisible(), wait).toBe(true);

    const secret = 'a-long-shared-secret-for-the-vpn';
    const { server, port } = await startTestRadius(w.tc, [loopbackClient(secret)]);
    try {
      syncClock();
      const first = await radclient({ port, secret, attributes: [['User-Name', 'vera'], ['User-Password', 'Vera-vpn-password-1']] });
      expect(first.code).toBe('Access-Challenge');
      const match = /select (\d\d), then press Enter/.exec(attribute(first, 'Reply-Message') ?? '')?.[1] as string;
      expect(match).toMatch(/^\d\d$/);
      // The user presses Enter on the VPN client (an empty answer): held until the app answers.
      const held = radclient({ port, secret, timeout: 15, attributes: [['User-Name', 'vera'], ['User-Password', ''], ['State', attribute(first, 'State') as string]] });
      const card = page.getByRole('article', { name: 'Sign-in to vpn' });
      await expect.poll(() => card.count(), wait).toBe(1);
      syncClock();
      await card.getByRole('button', { name: match, exact: true }).click();
      expect((await held).code).toBe('Access-Accept');
      expect(problems).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('reports a used activation code, and speaks French to a French browser', async () => {
    await w.core.users.create({ username: 'lea' }, cliActor);
    syncClock();
    const { activationCode } = await w.core.devices.startActivation('lea', cliActor);
    const { page, problems } = await phonePage('fr-FR');
    await page.goto(`${w.url}/mobile/app/#activate=${activationCode}x`);
    await expect.poll(() => page.getByRole('heading', { name: 'Activer cet appareil' }).isVisible(), wait).toBe(true);
    expect(await page.getAttribute('html', 'lang')).toBe('fr');
    await page.getByLabel('Nom de l’appareil').fill('Téléphone de Léa');
    await page.getByRole('button', { name: 'Activer' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), wait).toMatch(/^Ce code d’activation n’est pas valide/);
    await expectAccessible(page);
    await page.getByLabel('Code d’activation').fill(activationCode);
    await page.getByRole('button', { name: 'Activer' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Activé pour lea' }).isVisible(), wait).toBe(true);
    const request = await signIn('lea');
    const card = page.getByRole('article', { name: 'Connexion à vpn' });
    await expect.poll(() => card.count(), wait).toBe(1);
    expect(await card.getByText('Sélectionnez le nombre affiché là où vous vous connectez').isVisible()).toBe(true);
    await expectAccessible(page);
    await card.getByRole('button', { name: String(request.match), exact: true }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Approuvée' }).isVisible(), wait).toBe(true);
    expect((await w.core.authentications.get(request.id)).state).toBe('approved');
    expect(problems).toEqual([]);
  });

  it('registers its service worker and offers notifications when the server has a VAPID key; a push message shows a notification', async () => {
    // Plain HTTP on loopback (a secure context): browsers register no service worker over an untrusted certificate.
    const tc = await createTestCore();
    tc.clock.set(Date.now());
    const vapidPublicKey = createECDH('prime256v1').generateKeys().toString('base64url');
    const app = await buildHttpApp({ ...testHttpAppOptions(tc), mobile: { vapidPublicKey } });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address();
      const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      await tc.core.users.create({ username: 'nina' }, cliActor);
      const { activationCode } = await tc.core.devices.startActivation('nina', cliActor);
      const { page, problems } = await phonePage();
      await page.goto(`${base}/mobile/app/#activate=${activationCode}`);
      await page.getByLabel('Device name').fill('Nina’s phone');
      await page.getByRole('button', { name: 'Activate' }).click();
      await expect.poll(() => page.getByRole('heading', { name: 'Activated for nina' }).isVisible(), wait).toBe(true);
      expect(await page.getByRole('button', { name: 'Turn on notifications' }).isVisible()).toBe(true);
      await expectAccessible(page);

      const registration = await page.evaluate('navigator.serviceWorker.ready.then((r) => ({ scope: r.scope, script: r.active && r.active.scriptURL }))');
      expect(registration).toEqual({ scope: `${base}/mobile/app/`, script: `${base}/mobile/app/sw.js` });

      // A push message as the push service delivers it: the worker shows a notification.
      await page.context().grantPermissions(['notifications'], { origin: base });
      const cdp = await page.context().newCDPSession(page);
      // The app's registration, whether its worker is running or stopped after idling (a push message starts it).
      const registrations = new Promise<string>((resolve) => {
        cdp.on('ServiceWorker.workerRegistrationUpdated', (e: { registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] }) => {
          const app = e.registrations.find((r) => r.scopeURL === `${base}/mobile/app/` && !r.isDeleted);
          if (app) resolve(app.registrationId);
        });
      });
      await cdp.send('ServiceWorker.enable');
      const registrationId = await registrations;
      await cdp.send('ServiceWorker.deliverPushMessage', { origin: base, registrationId, data: JSON.stringify({ title: 'Sign-in request', body: 'Someone is signing in to vpn.', authenticationId: 'abc' }) });
      await expect
        .poll(() => page.evaluate('navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((all) => all.map((n) => ({ title: n.title, body: n.body, tag: n.tag })))'))
        .toEqual([{ title: 'Sign-in request', body: 'Someone is signing in to vpn.', tag: 'sign-in-abc' }]);
      await cdp.detach();
      expect(problems).toEqual([]);
    } finally {
      await app.close();
      await tc.close();
    }
  });
});
