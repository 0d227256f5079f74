/**
 * The web gateway's sign-in in a real browser (Debian Chromium): a protected site behind real
 * nginx (HTTPS, auth_request), sign-in with password and a TOTP code, the identity reaching the
 * application, and sign-out ending the session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpAt } from '../http/helpers.ts';
import { checkAccessibility, formatViolations, launchBrowser, newContext, screenshot, type Browser, type Page } from '../support/browser.ts';
import { startGatewayStack, STACK_PASSWORD, type GatewayStack } from '../support/gateway-stack.ts';
import { nginxAvailable } from '../support/nginx.ts';

let stack: GatewayStack;
let browser: Browser;

async function expectAccessible(page: Page): Promise<void> {
  const violations = await checkAccessibility(page);
  expect(violations, formatViolations(violations)).toEqual([]);
}

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
