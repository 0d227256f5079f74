/**
 * The web gateway's sign-in in a real browser (Debian Chromium): a protected site behind real
 * nginx (HTTPS, auth_request), sign-in with password and a TOTP code, the identity reaching the
 * application, and sign-out ending the session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpAt } from '../http/helpers.ts';
import { checkAccessibility, formatViolations, launchBrowser, newContext, screenshot, type Browser, type Page } from '../support/browser.ts';
import { startGatewayStack, STACK_PASSWORD, type GatewayStack } from '../support/gateway-stack.ts';
import { selfSignedCertificate } from '../../src/cli/init.ts';
import { startProxy } from '../../src/doors/http/gateway/proxy.ts';
import { hmacHasher } from '../../src/platform/hashing.ts';
import { cliActor, createTestCore } from '../support/harness.ts';
import { nginxAvailable } from '../support/nginx.ts';
import { freeTcpPort } from '../support/ports.ts';
import { testFirstFactor } from '../support/web-app.ts';
import { startProtectedApp } from '../support/protected-app.ts';

let stack: GatewayStack;
let browser: Browser;

async function expectAccessible(page: Page): Promise<void> {
  const violations = await checkAccessibility(page);
  expect(violations, formatViolations(violations)).toEqual([]);
}

describe('built-in proxy form login in Chromium', () => {
  it('holds the application login for a code, then the application signs the user in', async () => {
    const tc = await createTestCore();
    const app = await startProtectedApp();
    const port = await freeTcpPort();
    const origin = `https://127.0.0.1:${port}`;
    await tc.core.users.create({ username: 'alice' }, cliActor);
    const secret = (await tc.core.methods.enrollTotp('alice', {}, cliActor)).secret;
    const proxy = await startProxy({
      core: tc.core,
      firstFactor: testFirstFactor(tc),
      clock: tc.clock,
      keyedHasher: hmacHasher(tc.keyring.pepper),
      site: { name: 'intranet', application: 'default', origins: [origin], publicPaths: [], deniedNetworks: [], cacheSeconds: 900 },
      proxy: { host: '127.0.0.1', port, upstream: app.url, mode: 'form', form: { loginPath: '/login', checkFirstFactor: false } },
      proxies: [],
      https: await selfSignedCertificate(),
    });
    const own = await launchBrowser();
    const context = await newContext(own);
    const page = await context.newPage();
    try {
      await page.goto(`${origin}/login`);
      await page.locator('input[name="username"]').fill('alice');
      await page.locator('input[name="password"]').fill('app-password');
      await page.locator('form button, form input[type="submit"]').first().click();
      // The application's login waits for the second factor on Countersign's page, on the same origin.
      await expect.poll(() => page.getByLabel('Verification code').isVisible()).toBe(true);
      expect(page.url()).toContain(`${origin}/gateway/sign-in?rd=`);
      expect(app.requests.filter((r) => r.method === 'POST')).toEqual([]);
      await expectAccessible(page);
      await screenshot(page, 'gateway-form-code');
      tc.clock.advance(30_000);
      await page.getByLabel('Verification code').fill(totpAt(secret, tc.clock.now()));
      await page.getByRole('button', { name: 'Verify' }).click();
      // The held login reaches the application; its own session cookie signs the user in.
      await page.waitForURL(`${origin}/`);
      const echo = JSON.parse((await page.locator('body').textContent()) ?? '{}') as { sessionUser: string | null };
      expect(echo.sessionUser).toBe('alice');
      expect(app.requests.filter((r) => r.method === 'POST').map((r) => r.body)).toEqual(['domain=EXAMPLE&username=alice&password=app-password']);
    } finally {
      await context.close();
      await own.close();
      await proxy.close();
      await app.stop();
      await tc.close();
    }
  });
});

describe.skipIf(!nginxAvailable())('gateway sign-in in Chromium', () => {
  beforeAll(async () => {
    [stack, browser] = await Promise.all([startGatewayStack({ tls: true }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('signs in to a protected site with a password and a code, and signs out everywhere', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    try {
      await page.goto(`${stack.origin}/admin/reports?year=2026`);
      await page.waitForURL('**/gateway/sign-in?rd=*');
      expect(await page.getByRole('heading', { name: 'Sign in to wiki' }).isVisible()).toBe(true);
      await expectAccessible(page);
      await screenshot(page, 'gateway-sign-in');
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill(STACK_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.getByLabel('Verification code').isVisible()).toBe(true);
      await expectAccessible(page);
      await screenshot(page, 'gateway-verify');
      stack.tc.clock.advance(30_000);
      await page.getByLabel('Verification code').fill(totpAt(stack.secret, stack.tc.clock.now()));
      await page.getByRole('button', { name: 'Verify' }).click();
      // Back where the user was going, with the identity set by the gateway.
      await page.waitForURL(`${stack.origin}/admin/reports?year=2026`);
      const echo = JSON.parse((await page.locator('body').textContent()) ?? '{}') as { headers: Record<string, string> };
      expect(echo.headers).toMatchObject({ 'remote-user': 'alice', 'remote-email': 'alice@example.com' });
      const cookies = await context.cookies(stack.origin);
      expect(cookies.find((c) => c.name === '__Host-cs_gateway')).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Lax', path: '/' });

      await page.goto(`${stack.origin}/gateway/sign-out`);
      await page.getByRole('button', { name: 'Sign out everywhere' }).click();
      await expect.poll(() => page.getByText('You have signed out of every site.').isVisible()).toBe(true);
      await page.goto(`${stack.origin}/admin`);
      await page.waitForURL('**/gateway/sign-in?rd=*');
    } finally {
      await context.close();
    }
  });
});
