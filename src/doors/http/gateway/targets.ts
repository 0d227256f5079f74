/**
 * Request-target rules for the web gateway: which paths pass without sign-in, and where the sign-in
 * page may send the user back to. Pure functions, no I/O.
 *
 * Fail closed. A reverse proxy, Countersign and the application behind them can each read one
 * request target differently (encoded slashes, dot segments, `;` parameters, double encoding,
 * Unicode look-alikes). Whenever a path or a redirect target could be read in more than one way,
 * these functions refuse it: `normalizePath` returns null, `isPublic` returns false (the request
 * then needs sign-in) and `safeRedirect` returns null (the caller falls back to its default page).
 * Refusing a rare legitimate path costs a sign-in; accepting an ambiguous one opens a bypass.
 */
import { CoreError } from '../../../core/errors.ts';

/** An origin the sign-in page may redirect to. */
export interface AllowedOrigin {
  readonly scheme: 'https' | 'http';
  /**
   * Lowercase ASCII host as WHATWG URL serializes it: a DNS name without trailing dot (IDN in
   * punycode, `xn--...`), an IPv4 address, or an IPv6 address in brackets (`[::1]`). `*.example.com`
   * allows any single label below example.com (`a.example.com`, not `a.b.example.com`, not
   * `example.com` itself).
   */
  readonly host: string;
  /** Omitted: the scheme's default port (443, 80). */
  readonly port?: number;
}

/** Longest redirect target accepted, in characters. */
export const MAX_REDIRECT_LENGTH = 2048;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// Bytes an escape may not produce: `/`, `\` and `;` (they would change the segment structure for
// some reader), `%` (double encoding), `?` and `#` (they would cut the path when read again), and
// control characters.
const REFUSED_ESCAPE = new Uint8Array(256);
for (const b of [0x2f, 0x5c, 0x3b, 0x25, 0x3f, 0x23, 0x7f]) REFUSED_ESCAPE[b] = 1;
for (let b = 0; b < 0x20; b++) REFUSED_ESCAPE[b] = 1;

// Characters that matter to path structure; NFKC must not create or remove any (`․` U+2024 -> `.`,
// `／` U+FF0F -> `/`), as some applications normalize Unicode after the check.
const STRUCTURAL = /[/.\\%;?#]/g;
// Control, format (zero-width, BOM, bidi) and line/paragraph separator characters.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
// A segment of dots and spaces other than `.` and `..`: Windows trims trailing dots and spaces.
const DOTS_AND_SPACES = /^[. ]+$/;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Decodes each run of `%XX` escapes once, as UTF-8. Null for a bad escape, a refused byte or invalid UTF-8. */
function percentDecode(path: string): string | null {
  let out = '';
  let i = 0;
  for (;;) {
    const pct = path.indexOf('%', i);
    if (pct < 0) return out + path.slice(i);
    out += path.slice(i, pct);
    const bytes: number[] = [];
    let j = pct;
    while (path.charCodeAt(j) === 0x25) {
      const hi = hexValue(path.charCodeAt(j + 1));
      const lo = hexValue(path.charCodeAt(j + 2));
      if (hi < 0 || lo < 0) return null;
      const byte = hi * 16 + lo;
      if (REFUSED_ESCAPE[byte] === 1) return null;
      bytes.push(byte);
      j += 3;
    }
    try {
      out += utf8.decode(Uint8Array.from(bytes));
    } catch {
      return null; // overlong forms (%c0%ae), encoded surrogates, truncated sequences
    }
    i = j;
  }
}

function countStructural(text: string): number {
  return text.match(STRUCTURAL)?.length ?? 0;
}

/**
 * The canonical path, or null. `stripParams` reads `;` as the start of a path parameter (Tomcat,
 * Jetty); without it `;` is part of the segment name (nginx, Apache, most static servers).
 */
function canonicalPath(raw: string, stripParams: boolean): string | null {
  let end = raw.length;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x3f || c === 0x23) {
      end = i;
      break;
    }
  }
  const rawPath = end === raw.length ? raw : raw.slice(0, end);
  if (rawPath.charCodeAt(0) !== 0x2f) return null;

  let ascii = true;
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x5c) return null;
    if (c > 0x7f) ascii = false;
  }
  if (!ascii && !rawPath.isWellFormed()) return null;

  const path = rawPath.includes('%') ? percentDecode(rawPath) : rawPath;
  if (path === null) return null;
  if (!ascii || path !== rawPath) {
    if (INVISIBLE.test(path)) return null;
    const folded = path.normalize('NFKC');
    if (folded !== path && countStructural(folded) !== countStructural(path)) return null;
  }

  // RFC 3986 5.2.4 on segments, with empty segments collapsed; `..` above the root is refused.
  const segments = path.split('/');
  const out: string[] = [];
  let trailingSlash = false;
  for (let i = 1; i < segments.length; i++) {
    let segment = segments[i] ?? '';
    if (stripParams) {
      const semicolon = segment.indexOf(';');
      if (semicolon >= 0) segment = segment.slice(0, semicolon);
    }
    const last = i === segments.length - 1;
    if (segment === '' || segment === '.') {
      trailingSlash = last;
    } else if (segment === '..') {
      if (out.pop() === undefined) return null;
      trailingSlash = last;
    } else if (DOTS_AND_SPACES.test(segment)) {
      return null;
    } else {
      out.push(segment);
      trailingSlash = false;
    }
  }
  if (out.length === 0) return '/';
  return '/' + out.join('/') + (trailingSlash ? '/' : '');
}

