/**
 * The user portal in a real browser (Debian Chromium) against the HTTP door listening on loopback
 * HTTPS, over a real core and store. The core's clock is a fake one, so codes of later 30-second
 * steps are available without waiting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliActor } from '../support/harness.ts';
import { totpAt } from '../http/helpers.ts';
import { checkAccessibility, formatViolations, launchBrowser, measureTransfer, newContext, screenshot, type Browser, type Page } from '../support/browser.ts';
import { startWebApp, type WebApp } from '../support/web-app.ts';

let w: WebApp;
let browser: Browser;
const PASSWORD = 'correct horse battery';

beforeAll(async () => {
  [w, browser] = await Promise.all([startWebApp({ listen: true }), launchBrowser()]);
});
afterAll(async () => {
  await browser.close();
  await w.close();
});

async function expectAccessible(page: Page): Promise<void> {
  const violations = await checkAccessibility(page);
  expect(violations, formatViolations(violations)).toEqual([]);
}

async function signIn(page: Page, username: string): Promise<void> {
  await page.goto(`${w.url}/portal/sign-in`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect.poll(() => page.url()).toContain('/portal/sign-in');
}

describe('user portal in Chromium', () => {
  it('takes a new user through enrollment, sign-in with a code, PIN and phone changes, a bypass and a fraud report', async () => {
    await w.core.users.create({ username: 'erin', displayName: 'Erin Example', email: 'erin@example.com' }, cliActor);
    await w.core.users.setPassword('erin', PASSWORD, cliActor);
    const context = await newContext(browser);
    const page = await context.newPage();

    // Sign-in page: accessible, usable from the keyboard alone.
    await page.goto(`${w.url}/portal/sign-in`);
    await expectAccessible(page);
    await screenshot(page, 'portal-sign-in');
    // The username field has the focus on arrival; the skip link comes first in the tab order.
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('username');
    const skip = page.getByRole('link', { name: 'Skip to content' });
    await skip.focus();
    expect(await skip.isVisible()).toBe(true);
    await page.keyboard.press('Shift+Tab');
    expect(await page.evaluate('document.activeElement === document.body || document.activeElement === null')).toBe(true);
    await page.getByLabel('Username').focus();
    await page.keyboard.type('erin');
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');

    // First enrollment: the page shows a QR code and the key; the test reads the key like a user typing it into an app.
    await page.waitForURL('**/portal/enroll');
    await expect.poll(() => page.getByRole('img', { name: /QR code/ }).isVisible()).toBe(true);
    await expectAccessible(page);
    await screenshot(page, 'portal-enroll');
    const secret = ((await page.locator('#secret').textContent()) ?? '').replace(/\s/g, '');
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    await page.getByLabel('Enter the 6-digit code').fill(totpAt(secret, w.clock.now()));
    await page.getByRole('button', { name: 'Activate' }).click();
    // Backup codes, shown once.
    await expect.poll(() => page.getByRole('heading', { name: 'Your backup codes' }).isVisible()).toBe(true);
    const codes = (await page.locator('#backup-codes code').allTextContents()).map((c) => c.trim());
    expect(codes).toHaveLength(10);
    await expectAccessible(page);
    await screenshot(page, 'portal-backup-codes');
    await page.getByRole('link', { name: 'I have saved them, continue' }).click();
    await page.waitForURL('**/portal/account?notice=account.setupNext');
    expect(await page.getByRole('status').textContent()).toContain('Your authenticator is active.');
    expect((await w.core.methods.list('erin')).map((m) => [m.type, m.pending]).sort()).toEqual([
      ['backup', false],
      ['totp', false],
    ]);

    // Change the PIN and the phones.
    await page.getByLabel('New PIN', { exact: true }).fill('4821');
    await page.getByLabel('Repeat the new PIN').fill('4821');
    await page.getByRole('button', { name: 'Change PIN' }).click();
    await page.waitForURL('**/portal/account?notice=account.saved');
    expect((await w.core.users.get('erin')).hasPin).toBe(true);
    await page.locator('#phone-country').fill('US');
    await page.locator('#phone-number').fill('(415) 555-0100');
    await page.locator('#phone-ext').fill('42');
    await page.getByRole('button', { name: 'Save phones' }).click();
    await page.waitForURL('**/portal/account?notice=account.saved');
    expect((await w.core.users.get('erin')).phone).toEqual({ number: '+14155550100', country: 'US', extension: '42' });
    expect(await page.locator('#phone-number').inputValue()).toBe('+14155550100');
    await expectAccessible(page);

    // Sign out, and sign in again with a code from the authenticator (the next 30-second step).
    await signOut(page);
    w.clock.advance(30_000);
    await signIn(page, 'erin');
    await page.waitForURL('**/portal/verify');
    await expectAccessible(page);
    await screenshot(page, 'portal-verify');
    await page.getByLabel('Verification code').fill(totpAt(secret, w.clock.now()));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL('**/portal/account');

    // A one-time bypass, once the administrator allows it: the next sign-in needs no code.
    await w.core.settings.update({ portal: { allowBypass: true, bypassSeconds: 300 } }, cliActor);
    await page.reload();
    await page.getByLabel('Valid for (seconds)').fill('120');
    await page.getByRole('button', { name: 'Start bypass' }).click();
    await page.waitForURL('**/portal/account?notice=account.saved');
    expect(await page.getByText(/A bypass is active until/).isVisible()).toBe(true);
    await signOut(page);
    await signIn(page, 'erin');
    await page.waitForURL('**/portal/account');
    expect(await w.core.bypass.get('erin')).toBeNull();
    const [used] = await w.core.audit.query({ username: 'erin', kind: 'authentication', limit: 1 });
    expect(used).toMatchObject({ application: 'portal', result: 'approved', reason: 'bypass' });

    // Someone else signs in with a stolen code from 198.51.100.23: the user reports it.
    w.clock.advance(30_000);
    const stolen = await w.core.authentications.create({ username: 'erin', clientIp: '198.51.100.23', passcode: totpAt(secret, w.clock.now()) }, cliActor);
    expect(stolen.view.state).toBe('approved');
    await page.reload();
    await screenshot(page, 'portal-account');
    const row = page.getByRole('row').filter({ hasText: '198.51.100.23' });
    await row.getByRole('button', { name: /Report the sign-in/ }).click();
    await page.waitForURL('**/portal/fraud?authentication=*');
    await expectAccessible(page);
    await page.getByLabel('What happened (optional)').fill('I was on holiday');
    await page.getByRole('button', { name: 'Report fraud' }).click();
    await expect.poll(() => page.getByText('Your report was sent to your administrator.').isVisible()).toBe(true);
    expect((await w.core.users.get('erin')).state).toBe('blocked');
    const [report] = await w.core.audit.query({ action: 'user.fraud_report', limit: 1 });
    expect(report).toMatchObject({ username: 'erin', reason: 'I was on holiday', details: { authenticationId: stolen.view.id, blocked: true } });
    // The session ended with the block.
    await page.goto(`${w.url}/portal/account`);
    await page.waitForURL('**/portal/sign-in?notice=signIn.expired');
    await context.close();
  });

  it('lets a user choose security questions where offered, and sign in with them instead of a code', async () => {
    await w.core.settings.update({ portal: { enrollMethods: ['totp', 'backup', 'questions'], questionsAsked: 2 } }, cliActor);
    await w.core.users.create({ username: 'quinn', displayName: 'Quinn Example' }, cliActor);
    await w.core.users.setPassword('quinn', PASSWORD, cliActor);
    const context = await newContext(browser);
    const page = await context.newPage();
    try {
      await signIn(page, 'quinn');
      await page.waitForURL('**/portal/enroll');
      const secret = ((await page.locator('#secret').textContent()) ?? '').replace(/\s/g, '');
      await page.getByLabel('Enter the 6-digit code').fill(totpAt(secret, w.clock.now()));
      await page.getByRole('button', { name: 'Activate' }).click();
      await page.getByRole('link', { name: 'I have saved them, continue' }).click();
      await page.waitForURL('**/portal/questions');
      await expectAccessible(page);
      await screenshot(page, 'portal-security-questions');
      const answers: Record<string, string> = { 'first-pet': 'Biscuit', 'birth-city': 'Lyon', 'first-car': 'Renault Clio', 'first-concert': 'Daft Punk' };
      const ids = Object.keys(answers);
      for (const [i, id] of ids.entries()) {
        await page.getByLabel(`Question ${i + 1}`, { exact: true }).selectOption(id);
        await page.getByLabel(`Answer ${i + 1}`, { exact: true }).fill(answers[id] as string);
      }
      await page.getByRole('button', { name: 'Save my questions' }).click();
      await page.waitForURL('**/portal/account?notice=questions.saved');
      await signOut(page);

      await signIn(page, 'quinn');
      await page.waitForURL('**/portal/verify');
      await page.getByRole('link', { name: 'Answer your security questions instead' }).click();
      await page.waitForURL('**/portal/verify/questions');
      await expectAccessible(page);
      const texts: Record<string, string> = {
        'What was the name of your first pet?': 'first-pet',
        'In which city were you born?': 'birth-city',
        'What was the make and model of your first car?': 'first-car',
        'What was the first concert you went to?': 'first-concert',
      };
      const labels = await page.locator('main label').allTextContents();
      expect(labels).toHaveLength(2);
      for (const label of labels) await page.getByLabel(label).fill(answers[texts[label] ?? ''] ?? 'unknown question');
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.waitForURL('**/portal/account');
      const [event] = await w.core.audit.query({ username: 'quinn', kind: 'authentication', limit: 1 });
      expect(event).toMatchObject({ application: 'portal', result: 'approved', method: 'questions' });
    } finally {
      await w.core.settings.update({ portal: { enrollMethods: ['totp', 'backup'] } }, cliActor);
      await context.close();
    }
  });

  it('transfers under 100 KB for the sign-in page and fits a phone screen, in French too', async () => {
    const context = await newContext(browser, { viewport: 'phone', locale: 'fr-FR' });
    const page = await context.newPage();
    const transfer = await measureTransfer(page, `${w.url}/portal/sign-in`);
    expect(transfer.bytes).toBeLessThan(100_000);
    expect(transfer.requests).toBeGreaterThanOrEqual(2);
    expect(await page.locator('html').getAttribute('lang')).toBe('fr');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Connexion');
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await expectAccessible(page);
    await screenshot(page, 'portal-sign-in-phone-fr');
    // The page's own scripts: none, and an injected inline script is refused by the policy.
    expect(await page.locator('script').count()).toBe(0);
    await context.close();
  });
});
