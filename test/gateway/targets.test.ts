import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCoreError } from '../../src/core/errors.ts';
import { compilePathRules, isPublic, normalizePath, safeRedirect, type AllowedOrigin } from '../../src/doors/http/gateway/targets.ts';

const publicRules = compilePathRules(['/public/**', '/health']);
const underPublic = (p: string): boolean => p === '/health' || p === '/public' || p.startsWith('/public/');

describe('normalizePath', () => {
  const cases: [string, string | null][] = [
    ['/', '/'],
    ['/a/b', '/a/b'],
    ['/a/b/', '/a/b/'],
    ['/a/b?x=1', '/a/b'],
    ['/a/b?x=/../..', '/a/b'],
    ['/a/b#frag', '/a/b'],
    ['/a#x?y', '/a'],
    ['//a///b', '/a/b'],
    ['/a/./b', '/a/b'],
    ['/a/b/.', '/a/b/'],
    ['/a/b/..', '/a/'],
    ['/a/../b', '/b'],
    ['/a/b/../../c', '/c'],
    ['/..', null],
    ['/a/../..', null],
    ['/a/%2e%2e/b', '/b'],
    ['/a/%2E./b', '/b'],
    ['/A/B', '/A/B'],
    ['/caf%C3%A9', '/café'],
    ['/café', '/café'],
    ['/a%20b', '/a b'],
    ['/admin;x=1/', '/admin/'],
    ['/admin;x=1', '/admin'],
    ['/a/..;/b', '/b'],
    ['/;x/a', '/a'],
    ['', null],
    ['a/b', null],
    ['*', null],
    ['http://host/a', null],
    ['?/a', null],
    ['/a%2fb', null],
    ['/a%2Fb', null],
    ['/a%5cb', null],
    ['/a%5Cb', null],
    ['/a\\b', null],
    ['/a%3Bb', null],
    ['/a%3fb', null],
    ['/a%23b', null],
    ['/a%', null],
    ['/a%2', null],
    ['/a%zz', null],
    ['/a%%2e', null],
    ['/a%252e', null],
    ['/a%25%32%65', null],
    ['/a%00', null],
    ['/a\u0000', null],
    ['/a\t', null],
    ['/a\n', null],
    ['/a%0d%0a', null],
    ['/a\u007f', null],
    ['/a%7f', null],
    ['/a%c0%ae', null],
    ['/a%c0%af', null],
    ['/a%e0%80%ae', null],
    ['/a%ed%a0%80', null],
    ['/a%c3', null],
    ['/a%ff', null],
    ['/a\ud800', null],
    ['/a/%e2%80%a4%e2%80%a4/b', null],
    ['/a/\u2024\u2024/b', null],
    ['/a/%ef%bc%8e%ef%bc%8e/b', null],
    ['/a%ef%bc%8fb', null],
    ['/a%e2%80%8b', null],
    ['/a%ef%bb%bf', null],
    ['/a/.. /b', null],
    ['/a/.../b', null],
    ['/a/. /b', null],
  ];
  for (const [raw, expected] of cases) it(`${JSON.stringify(raw)} -> ${JSON.stringify(expected)}`, () => expect(normalizePath(raw)).toBe(expected));
});

