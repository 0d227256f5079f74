/**
 * Browser harness for end-to-end tests of the user portal and the admin console: Debian's Chromium
 * (/usr/bin/chromium) driven by playwright-core, accessibility checks with axe-core, the bytes a
 * page load transfers, and full-page screenshots for the documentation.
 *
 * Pages under test send a strict Content-Security-Policy (`script-src 'self'`), so axe is injected
 * by evaluating its source over the DevTools protocol (not subject to the page's CSP) rather than
 * with a <script> tag, which the policy would block.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AxeResults, Result, RuleObject, RunOptions } from 'axe-core';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

export type { Browser, BrowserContext, Page } from 'playwright-core';
/** One axe violation: a rule, its impact, and the elements that fail it. */
export type AxeViolation = Result;

export const CHROMIUM = '/usr/bin/chromium';

/** Flags for a quiet, loopback-only headless Chromium (see the testing guide). */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Starts headless Chromium with a fresh temporary profile (Playwright creates one per launch and
 * removes it on close). A missing /usr/bin/chromium is an error, under CI and elsewhere, so the
 * suite reports it instead of passing without a browser.
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      process.env.CI
        ? `chromium is required under CI: ${CHROMIUM} not found (apt-get install chromium)`
        : `browser tests need chromium: ${CHROMIUM} not found (apt-get install chromium, or run scripts/test as root to install the test peers)`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS], timeout: 30_000 });
}

export const DESKTOP_VIEWPORT = { width: 1280, height: 800 } as const;
export const PHONE_VIEWPORT = { width: 390, height: 844 } as const;

export interface NewContextOptions {
  /** BCP 47 locale for navigator.language and Accept-Language (default 'en-US'). */
  locale?: string;
  /** 'desktop' (1280x800, the default) or 'phone' (390x844, touch, isMobile, 2x pixels). */
  viewport?: 'desktop' | 'phone';
  /** Time zone for dates the page renders (default 'UTC', so screenshots do not depend on the machine). */
  timezoneId?: string;
  /** Prefers-color-scheme (default 'light'). */
  colorScheme?: 'light' | 'dark';
}

/**
 * A browser context (its own cookies and storage) that accepts the self-signed certificate a test
 * server presents.
 */
