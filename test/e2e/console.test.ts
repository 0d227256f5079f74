/**
 * The admin console in a real browser (Debian Chromium) against the real server: `countersign
 * init` makes the installation, `startServer` runs it on loopback HTTPS, and 20,000 users are in
 * the store. The clock is the real one, so every code is from a 30-second step not used before by
 * the same user (a later step within the TOTP window where one user needs two codes).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import type { Actor, CreateUserInput } from '../../src/core/api.ts';
import { openContext, startServer, type Context, type RunningServer } from '../../src/server.ts';
import { json, removeDir, tempDir } from '../cli/run.ts';
import { totpAt } from '../http/helpers.ts';
import { checkAccessibility, formatViolations, launchBrowser, measureTransfer, newContext, screenshot, type Browser, type Page } from '../support/browser.ts';
import { freeTcpPort } from '../support/ports.ts';

const actor: Actor = { kind: 'cli', name: 'console-e2e', role: 'admin' };
const USERS = 20_000;
const PASSWORD = 'a long console passphrase';
const STEP = 30_000;
const CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

const FIRST = [
  'ava',
  'ben',
  'chloe',
  'dev',
  'ella',
  'finn',
  'grace',
  'hiro',
  'isla',
  'jonas',
  'kira',
  'liam',
  'maya',
  'noah',
  'olga',
  'priya',
  'quinn',
  'rosa',
  'sam',
  'tariq',
  'uma',
  'victor',
  'wren',
  'xavier',
  'yara',
];
const LAST = [
  'adams',
  'baker',
  'chen',
  'diaz',
  'evans',
  'fischer',
  'garcia',
  'haddad',
  'ito',
  'jones',
  'kowalski',
  'lopez',
  'moreau',
  'nguyen',
  'okafor',
  'patel',
  'quist',
  'rossi',
  'silva',
  'tanaka',
];

let dir: string;
let apiKey: string;
let admin: { username: string; password: string };
let ctx: Context;
let server: RunningServer;
let url: string;
let browser: Browser;
/** The last TOTP step each account used: a code is never offered twice. */
const lastStep = new Map<string, number>();

/** A code of the earliest step after the account's last one (at most one step ahead: inside the window). */
function nextCode(account: string, secret: string): string {
  const now = Math.floor(Date.now() / STEP);
  const step = Math.max(now, (lastStep.get(account) ?? -1) + 1);
  if (step > now + 1) throw new Error(`${account} needs a third code within one 30-second step`);
  lastStep.set(account, step);
  return totpAt(secret, step * STEP);
}

/** A six-digit code no nearby step of the secret produces. */
function wrongCode(secret: string): string {
  const near = new Set([-2, -1, 0, 1, 2].map((k) => totpAt(secret, Date.now() + k * STEP)));
  return ['000000', '111111', '222222'].find((c) => !near.has(c)) ?? '333333';
}

function seededUser(i: number): CreateUserInput {
  const first = FIRST[i % FIRST.length] ?? 'x';
  const last = LAST[Math.floor(i / FIRST.length) % LAST.length] ?? 'y';
  const n = Math.floor(i / (FIRST.length * LAST.length));
  const username = `${first}.${last}${n === 0 ? '' : n}`;
  return { username, displayName: `${first[0]?.toUpperCase()}${first.slice(1)} ${last[0]?.toUpperCase()}${last.slice(1)}`, email: `${username}@example.com` };
}

/** GET /api/v1<path> with the installation's API key, trusting only its own certificate. */
async function apiGet<T>(path: string): Promise<T> {
  const ca = await readFile(join(dir, 'tls/cert.pem'));
  const { port } = new URL(url);
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', servername: 'localhost', port, path: `/api/v1${path}`, ca, headers: { authorization: `Bearer ${apiKey}` }, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end();
  });
  expect(status, body).toBe(200);
  return JSON.parse(body) as T;
}

/** Waits for the page to show what is expected (vitest's default of one second is short on a busy machine). */
const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

async function expectAccessible(page: Page): Promise<void> {
  const violations = await checkAccessibility(page);
  expect(violations, formatViolations(violations)).toEqual([]);
}