/**
 * The canonical form of a request target's path, or null when it is ambiguous or unsafe.
 *
 * Cuts the query (`?`) and fragment (`#`); the path must start with `/`. Decodes `%XX` escapes exactly
 * once as UTF-8. Null for: a malformed escape; an escape of `/`, `\`, `;`, `%`, `?`, `#` or a control
 * character (encoded separators, double encoding); invalid or overlong UTF-8; a raw backslash or
 * control character; invisible Unicode (format characters, separators); Unicode whose NFKC form adds
 * or removes `/ . \ % ; ? #` (`%e2%80%a4` one-dot leader); a segment of only dots and spaces other
 * than `.` and `..`; `..` above the root. Collapses repeated slashes, resolves `.` and `..`, strips
 * `;parameters` from each segment (`/admin;x=1/` -> `/admin/`), keeps case and a trailing slash.
 *
 * The result contains no `%`, so it is a fixed point: `normalizePath(normalizePath(x)) === normalizePath(x)`.
 */
export function normalizePath(raw: string): string | null {
  return canonicalPath(raw, true);
}

/**
 * Compiles public-path patterns into a matcher for canonical paths (from `normalizePath`).
 *
 * - `/health`: exactly that path (`/health/` is a different path);
 * - `*` as a whole segment: any one non-empty segment (`/api/*` matches `/api/v1`, not `/api/v1/x`);
 * - `/static/**`: `/static`, `/static/` and everything below, on a segment boundary (not `/staticfoo`).
 *
 * Case-sensitive. Throws CoreError('config_invalid') naming a pattern that does not start with `/`,
 * is not already canonical (`..`, `.`, `//`, `;`), holds `%`, `\`, `?`, `#` or a control character,
 * uses `*` inside a segment, or `**` anywhere but as the whole last segment.
 *
 * Written here rather than with picomatch: the grammar has three forms, and picomatch's further syntax
 * (braces, extglobs, `?`, classes, dotfile rules) would have to be refused anyway. The patterns become
 * one anchored regular expression built once; a match allocates nothing.
 */
export function compilePathRules(patterns: readonly string[]): (path: string) => boolean {
  if (patterns.length === 0) return () => false;
  const alternatives = patterns.map(compilePattern);
  const regex = new RegExp(`^(?:${alternatives.join('|')})$`);
  return (path) => regex.test(path);
}