describe('compilePathRules', () => {
  const rules = compilePathRules(['/static/**', '/health', '/api/*/status', '/', '/docs/']);
  const cases: [string, boolean][] = [
    ['/static', true],
    ['/static/', true],
    ['/static/a', true],
    ['/static/a/b.css', true],
    ['/staticfoo', false],
    ['/static.css', false],
    ['/Static/a', false],
    ['/health', true],
    ['/health/', false],
    ['/healthz', false],
    ['/HEALTH', false],
    ['/api/v1/status', true],
    ['/api/v1/status/', false],
    ['/api/v1/v2/status', false],
    ['/api/status', false],
    ['/', true],
    ['/docs/', true],
    ['/docs', false],
    ['/other', false],
  ];
  for (const [path, expected] of cases) it(`${path} -> ${expected}`, () => expect(rules(path)).toBe(expected));

  it('/** matches every path; an empty list matches none', () => {
    const all = compilePathRules(['/**']);
    expect(['/', '/a', '/a/b/'].every(all)).toBe(true);
    expect(compilePathRules([])('/')).toBe(false);
  });

  it('treats pattern characters literally', () => {
    const rules = compilePathRules(['/a.b/(x)+/**']);
    expect(rules('/a.b/(x)+/y')).toBe(true);
    expect(rules('/aXb/(x)+/y')).toBe(false);
    expect(rules('/a.b/xx/y')).toBe(false);
  });

  const bad = ['', 'static/**', '/static/**/x', '/a/**b', '/a**', '/**/', '/a/*b', '/a*/b', '/a/../b', '/a/./b', '/..', '/a//b', '/a%2fb', '/a%20b', '/a\\b', '/a;b', '/a?b', '/a#b', '/a\nb'];
  for (const pattern of bad) {
    it(`rejects ${JSON.stringify(pattern)} with config_invalid, naming it`, () => {
      try {
        compilePathRules(['/ok', pattern]);
        expect.unreachable();
      } catch (e) {
        expect(isCoreError(e, 'config_invalid')).toBe(true);
        expect((e as Error).message).toContain(`"${pattern}"`);
      }
    });
  }

  it('gives the same answer over many calls (the compiled matcher keeps no state between calls)', () => {
    const paths = ['/static/app/main.js', '/health', '/api/v1/status', '/admin/users', '/staticfoo'];
    let hits = 0;
    for (let i = 0; i < 100_000; i++) if (rules(paths[i % paths.length] ?? '')) hits++;
    expect(hits).toBe(60_000);
  });
});

describe('isPublic', () => {
  const attacks = [
    '/public/../admin',
    '/public/%2e%2e/admin',
    '/public/%2E%2E/admin',
    '/public/%2E%2E%2Fadmin',
    '/public/..%2fadmin',
    '/public%2f..%2fadmin',
    '/public%2F..%2Fadmin',
    '/public/%252e%252e/admin',
    '/public/%25%32%65%25%32%65/admin',
    '/public/%252e%252e%252fadmin',
    '/PUBLIC/x',
    '/Public/x',
    '/public/%c0%ae%c0%ae/admin',
    '/public/%c0%ae%c0%ae%c0%afadmin',
    '/public/%e0%80%ae%e0%80%ae/admin',
    '/public/x%00',
    '/public/x%00/../../admin',
    '/public\\..\\admin',
    '/public/..\\admin',
    '/public/%5c..%5cadmin',
    '/public/..;/admin',
    '/public/..;x=1/admin',
    '/public;/x',
    '/public;x/../admin',
    '//public/../admin',
    '//evil.com/public/../admin',
    'public/x',
    'http://evil/public/x',
    '/public/%e2%80%a4%e2%80%a4/admin',
    '/public/\u2024\u2024/admin',
    '/public/%ef%bc%8e%ef%bc%8e/admin',
    '/public%ef%bc%8f..%ef%bc%8fadmin',
    '/public/.. /admin',
    '/public/.../admin',
    '/public/%2e%2e%3b/admin',
    '/public/x/../../admin',
    '/health/../admin',
    '/health;/../admin',
    '/healthz',
    '/health/',
    '/publicfoo',
    '/public%',
    '/public/%zz',
    '/public/\ud800',
    '/public/a%0a',
  ];
  for (const raw of attacks) it(`${JSON.stringify(raw)} is not public`, () => expect(isPublic(raw, publicRules)).toBe(false));

  const allowed = ['/public', '/public/', '/public/a/b.css', '/public/a/../b', '/public/./x', '//public//x', '/public/x?y=/../admin', '/public/x#../../admin', '/health', '/health?probe=1', '/pub%6cic/x', '/public/a;v=1', '/public/caf%C3%A9'];
  for (const raw of allowed) it(`${JSON.stringify(raw)} is public`, () => expect(isPublic(raw, publicRules)).toBe(true));
});