/** Password, then `code()` on the code page (or the enrollment page: then it gets the key shown). */
async function signIn(page: Page, username: string, password: string, code: (secret?: string) => string): Promise<void> {
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Continue' }).click();
  const field = page.getByLabel(/^Code/);
  await field.waitFor();
  const shown = page.locator('code.secret');
  const secret = (await shown.count()) > 0 ? ((await shown.textContent()) ?? '').replace(/\s/g, '') : undefined;
  await field.fill(code(secret));
  await page.getByRole('button', { name: /Sign in|Confirm and sign in/ }).click();
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
}

beforeAll(async () => {
  dir = await tempDir('console-e2e');
  const init = await json<{ apiKey: string; console?: { username: string; password: string } }>(['init'], { cwd: dir });
  apiKey = init.apiKey;
  const port = await freeTcpPort();
  const config = await loadConfig({
    file: join(dir, 'countersign.yaml'),
    env: { COUNTERSIGN_SERVER_HOST: '127.0.0.1', COUNTERSIGN_SERVER_PORT: String(port) },
  });
  if (!existsSync(join(CONSOLE_DIR, 'index.html'))) {
    // scripts/test builds before the tests; a single run of this file builds the console itself.
    execFileSync(process.execPath, [fileURLToPath(new URL('../../scripts/build.ts', import.meta.url))], { stdio: 'pipe' });
  }

  ctx = await openContext(config);
  const core = ctx.core;
  if (init.console) {
    admin = init.console;
  } else {
    admin = { username: 'admin', password: PASSWORD };
    await core.users.create({ username: admin.username, displayName: 'Administrator' }, actor);
    await core.users.setPassword(admin.username, admin.password, actor);
    await core.users.setConsoleRole(admin.username, 'admin', actor);
  }
  for (let i = 0; i < USERS; i += 1000) {
    const made = await core.users.createMany(
      Array.from({ length: Math.min(1000, USERS - i) }, (_, k) => seededUser(i + k)),
      actor,
    );
    expect(made.filter((m) => m instanceof Error)).toEqual([]);
  }

  [server, browser] = await Promise.all([startServer(config, { handleSignals: false, logger: pino({ level: 'silent' }) }), launchBrowser()]);
  url = server.url;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await ctx?.close();
  if (dir) await removeDir(dir);
});