export async function newContext(browser: Browser, opts: NewContextOptions = {}): Promise<BrowserContext> {
  const base: BrowserContextOptions = {
    ignoreHTTPSErrors: true,
    locale: opts.locale ?? 'en-US',
    timezoneId: opts.timezoneId ?? 'UTC',
    colorScheme: opts.colorScheme ?? 'light',
  };
  const view: BrowserContextOptions =
    opts.viewport === 'phone'
      ? { viewport: { ...PHONE_VIEWPORT }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
      : { viewport: { ...DESKTOP_VIEWPORT }, deviceScaleFactor: 1 };
  return browser.newContext({ ...base, ...view });
}

/** The WCAG 2.0 and 2.1 level A and AA rule tags checked by checkAccessibility. */
export const WCAG_TAGS: readonly string[] = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

export interface AccessibilityOptions {
  /** CSS selectors of elements (and their descendants) to leave out of the check. */
  exclude?: string[];
  /** Per-rule overrides, e.g. `{ 'color-contrast': { enabled: false } }`. */
  rules?: RuleObject;
}

let axeSource: string | undefined;
function axeScript(): string {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  return axeSource;
}

/**
 * Runs axe-core in the page and its frames against the WCAG 2 A/AA tags (color-contrast included)
 * and returns the violations; an empty array means the page passed. Run it after the page has
 * rendered what is to be checked. A target inside a frame is a path: [frame selector, selector].
 */
export async function checkAccessibility(page: Page, opts: AccessibilityOptions = {}): Promise<AxeViolation[]> {
  // Every frame needs its own copy: axe in the top frame asks the frames' copies over postMessage.
  for (const frame of page.frames()) {
    if (!(await frame.evaluate('typeof globalThis.axe?.run === "function"'))) await frame.evaluate(axeScript());
  }
  const options: RunOptions = {
    runOnly: { type: 'tag', values: [...WCAG_TAGS] },
    rules: { 'color-contrast': { enabled: true }, ...opts.rules },
    resultTypes: ['violations'],
    // A frame attached after the injection has no axe to answer: fail soon rather than after 60 s.
    frameWaitTime: 10_000,
  };
  const exclude = (opts.exclude ?? []).map((selector) => [selector]);
  const results = await page.evaluate(
    ({ exclude, options }) => {
      const axe = (globalThis as unknown as { axe: { run(context: unknown, options: unknown): Promise<AxeResults> } }).axe;
      // Without an include list axe checks the whole document, minus the excluded subtrees.
      return axe.run({ exclude }, options);
    },
    { exclude, options },
  );
  return results.violations;
}

/**
 * Violations as readable text: one block per rule with its impact, help and failing elements. An
 * element's selector path reads frame >> element, and shadow host >>> element inside a shadow root.
 */
export function formatViolations(violations: readonly AxeViolation[]): string {
  if (violations.length === 0) return 'no accessibility violations';
  const lines = [`${violations.length} accessibility violation${violations.length === 1 ? '' : 's'}:`];
  for (const v of violations) {
    lines.push(`- ${v.id} (${v.impact ?? 'unknown impact'}): ${v.help}`, `  ${v.helpUrl}`);
    for (const node of v.nodes) {
      const html = node.html.length > 120 ? `${node.html.slice(0, 117)}...` : node.html;
      lines.push(`    ${node.target.map((t) => (Array.isArray(t) ? t.join(' >>> ') : t)).join(' >> ')}: ${html}`);
    }
  }
  return lines.join('\n');
}

export interface Transfer {
  /** Bytes received over the network: response headers plus bodies as sent (compressed if encoded). */
  bytes: number;
  /** Responses received, redirects included (failed requests are not counted). */
  requests: number;
}

/** The subset of CDP Network events read here. */
interface RequestWillBeSent {
  redirectResponse?: { encodedDataLength: number };
}
interface LoadingFinished {
  encodedDataLength: number;
}

/**
 * Navigates `page` to `url` with the browser cache disabled and sums what the load transfers: every
 * request the page makes until the load event and then network idle (no request for 500 ms).
 *
 * Counted, from Chromium's Network.loadingFinished `encodedDataLength`: each response's status line
 * and headers and its body as it crossed the wire (after Content-Encoding, so compression counts as
 * saved bytes), for the document, subresources, fetch/XHR and redirects. Not counted: request
 * headers and bodies the browser sends, TLS and TCP overhead, failed or aborted requests, and
 * requests made by workers or out-of-process (cross-site) frames, which are separate targets.
 */
export async function measureTransfer(page: Page, url: string): Promise<Transfer> {
  const cdp = await page.context().newCDPSession(page);
  let bytes = 0;
  let requests = 0;
  cdp.on('Network.requestWillBeSent', (e: RequestWillBeSent) => {
    if (e.redirectResponse) {
      bytes += e.redirectResponse.encodedDataLength;
      requests++;
    }
  });
  cdp.on('Network.loadingFinished', (e: LoadingFinished) => {
    bytes += e.encodedDataLength;
    requests++;
  });
  try {
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    await page.goto(url, { waitUntil: 'networkidle' });
  } finally {
    await cdp.detach().catch(() => undefined);
  }
  return { bytes, requests };
}

export const SCREENSHOT_DIR = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

/**
 * Saves a full-page screenshot as docs/screenshots/<name>.png, only when UPDATE_SCREENSHOTS=1 (so
 * ordinary test runs never change the work tree). Returns the file written, or null.
 */
export async function screenshot(page: Page, name: string): Promise<string | null> {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) throw new Error(`screenshot name must be a plain file name: ${name}`);
  if (process.env.UPDATE_SCREENSHOTS !== '1') return null;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true, animations: 'disabled', caret: 'hide' });
  return path;
}