// Readings a proxy or application behind the gateway might give a raw path.
function readings(raw: string): string[] {
  const path = raw.split(/[?#]/)[0] ?? '';
  const overlong = path
    .replace(/%c0%ae|%e0%80%ae/gi, '.')
    .replace(/%c0%af|%e0%80%af/gi, '/')
    .replace(/%c1%9c/gi, '\\');
  const decodeOnce = (s: string): string | null => {
    try {
      return decodeURIComponent(s);
    } catch {
      return null;
    }
  };
  const decodeAll = (s: string): string | null => {
    let current = s;
    for (let i = 0; i < 5; i++) {
      const next = decodeOnce(current);
      if (next === null) return i === 0 ? null : current;
      if (next === current) return current;
      current = next;
    }
    return current;
  };
  const stripParams = (s: string): string => s.replace(/;[^/]*/g, '');
  const out: string[] = [];
  for (const source of [path, overlong]) {
    for (const semicolon of ['keep', 'before', 'after'] as const) {
      for (const decode of [decodeOnce, decodeAll]) {
        const pre = semicolon === 'before' ? stripParams(source) : source;
        const decoded = decode(pre);
        if (decoded === null) continue;
        const post = semicolon === 'after' ? stripParams(decoded) : decoded;
        for (const text of [post, post.normalize('NFKC')]) {
          for (const slashes of [text, text.replace(/\\/g, '/')]) {
            out.push(resolveLoosely(slashes, false), resolveLoosely(slashes, true));
          }
        }
      }
    }
  }
  return out;
}

// Dot segments resolved with `..` clamped at the root, as browsers do; optionally Windows trimming.
function resolveLoosely(path: string, windowsTrim: boolean): string {
  const stack: string[] = [];
  for (const raw of path.split('/')) {
    const segment = windowsTrim && !/^\.{1,2}$/.test(raw) ? raw.replace(/[. ]+$/, '') : raw;
    if (segment === '' || segment === '.') continue;
    if (segment === '..') stack.pop();
    else stack.push(segment);
  }
  return '/' + stack.join('/');
}

describe('isPublic on generated variants', () => {
  const leads = ['/', '//', '/./', '/%2e/', '/;/', '/x/../', '\\'];
  const firsts = ['public', 'PUBLIC', 'Public', 'public;x=1', 'public.', 'health', 'pub%6cic', '%70ublic', 'publi%63', 'healt%68'];
  const seps = ['/', '%2f', '%2F', '\\', '%5c', '%5C', '%252f', '//', '/./', ';/', '%3b/', '%c0%af', '%ef%bc%8f'];
  const dots = ['..', '%2e%2e', '%2E%2E', '.%2e', '%2e.', '%252e%252e', '%25%32%65%25%32%65', '%c0%ae%c0%ae', '%e0%80%ae%e0%80%ae', '%e2%80%a4%e2%80%a4', '\u2024\u2024', '..;', '..;x', '.. ', '...', '%2e%2e;x', '\uff0e\uff0e', '%ef%bc%8e%ef%bc%8e', '.', '', 'x'];
  const targets = ['admin', 'admin/', 'public/x', 'health', ''];
  const suffixes = ['', '?a=/public/', '#/public', '/', ';/public', '%00'];

  const variants: string[] = [];
  for (const lead of leads)
    for (const first of firsts)
      for (const sep of seps)
        for (const dot of dots)
          for (const target of targets) variants.push(lead + first + sep + dot + sep + target + (suffixes[variants.length % suffixes.length] ?? ''));

  it(`judges none of ${variants.length} variants public unless every reading is under /public or is /health`, () => {
    expect(variants.length).toBeGreaterThan(1000);
    let judgedPublic = 0;
    const wrong: string[] = [];
    for (const raw of variants) {
      if (!isPublic(raw, publicRules)) continue;
      judgedPublic++;
      const canonical = normalizePath(raw);
      if (canonical === null || !underPublic(canonical) || !readings(raw).every(underPublic)) wrong.push(raw);
    }
    expect(wrong).toEqual([]);
    // The generator also produces plain paths, so the check above is not vacuous.
    expect(judgedPublic).toBeGreaterThan(100);
  });

  it('judges public the plain forms whose every reading is public', () => {
    for (const raw of ['/public/x/public/x', '//public//x//admin', '/pub%6cic/x/admin/', '/health']) expect(isPublic(raw, publicRules)).toBe(true);
  });
});

describe('normalizePath properties', () => {
  const piece = fc.constantFrom('/', '.', '..', '%', '%2e', '%2E', '%2f', '%5c', '%25', '%3b', ';', 'a', 'B', '\\', '?', '#', 'é', '%c3%a9', '%c0%ae', ' ', '\u2024', '\uff0e', '%00', '%e2%80%a4', 'x=1', '\u200b');
  const crafted = fc.array(piece, { maxLength: 16 }).map((parts) => '/' + parts.join(''));
  const anyText = fc.string({ unit: 'binary', maxLength: 40 }).map((s) => '/' + s);
  const input = fc.oneof(crafted, anyText, fc.string({ unit: 'binary', maxLength: 20 }));

  it('never throws, is idempotent and yields no ambiguous substring', () => {
    fc.assert(
      fc.property(input, (raw) => {
        const once = normalizePath(raw);
        if (once === null) return;
        expect(normalizePath(once)).toBe(once);
        expect(once.startsWith('/')).toBe(true);
        for (const bad of ['//', '/./', '/../', '%', '\\', ';', '?', '#']) expect(once).not.toContain(bad);
        expect(once.endsWith('/.') || once.endsWith('/..')).toBe(false);
      }),
      { numRuns: 5000 },
    );
  });

  it('isPublic agrees with the rules on the canonical path', () => {
    fc.assert(
      fc.property(crafted, (raw) => {
        const canonical = normalizePath(raw);
        if (isPublic(raw, publicRules)) expect(canonical !== null && underPublic(canonical)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('safeRedirect', () => {
  const allowed: AllowedOrigin[] = [
    { scheme: 'https', host: 'good.example.com' },
    { scheme: 'https', host: '*.apps.example.com' },
    { scheme: 'http', host: 'localhost', port: 8080 },
    { scheme: 'https', host: '[::1]', port: 8443 },
  ];

  const accepted: [string, string][] = [
    ['https://good.example.com/', 'https://good.example.com/'],
    ['https://good.example.com', 'https://good.example.com/'],
    ['https://good.example.com/app/page?x=1&y=%2F#frag', 'https://good.example.com/app/page?x=1&y=%2F#frag'],
    ['HTTPS://Good.Example.COM:443/a', 'https://good.example.com/a'],
    ['https://good.example.com/a/b/../c', 'https://good.example.com/a/c'],
    ['https://good.example.com/a;jsessionid=1', 'https://good.example.com/a;jsessionid=1'],
    ['https://good.example.com/caf%C3%A9', 'https://good.example.com/caf%C3%A9'],
    ['https://good.example.com/café', 'https://good.example.com/caf%C3%A9'],
    ['https://one.apps.example.com/x', 'https://one.apps.example.com/x'],
    ['https://xn--bcher-kva.apps.example.com/', 'https://xn--bcher-kva.apps.example.com/'],
    ['http://localhost:8080/callback', 'http://localhost:8080/callback'],
    ['https://[::1]:8443/', 'https://[::1]:8443/'],
    ['https://[0:0::1]:8443/', 'https://[::1]:8443/'],
  ];
  for (const [target, href] of accepted) it(`accepts ${target}`, () => expect(safeRedirect(target, allowed)?.href).toBe(href));

  const refused = [
    '',
    '/relative',
    'relative',
    '?x=1',
    '//good.example.com/',
    '///good.example.com/',
    '/\\good.example.com/',
    '\\\\good.example.com/',
    'https:good.example.com',
    'https:/good.example.com',
    'https:///good.example.com',
    'https:\\\\good.example.com',
    'https://\\good.example.com',
    'https://good.example.com\\@evil.com',
    'https://good.example.com@evil.com/',
    'https://evil.com@good.example.com/',
    'https://@good.example.com/',
    'https://user:pass@good.example.com/',
    'https://good.example.com:@good.example.com/',
    'https://good.example.com./',
    'https://good.example.com.evil.com/',
    'https://evilgood.example.com/',
    'https://good%2eexample.com/',
    'https://good.example%2ecom/',
    'https://good\u3002example.com/',
    'https://good\uff0eexample.com/',
    'https://g\u00adood.example.com/',
    'https://good.example.com:8443/',
    'https://good.example.com:/',
    'https://good.example.com:443:443/',
    'http://good.example.com/',
    'ftp://good.example.com/',
    'javascript://good.example.com/%0aalert(1)',
    'data:text/html,<script>alert(1)</script>',
    ' https://good.example.com/',
    'https://good.example.com/ ',
    'https://good.example.com/\t',
    'https://good.example.com\t/',
    'ht\ttps://good.example.com/',
    'https://good.example.com\n.evil.com/',
    'https://good.example.com/\r\nSet-Cookie:x=1',
    'https://good.example.com/\u2028',
    'https://good.example.com/\u200b',
    'https://good.example.com//evil.com',
    'https://good.example.com/a%2F..%2F..%2Fevil',
    'https://good.example.com/a%5cevil',
    'https://good.example.com/%252e%252e/x',
    'https://good.example.com/%00',
    'https://apps.example.com/',
    'https://a.b.apps.example.com/',
    'https://.apps.example.com/',
    'https://a.apps.example.com./',
    'http://a.apps.example.com/',
    'https://localhost:8080/',
    'http://localhost/',
    'http://localhost:80/',
    'http://127.0.0.1:8080/',
    'https://[::1]/',
    'https://[::2]:8443/',
    'https://[::ffff:127.0.0.1]:8443/',
    `https://good.example.com/${'a'.repeat(2048)}`,
  ];
  for (const target of refused) it(`refuses ${JSON.stringify(target).slice(0, 80)}`, () => expect(safeRedirect(target, allowed)).toBeNull());

  it('accepts exactly 2048 characters and refuses 2049', () => {
    const base = 'https://good.example.com/';
    expect(safeRedirect(base + 'a'.repeat(2048 - base.length), allowed)).not.toBeNull();
    expect(safeRedirect(base + 'a'.repeat(2049 - base.length), allowed)).toBeNull();
  });

  it('never matches a wildcard against an IP address', () => {
    expect(safeRedirect('https://1.2.3.4/', [{ scheme: 'https', host: '*.2.3.4' }])).toBeNull();
  });

  const offListHosts = [
    'evil.com',
    'good.example.com.evil.com',
    'GOOD.EXAMPLE.COM.EVIL.COM',
    'evilgood.example.com',
    'good.example.com.',
    'GOOD.EXAMPLE.COM.',
    'good.example.co',
    'good.example.comm',
    'good-example.com',
    'goodexample.com',
    'good.example.com%2eevil.com',
    'good%2eexample.com',
    'good.example%2ecom',
    'good%2Eexample%2Ecom',
    'good\u3002example.com',
    'good\uff0eexample.com',
    'g\u043e\u043ed.example.com',
    'good.example.com:8443',
    'good.example.com:80',
    'good.example.com:0',
    'good.example.com:65536',
    'good.example.com@evil.com',
    'good.example.com%40evil.com',
    'evil.com#good.example.com',
    'evil.com?good.example.com',
    'evil.com\\good.example.com',
    'evil.com/good.example.com',
    'evil.com\\.good.example.com',
    'apps.example.com',
    'a.b.apps.example.com',
    'x.apps.example.com.evil.com',
    'x.apps.example.com:444',
    'localhost',
    'localhost:8081',
    '127.0.0.1',
    '[::1]',
    '[::1]:443',
    '[::2]:8443',
    '[::ffff:7f00:1]:8443',
    '[fe80::1%25eth0]:8443',
    '2130706433',
    '0x7f.1',
  ];
  const templates: ((h: string) => string)[] = [
    (h) => `https://${h}`,
    (h) => `https://${h}/`,
    (h) => `https://${h}/path?q=1#f`,
    (h) => `HTTPS://${h.toUpperCase()}/`,
    (h) => `http://${h}/`,
    (h) => `https:${h}/`,
    (h) => `https:/${h}/`,
    (h) => `https:///${h}/`,
    (h) => `//${h}/`,
    (h) => `/\\${h}/`,
    (h) => `\\\\${h}/`,
    (h) => `https:\\\\${h}/`,
    (h) => `https://user@${h}/`,
    (h) => `https://good.example.com@${h}/`,
    (h) => `https://good.example.com:443@${h}/`,
    (h) => `https://${h}\\@good.example.com/`,
    (h) => `https://${h}%5c@good.example.com/`,
    (h) => ` https://${h}/`,
    (h) => `https://${h}/\t`,
    (h) => `https://${h}\t/`,
    (h) => `ht\ttps://${h}/`,
    (h) => `https://\n${h}/`,
    (h) => `https://${h}\r\n/`,
    (h) => `https://${h}\u3000/`,
    (h) => `https://${h}\u00a0/`,
    (h) => `javascript://${h}/%0aalert(1)`,
    (h) => `ftp://${h}/`,
    (h) => `wss://${h}/`,
  ];
  // Templates that are refused whatever the host, so they are applied to allowed hosts too.
  const brokenTemplates = templates.slice(5);
  const allowedHosts = ['good.example.com', 'one.apps.example.com', 'localhost:8080', '[::1]:8443'];

  const variants: string[] = [];
  for (const host of offListHosts) for (const template of templates) variants.push(template(host));
  for (const host of allowedHosts) for (const template of brokenTemplates) variants.push(template(host));
  for (const host of allowedHosts) for (const path of ['//evil.com', '/%2F%2Fevil.com', '/a%5c..%5cevil', '/%252e%252e/evil', '/%00']) variants.push(`https://${host}${path}`);

  it(`refuses all ${variants.length} generated off-list targets`, () => {
    expect(variants.length).toBeGreaterThan(1000);
    const accepted = variants.filter((target) => safeRedirect(target, allowed) !== null);
    expect(accepted).toEqual([]);
  });

  it('returns only URLs on an allowed origin, and never throws', () => {
    const hosts = fc.constantFrom('good.example.com', 'GOOD.example.com', 'good.example.com.', 'evil.com', 'a.apps.example.com', 'a.b.apps.example.com', 'localhost', '[::1]', 'good.example.com@evil.com');
    const target = fc.oneof(
      fc.tuple(fc.constantFrom('https://', 'http://', 'https:', '//', 'HTTPS://', 'https:/'), hosts, fc.constantFrom('', ':443', ':8080', ':8443', ':'), fc.string({ unit: 'binary-ascii', maxLength: 20 })).map((parts) => parts.join('')),
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc.string({ unit: 'binary', maxLength: 60 }),
    );
    const origins = new Set(['https://good.example.com', 'http://localhost:8080', 'https://[::1]:8443']);
    fc.assert(
      fc.property(target, (raw) => {
        const url = safeRedirect(raw, allowed);
        if (url === null) return;
        expect(origins.has(url.origin) || /^https:\/\/[a-z0-9-]+\.apps\.example\.com$/.test(url.origin)).toBe(true);
        expect(url.username + url.password).toBe('');
        expect(normalizePath(url.pathname)).not.toBeNull();
      }),
      { numRuns: 5000 },
    );
  });
});