describe('admin console in Chromium', () => {
  it('signs the administrator in with a second factor, finds, unlocks and bypasses a user among 20,000, changes a setting and exports the audit trail', async () => {
    const core = ctx.core;
    // Sign-ins for the dashboard: approvals on two applications, refusals, and a "not me" report.
    await core.applications.create({ name: 'vpn' }, actor);
    for (const [i, username] of ['ava.adams', 'ben.adams', 'chloe.adams', 'dev.adams', 'ella.adams'].entries()) {
      const { secret } = await core.methods.enrollTotp(username, { label: 'Phone' }, actor);
      const outcome = await core.authentications.create({ username, application: i % 2 ? 'vpn' : 'default', passcode: nextCode(username, secret) }, actor);
      expect(outcome.view.state).toBe('approved');
      await core.authentications.create({ username, application: 'vpn', passcode: wrongCode(secret) }, actor);
    }
    await core.users.reportFraud('ben.adams', { note: 'I did not sign in' }, { kind: 'user', name: 'ben.adams', role: 'self' });

    // The user to find: locked by failed codes.
    await core.users.create(
      { username: 'dana.whitfield', displayName: 'Dana Whitfield', email: 'dana@example.com', phone: { number: '+1 415 555 2671' } },
      actor,
    );
    const dana = await core.methods.enrollTotp('dana.whitfield', { label: 'Work phone' }, actor);
    const { lockout } = await core.settings.get();
    for (let i = 0; i < lockout.threshold; i++) await core.authentications.create({ username: 'dana.whitfield', passcode: wrongCode(dana.secret) }, actor);
    expect((await core.users.get('dana.whitfield')).state).toBe('locked');

    const context = await newContext(browser);
    const page = await context.newPage();

    // First load: everything the sign-in page needs, well under a megabyte.
    const transfer = await measureTransfer(page, `${url}/admin/`);
    expect(transfer.bytes).toBeLessThan(1_000_000);
    await page.getByRole('heading', { level: 1, name: 'Sign in to the console' }).waitFor();
    // Nothing inline: the policy allows scripts and styles from the origin only.
    expect(await page.locator('script:not([src]), style').count()).toBe(0);
    await expectAccessible(page);
    await screenshot(page, 'console-sign-in');

    // A wrong password reads like every other refusal.
    await page.getByLabel('User name').fill(admin.username);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Continue' }).click();
    expect(await page.getByRole('alert').textContent()).toBe('Sign-in failed. Check your details and try again.');

    // First sign-in: the administrator sets up an authenticator from the key the page shows.
    let adminSecret = '';
    await signIn(page, admin.username, admin.password, (secret) => {
      expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
      adminSecret = secret ?? '';
      return nextCode(admin.username, adminSecret);
    });
    // Signed out and in again with the code of a later step.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in to the console' }).waitFor();
    await signIn(page, admin.username, admin.password, (secret) => {
      expect(secret).toBeUndefined();
      return nextCode(admin.username, adminSecret);
    });

    // Dashboard: users by state, the chart, the breakdowns, the fraud report and the server.
    await page.locator('.chart canvas').first().waitFor();
    const stat = (label: string) =>
      page
        .locator('.stat')
        .filter({ has: page.locator('.stat-label', { hasText: new RegExp(`^${label}$`) }) })
        .locator('.stat-value');
    expect(await stat('Locked').textContent()).toBe('1');
    expect(await stat('Blocked').textContent()).toBe('1');
    expect(await stat('Users').textContent()).toBe((USERS + 2).toLocaleString('en-US'));
    await poll(() => page.locator('.fraud').textContent()).toContain('ben.adams');
    // Five approvals and fifteen refusals above, and the administrator's own sign-ins.
    const [approved = 0, denied = 0] =
      ((await page.locator('.totals').textContent()) ?? '').match(/[\d,]+(?= (approved|denied))/g)?.map((n) => Number(n.replace(/,/g, ''))) ?? [];
    expect(approved).toBeGreaterThanOrEqual(5);
    expect(denied).toBeGreaterThanOrEqual(15);
    expect(await page.getByRole('region', { name: 'By application' }).getByRole('row', { name: /vpn/ }).count()).toBe(1);
    await expectAccessible(page);
    await screenshot(page, 'console-dashboard');
    await page.getByRole('button', { name: 'Last 30 days' }).click();
    await poll(() => page.getByRole('button', { name: 'Last 30 days' }).getAttribute('aria-pressed')).toBe('true');
    await page.locator('.chart canvas').first().waitFor();

    // Users: pages of 50 by username, then a search finds one among 20,000.
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Users' }).click();
    const rows = page.locator('table.list tbody tr');
    await poll(() => rows.count()).toBe(50);
    const firstPage = await rows.first().textContent();
    await page.getByRole('button', { name: 'Next →' }).click();
    await poll(() => page.getByText('Page 2', { exact: true }).isVisible()).toBe(true);
    await poll(() => rows.first().textContent()).not.toBe(firstPage);
    await page.getByRole('button', { name: '← Previous' }).click();
    await poll(() => rows.first().textContent()).toBe(firstPage);
    await expectAccessible(page);
    await screenshot(page, 'console-users');
    const searched = Date.now();
    await page.getByLabel('Search').fill('whitfield');
    await poll(() => rows.count()).toBe(1);
    expect(Date.now() - searched).toBeLessThan(5000);
    expect(await rows.first().textContent()).toContain('Locked');
    await page.getByRole('link', { name: 'dana.whitfield' }).click();

    // The user's page: unlock, then a one-time bypass.
    await page.getByRole('heading', { level: 1, name: /Dana Whitfield/ }).waitFor();
    await page.getByRole('button', { name: 'Unlock' }).click();
    await poll(() => page.getByRole('status').filter({ hasText: 'User unlocked.' }).count()).toBe(1);
    expect((await core.users.get('dana.whitfield')).state).toBe('enabled');
    await page.getByLabel('Lifetime (seconds)').fill('600');
    await page.getByLabel('Reason', { exact: true }).fill('lost phone, ticket 4711');
    await page.getByRole('button', { name: 'Issue bypass' }).click();
    await poll(() => page.getByRole('status').filter({ hasText: 'Bypass issued for 10 min.' }).count()).toBe(1);
    const bypass = await core.bypass.get('dana.whitfield');
    expect(bypass).toMatchObject({ reason: 'lost phone, ticket 4711', createdBy: expect.stringContaining(admin.username) });
    expect((bypass?.expiresAt ?? 0) - (bypass?.createdAt ?? 0)).toBe(600_000);
    // The history and the audit trail show both.
    await poll(() => page.getByRole('table', { name: /Audit trail of dana.whitfield/ }).textContent()).toContain('bypass.issue');
    expect(await page.getByRole('table', { name: 'History of dana.whitfield' }).textContent()).toContain('user.unlock');
    expect(await page.getByRole('row').filter({ hasText: 'Work phone' }).count()).toBe(1);
    // RADIUS reply attributes: a name the dictionary does not know is refused, then saved.
    const replies = page.getByLabel('One Name=Value per line');
    await replies.fill('Class=vpn-admins\nVlan=12');
    await page.getByRole('button', { name: 'Save attributes' }).click();
    await poll(() => page.getByRole('alert').filter({ hasText: 'unknown attribute "Vlan"' }).count()).toBe(1);
    await replies.fill('Class=vpn-admins\nFramed-IP-Address=10.8.0.12');
    await page.getByRole('button', { name: 'Save attributes' }).click();
    await poll(() => page.getByRole('status').filter({ hasText: 'Reply attributes saved.' }).count()).toBe(1);
    expect((await core.users.get('dana.whitfield')).replyAttributes).toEqual([
      { name: 'Class', value: 'vpn-admins' },
      { name: 'Framed-IP-Address', value: '10.8.0.12' },
    ]);
    await expectAccessible(page);
    await screenshot(page, 'console-user');

    // Settings: only the changed field is sent, and the server keeps it.
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Settings' }).click();
    const threshold = page.getByLabel('Failures before locking');
    await poll(() => threshold.inputValue()).toBe(String(lockout.threshold));
    await threshold.fill('7');
    await page.getByLabel('Start a one-time bypass').check();
    await page.getByLabel('Keep audit events (days)').fill('730');
    const [patch] = await Promise.all([
      page.waitForRequest((r) => r.url().endsWith('/api/v1/settings') && r.method() === 'PATCH'),
      page.getByRole('button', { name: 'Save settings' }).click(),
    ]);
    expect(patch.postDataJSON()).toEqual({ lockout: { threshold: 7 }, portal: { allowBypass: true }, retention: { auditDays: 730 } });
    await poll(() => page.getByRole('status').filter({ hasText: 'Settings saved.' }).count()).toBe(1);
    const saved = await apiGet<{
      lockout: { threshold: number; autoUnlockSeconds: number };
      portal: { allowBypass: boolean; allowPinChange: boolean };
      retention: { auditDays: number; authenticationDays: number };
    }>('/settings');
    expect(saved).toMatchObject({
      lockout: { threshold: 7, autoUnlockSeconds: 900 },
      portal: { allowBypass: true, allowPinChange: true },
      retention: { auditDays: 730, authenticationDays: 30 },
    });
    // A value the server refuses comes back under its field.
    await page.getByLabel('Default language').fill('not a language!');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await poll(() => page.locator('.field.invalid .field-error').count()).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Undo changes' }).click();
    await expectAccessible(page);
    await screenshot(page, 'console-settings');

    // Reports: the user's events, and the CSV export as a file.
    await page.goto(`${url}/admin/#/reports?username=dana.whitfield`);
    await poll(() => page.getByRole('table', { name: 'Audit events, newest first' }).textContent()).toContain('user.unlock');
    await screenshot(page, 'console-reports');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^audit-events-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = await readFile(await download.path(), 'utf8');
    const [header, ...lines] = csv.trim().split(/\r?\n/);
    expect(header).toMatch(/^id,at,kind,action,result,reason,username/);
    expect(lines.some((l) => l.includes(',user.unlock,') && l.includes('dana.whitfield'))).toBe(true);
    expect(lines.every((l) => l.includes('dana.whitfield'))).toBe(true);
    // The quick view of bypasses.
    await page.getByRole('button', { name: 'Bypass history' }).click();
    await poll(() => page.getByRole('table', { name: 'Audit events, newest first' }).textContent()).toContain('lost phone, ticket 4711');
    // Its export holds its actions only.
    const [bypasses] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    const bypassLines = (await readFile(await bypasses.path(), 'utf8')).trim().split(/\r?\n/).slice(1);
    expect(bypassLines.some((l) => l.includes(',bypass.issue,'))).toBe(true);
    expect(bypassLines.every((l) => /,bypass\.(issue|cancel),/.test(l))).toBe(true);
    await expectAccessible(page);
    await context.close();
  }, 90_000);

  it('shows the help desk its own actions only, and the server refusing it an administrators-only one', async () => {
    const core = ctx.core;
    await core.users.create({ username: 'hugo.helpdesk', displayName: 'Hugo Helpdesk' }, actor);
    await core.users.setPassword('hugo.helpdesk', PASSWORD, actor);
    await core.users.setConsoleRole('hugo.helpdesk', 'helpdesk', actor);
    const { secret } = await core.methods.enrollTotp('hugo.helpdesk', { label: 'Phone' }, actor);

    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(`${url}/admin/`);
    await signIn(page, 'hugo.helpdesk', PASSWORD, (shown) => {
      expect(shown).toBeUndefined();
      return nextCode('hugo.helpdesk', secret);
    });
    const nav = page.getByRole('navigation', { name: 'Console' });
    expect(await nav.getByRole('link', { name: 'Users' }).count()).toBe(1);
    expect(await nav.getByRole('link', { name: 'API keys' }).count()).toBe(0);

    // Settings: read only, without a save button.
    await nav.getByRole('link', { name: 'Settings' }).click();
    await page.getByText('Read only: your role (helpdesk) may not change settings.').waitFor();
    expect(await page.getByRole('button', { name: 'Save settings' }).count()).toBe(0);
    expect(await page.getByLabel('Failures before locking').isDisabled()).toBe(true);

    // The user page offers the help desk's actions only.
    await page.goto(`${url}/admin/#/users/dana.whitfield`);
    await page.getByRole('heading', { level: 1, name: /Dana Whitfield/ }).waitFor();
    await page
      .getByRole('button', { name: 'Issue bypass' })
      .or(page.getByRole('button', { name: 'Replace bypass' }))
      .first()
      .waitFor();
    expect(await page.getByRole('heading', { name: 'Console role' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Save profile' }).count()).toBe(0);
    // The RADIUS reply attributes the administrator set, read only.
    expect(await page.getByRole('heading', { name: 'RADIUS reply attributes' }).count()).toBe(1);
    expect(await page.getByText('10.8.0.12', { exact: true }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Save attributes' }).count()).toBe(0);
    // Signing the user out everywhere (a lost laptop) ends their portal session.
    const dana = await core.users.get('dana.whitfield');
    const portalSession = await core.sessions.start({ kind: 'portal', userId: dana.id, stage: 'complete' });
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Sign out everywhere' }).click();
    await poll(() => page.getByRole('status').filter({ hasText: '1 session ended.' }).count()).toBe(1);
    expect(await core.sessions.resolve('portal', portalSession.token)).toBeUndefined();

    // An administrators-only page opened by its address: the server's refusal, in the role's words.
    await page.goto(`${url}/admin/#/api-keys`);
    await poll(() => page.getByRole('alert').textContent()).toContain('Your role (helpdesk) may not do this.');
    // And a change sent from the page with the session's anti-forgery token: 403.
    const refused = await page.evaluate(async () => {
      const session = (await (await fetch('/admin/session')).json()) as { csrf: string };
      const res = await fetch('/api/v1/settings', {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf },
        body: JSON.stringify({ lockout: { threshold: 1 } }),
      });
      return { status: res.status, body: (await res.json()) as { code: string } };
    });
    expect(refused).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    expect((await apiGet<{ lockout: { threshold: number } }>('/settings')).lockout.threshold).toBe(7);
    await context.close();
  }, 60_000);
});
