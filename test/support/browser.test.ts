/**
 * Self-test of the browser harness against Debian's Chromium and a throw-away HTTPS server that
 * sends a strict Content-Security-Policy, as the portal does.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from 'selfsigned';
import { checkAccessibility, formatViolations, launchBrowser, measureTransfer, newContext, screenshot, SCREENSHOT_DIR, type Browser } from './browser.ts';
import { freeTcpPort } from './ports.ts';

const CSP = "default-src 'self'";
const SCRIPT_BYTES = 50_000;

const page = (title: string, body: string, head = ''): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title><link rel="stylesheet" href="/site.css">${head}</head><body><main>${body}</main></body></html>`;

// The inline script must not run: it proves the policy is in force while axe still runs.
const GOOD = page(
  'Sign in',
  '<h1>Sign in</h1><p class="ok">Enter your user name.</p><label for="user">User name</label> <input id="user" name="user" type="text"><script>window.inlineRan = true</script>',
);
const FRAMED = page('Framed', '<h1>Framed</h1><iframe id="inner" title="Sign-in form" src="/bad"></iframe>');
const BAD = page('Sign in', '<h1>Sign in</h1><p class="faint">Enter your user name.</p><input id="user" name="user" type="text">');
// About 200 KB of markup that gzip shrinks to almost nothing: counted as sent, not as decoded.
const HEAVY = page('Heavy', '<h1>Heavy</h1>' + '<p>padding padding padding padding</p>'.repeat(5000), '<script src="/heavy.js"></script>');
const CSS = 'body { color: #111; background: #fff; font: 16px sans-serif; } .ok { color: #222; } .faint { color: #ccc; }';

/** 50,000 bytes of valid JavaScript around random base64 (nothing for a compressor to find). */
function heavyScript(): Buffer {
  const prefix = 'window.blob = "';
  const suffix = '";\n';
  const filler = randomBytes(SCRIPT_BYTES)
    .toString('base64')
    .slice(0, SCRIPT_BYTES - prefix.length - suffix.length);
  const script = Buffer.from(prefix + filler + suffix);
  expect(script.length).toBe(SCRIPT_BYTES);
  return script;
}

describe('browser harness', () => {
  let server: Server;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    } as never);
    const script = heavyScript();
    const heavyGz = gzipSync(HEAVY);
    server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
      const headers = { 'content-security-policy': CSP, 'cache-control': 'no-store' };
      const html = { ...headers, 'content-type': 'text/html; charset=utf-8' };
      switch (req.url) {
        case '/good':
          return res.writeHead(200, html).end(GOOD);
        case '/bad':
          return res.writeHead(200, html).end(BAD);
        case '/framed':
          return res.writeHead(200, html).end(FRAMED);
        case '/heavy':
          return res.writeHead(200, { ...html, 'content-encoding': 'gzip' }).end(heavyGz);
        case '/heavy.js':
          return res.writeHead(200, { ...headers, 'content-type': 'text/javascript' }).end(script);
        case '/site.css':
          return res.writeHead(200, { ...headers, 'content-type': 'text/css' }).end(CSS);
        case '/echo-language':
          return res.writeHead(200, { ...headers, 'content-type': 'text/plain' }).end(req.headers['accept-language'] ?? '');
        default:
          return res.writeHead(404, { ...headers, 'content-type': 'text/plain' }).end('not found');
      }
    });
    const port = await freeTcpPort();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    base = `https://127.0.0.1:${port}`;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('finds no violations on an accessible page served under a strict CSP', async () => {
    const context = await newContext(browser);
    try {
      const p = await context.newPage();
      await p.goto(`${base}/good`);
      expect(await p.evaluate('window.inlineRan')).toBeUndefined();
      // newContext's defaults: desktop viewport, en-US.
      expect(await p.evaluate('[innerWidth, devicePixelRatio, navigator.language]')).toEqual([1280, 1, 'en-US']);
      const violations = await checkAccessibility(p);
      expect(violations, formatViolations(violations)).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('reports a missing label and low contrast, and formats them', async () => {
    const context = await newContext(browser);
    try {
      const p = await context.newPage();
      await p.goto(`${base}/bad`);
      const violations = await checkAccessibility(p);
      const ids = violations.map((v) => v.id);
      expect(ids).toContain('label');
      expect(ids).toContain('color-contrast');
      const text = formatViolations(violations);
      expect(text).toMatch(/^- label \((critical|serious)\): /m);
      expect(text).toMatch(/^- color-contrast \(serious\): /m);
      expect(text).toContain('#user');
      expect(text).toContain('<p class="faint">');

      // Excluded subtrees and disabled rules are left out.
      const rest = await checkAccessibility(p, { exclude: ['#user'], rules: { 'color-contrast': { enabled: false } } });
      expect(rest.map((v) => v.id)).toEqual([]);
      expect(formatViolations(rest)).toBe('no accessibility violations');

      // Frames are checked too; their targets are paths from the top document.
      await p.goto(`${base}/framed`);
      await p.frameLocator('#inner').locator('#user').waitFor();
      const framed = await checkAccessibility(p);
      expect(framed.find((v) => v.id === 'label')?.nodes.map((n) => n.target)).toEqual([['#inner', '#user']]);
      expect(formatViolations(framed)).toContain('#inner >> #user');
    } finally {
      await context.close();
    }
  });

  it('counts bytes as transferred: the incompressible script in full, the gzipped page compressed', async () => {
    const context = await newContext(browser);
    try {
      const p = await context.newPage();
      const { bytes, requests } = await measureTransfer(p, `${base}/heavy`);
      expect(await p.evaluate('window.blob.length')).toBeGreaterThan(49_000);
      expect(requests).toBeGreaterThanOrEqual(2);
      expect(bytes).toBeGreaterThanOrEqual(SCRIPT_BYTES);
      // The page decodes to about 200 KB; counting decoded sizes would exceed this.
      expect(HEAVY.length).toBeGreaterThan(150_000);
      expect(bytes).toBeLessThan(60_000);
    } finally {
      await context.close();
    }
  });

  it('sets the phone viewport and another locale', async () => {
    const context = await newContext(browser, { viewport: 'phone', locale: 'de-DE' });
    try {
      const p = await context.newPage();
      await p.goto(`${base}/echo-language`);
      expect(await p.textContent('body')).toMatch(/^de-DE\b/);
      await p.goto(`${base}/good`);
      expect(await p.evaluate('[innerWidth, devicePixelRatio, navigator.language, matchMedia("(pointer: coarse)").matches]')).toEqual([390, 2, 'de-DE', true]);
    } finally {
      await context.close();
    }
  });

  it('writes no screenshot unless UPDATE_SCREENSHOTS=1', async () => {
    const saved = process.env.UPDATE_SCREENSHOTS;
    delete process.env.UPDATE_SCREENSHOTS;
    const context = await newContext(browser);
    try {
      const p = await context.newPage();
      await p.goto(`${base}/good`);
      const name = `harness-self-test-${process.pid}`;
      expect(await screenshot(p, name)).toBeNull();
      expect(existsSync(join(SCREENSHOT_DIR, `${name}.png`))).toBe(false);
      await expect(screenshot(p, '../escape')).rejects.toThrow(/plain file name/);
    } finally {
      await context.close();
      if (saved !== undefined) process.env.UPDATE_SCREENSHOTS = saved;
    }
  });
});