function compilePattern(pattern: string): string {
  const fail = (why: string): never => {
    throw new CoreError('config_invalid', `gateway public path "${pattern}": ${why}`, { publicPaths: `invalid pattern "${pattern}"` });
  };
  if (!pattern.startsWith('/')) fail('must start with /');
  if (/[%\\?#;]/.test(pattern) || INVISIBLE.test(pattern)) fail('must not contain %, \\, ?, #, ; or control characters');
  const segments = pattern.split('/').slice(1);
  const wildcardsAsNames = segments.map((s) => (s === '*' || s === '**' ? 'x' : s)).join('/');
  if (normalizePath('/' + wildcardsAsNames) !== '/' + wildcardsAsNames) fail('must be a canonical path (no ., .., // or ;)');

  let source = '';
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] ?? '';
    const last = i === segments.length - 1;
    if (segment === '**') {
      if (!last) fail('** is only allowed as the whole last segment');
      return source + '(?:/.*)?';
    }
    if (segment.includes('**')) fail('** is only allowed as the whole last segment');
    if (segment === '*') source += '/[^/]+';
    else if (segment.includes('*')) fail('* must be a whole segment');
    else source += '/' + segment.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return source;
}

/**
 * Whether a request may pass without sign-in: its path is canonical under `normalizePath` and matches
 * the rules. A path holding `;` must match both with parameters stripped (Tomcat, Jetty) and with `;`
 * kept in the segment (nginx, Apache): `/public/..;/admin` and `/public;/x` are not public.
 */
export function isPublic(rawPath: string, rules: (path: string) => boolean): boolean {
  const stripped = canonicalPath(rawPath, true);
  if (stripped === null || !rules(stripped)) return false;
  if (!rawPath.includes(';')) return true;
  const kept = canonicalPath(rawPath, false);
  return kept !== null && rules(kept);
}

const SCHEME_PREFIX = /^(https?):\/\//i;
// The authority, whitelisted before WHATWG parsing: a DNS name or IPv4 address, or an IPv6 literal,
// and an optional port. No userinfo (`@`), escapes, Unicode or empty port.
const AUTHORITY = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$/i;
// Whitespace (Unicode included), controls, format characters and backslash, anywhere in the target.
const REDIRECT_REFUSED = /[\s\p{Cc}\p{Cf}\\]/u;
const IPV4 = /^[0-9.]+$/;

/**
 * The target as a parsed URL when it is an absolute `http(s)` URL on an allowed origin, else null.
 * Callers redirect to the returned URL's `href`, never to the original string.
 *
 * Refused: longer than MAX_REDIRECT_LENGTH; any whitespace, control or format character, or backslash;
 * anything but `scheme://authority` at the start (relative targets, `//evil`, `/\evil`, `https:evil`,
 * `https:/evil`, `https:///evil`); an authority with userinfo, escapes, Unicode or an empty port
 * (IDN hosts arrive in punycode: browsers send Host that way); a host with a trailing dot
 * (`good.example.` is a different origin to cookies; refused, not normalized); a path that
 * `normalizePath` refuses or that holds `//`.
 *
 * Scheme, host and port are compared after WHATWG URL parsing, so `HTTPS://Good.Example.COM:443/`
 * matches `{ scheme: 'https', host: 'good.example.com' }`. Wildcard hosts match one DNS label, never
 * an IP address.
 */
export function safeRedirect(target: string, allowed: readonly AllowedOrigin[]): URL | null {
  if (target.length > MAX_REDIRECT_LENGTH || REDIRECT_REFUSED.test(target)) return null;
  const prefix = SCHEME_PREFIX.exec(target);
  if (prefix === null) return null;
  const rest = target.slice(prefix[0].length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  if (!AUTHORITY.test(authority)) return null;

  const url = URL.parse(target);
  if (url === null || url.username !== '' || url.password !== '') return null;
  const scheme = url.protocol === 'https:' ? 'https' : url.protocol === 'http:' ? 'http' : null;
  if (scheme === null || url.hostname === '' || url.hostname.endsWith('.')) return null;
  if (url.pathname.includes('//') || normalizePath(url.pathname) === null) return null;

  const port = url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port);
  for (const origin of allowed) {
    if (origin.scheme !== scheme) continue;
    if ((origin.port ?? (scheme === 'https' ? 443 : 80)) !== port) continue;
    if (hostMatches(origin.host, url.hostname)) return url;
  }
  return null;
}

function hostMatches(pattern: string, hostname: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === hostname;
  const suffix = pattern.slice(1);
  if (hostname.startsWith('[') || IPV4.test(hostname) || !hostname.endsWith(suffix)) return false;
  const label = hostname.slice(0, hostname.length - suffix.length);
  return label !== '' && !label.includes('.');
}
