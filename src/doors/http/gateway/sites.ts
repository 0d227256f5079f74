/**
 * The protected sites of the web gateway, compiled once: which site a request is for (by its
 * origin), its public paths, its denied networks, and the origins the sign-in page may send
 * people back to.
 */
import { NetworkList } from '../../../core/auth/networks.ts';
import { compilePathRules, type AllowedOrigin } from './targets.ts';

export interface GatewaySiteConfig {
  /** Name in logs, the session and the URLs of the sign-in page. */
  readonly name: string;
  /** The core application whose policy (allowed methods, trusted networks) applies and whose name the audit trail shows. */
  readonly application: string;
  /** Origins of the site: `https://wiki.example.com`, `http://127.0.0.1:8080`. */
  readonly origins: readonly string[];
  /** Paths anyone may reach without signing in: `/static/**`, `/health`, `/api/*\/status`. */
  readonly publicPaths: readonly string[];
  /** Client networks refused outright (403), signed in or not. */
  readonly deniedNetworks: readonly string[];
  /**
   * Access rules by path: for the paths listed, clients in `deniedNetworks` are refused, and when
   * `allowedNetworks` is given, clients outside it too (`/admin/**` only from the office network).
   */
  readonly pathRules?: readonly PathRuleConfig[] | undefined;
  /** How long a second factor is remembered for this site (the cookie cache), in seconds. */
  readonly cacheSeconds: number;
  /** A page of the administrator's own shown (403) when a sign-in to this site is denied; absent: the sign-in form with the failure. */
  readonly denialHtml?: string | undefined;
  /** Directory groups passed to the application in Remote-Groups, by name, when the user is a member (checked at sign-in). */
  readonly groups?: readonly { readonly name: string; readonly directory: string; readonly group: string }[] | undefined;
}

export interface PathRuleConfig {
  readonly paths: readonly string[];
  readonly deniedNetworks?: readonly string[] | undefined;
  readonly allowedNetworks?: readonly string[] | undefined;
}

/**
 * A compiled site. Its checks take the request's path already canonical (`normalizePath` of the
 * raw target, computed once per request), null when it could be read two ways.
 */
export interface Site extends GatewaySiteConfig {
  /** Whether the path passes without sign-in; an ambiguous (null) path never does. */
  isPublic(path: string | null): boolean;
  /** Whether a client is refused this path (the site's denied networks, then its path rules). An ambiguous (null) path meets every rule. */
  refuses(path: string | null, clientIp: string | null): boolean;
}

/** Where a request was going, as the reverse proxy reports it. The path stays as the client sent it. */
export interface Target {
  readonly origin: string;
  /** Path and query exactly as sent (never decoded here). */
  readonly rawPath: string;
  readonly url: string;
}

const DEFAULT_PORT: Record<string, string> = { https: '443', http: '80' };
const ORIGIN = /^(https?):\/\/([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$/;

/** `HTTPS://Wiki.Example.com:443` -> `https://wiki.example.com`; undefined when not a plain origin. */
export function canonicalOrigin(text: string): string | undefined {
  const m = ORIGIN.exec(text.trim().toLowerCase());
  if (!m) return undefined;
  const [, scheme, host, port] = m as unknown as [string, string, string, string | undefined];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return undefined;
  return port === undefined || port === DEFAULT_PORT[scheme] ? `${scheme}://${host}` : `${scheme}://${host}:${Number(port)}`;
}

/** The redirect allow-list entry of an origin. */
function allowedOrigin(origin: string): AllowedOrigin {
  const url = new URL(origin);
  const scheme = url.protocol === 'http:' ? 'http' : 'https';
  return url.port === '' ? { scheme, host: url.hostname } : { scheme, host: url.hostname, port: Number(url.port) };
}

export interface SiteTable {
  readonly sites: readonly Site[];
  /** The site of an origin (canonical form), or undefined. */
  byOrigin(origin: string): Site | undefined;
  /** Every site origin: where the sign-in page may send people back to. */
  readonly allowed: readonly AllowedOrigin[];
}

/** Compiles the sites; throws an Error naming the bad site and field. */
export function compileSites(configs: readonly GatewaySiteConfig[]): SiteTable {
  const byOrigin = new Map<string, Site>();
  const byName = new Map<string, Site>();
  for (const [i, c] of configs.entries()) {
    const where = `gateway.sites[${i}] (${c.name})`;
    if (byName.has(c.name)) throw new Error(`${where}: another site has this name`);
    let isPublicPath: (path: string) => boolean;
    try {
      isPublicPath = compilePathRules(c.publicPaths);
    } catch (e) {
      throw new Error(`${where}.publicPaths: ${(e as Error).message}`);
    }
    let denied: NetworkList;
    try {
      denied = new NetworkList(c.deniedNetworks);
    } catch (e) {
      throw new Error(`${where}.deniedNetworks: ${(e as Error).message}`);
    }
    const rules = (c.pathRules ?? []).map((r, j) => {
      try {
        return { matches: compilePathRules(r.paths), denied: new NetworkList(r.deniedNetworks ?? []), allowed: r.allowedNetworks && r.allowedNetworks.length > 0 ? new NetworkList(r.allowedNetworks) : undefined };
      } catch (e) {
        throw new Error(`${where}.pathRules[${j}]: ${(e as Error).message}`);
      }
    });
    const origins = c.origins.map((o) => {
      const canonical = canonicalOrigin(o);
      if (!canonical) throw new Error(`${where}.origins: "${o}" is not an origin such as https://wiki.example.com or http://10.0.0.5:8080`);
      if (byOrigin.has(canonical)) throw new Error(`${where}.origins: "${o}" belongs to another site already`);
      return canonical;
    });
    const site: Site = {
      ...c,
      origins,
      refuses: (path, clientIp) => {
        if (denied.contains(clientIp)) return true;
        return rules.some((r) => (path === null || r.matches(path)) && (r.denied.contains(clientIp) || (r.allowed !== undefined && !r.allowed.contains(clientIp))));
      },
      isPublic: (path) => path !== null && isPublicPath(path),
    };
    for (const o of origins) byOrigin.set(o, site);
    byName.set(c.name, site);
  }
  const sites = [...byName.values()];
  return {
    sites,
    byOrigin: (origin) => byOrigin.get(origin),
    allowed: sites.flatMap((s) => s.origins.map(allowedOrigin)),
  };
}

/**
 * The original request from the proxy's headers. Each decision endpoint reads one convention only,
 * so a header the proxy does not set (and may pass on from the client) is never believed:
 * 'original-url' reads `X-Original-URL` (nginx auth_request, HAProxy), 'forwarded' reads
 * `X-Forwarded-Proto` + `X-Forwarded-Host` + `X-Forwarded-Uri` (Traefik, Caddy), which those
 * proxies set themselves.
 */
export function originalTarget(headers: Record<string, string | string[] | undefined>, convention: 'original-url' | 'forwarded'): Target | undefined {
  const one = (name: string): string | undefined => {
    const v = headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  let scheme: string | undefined;
  let authority: string | undefined;
  let rawPath: string | undefined;
  if (convention === 'original-url') {
    const m = /^(https?):\/\/([^/?#\s]+)([^#\s]*)$/i.exec(one('x-original-url') ?? '');
    if (!m) return undefined;
    [, scheme, authority, rawPath] = m as unknown as [string, string, string, string];
  } else {
    scheme = one('x-forwarded-proto');
    authority = one('x-forwarded-host');
    rawPath = one('x-forwarded-uri');
    if (scheme === undefined || authority === undefined || rawPath === undefined || /[\s#]/.test(rawPath)) return undefined;
  }
  if (rawPath === '') rawPath = '/';
  if (!rawPath.startsWith('/')) return undefined;
  const origin = canonicalOrigin(`${scheme}://${authority}`);
  return origin ? { origin, rawPath, url: `${origin}${rawPath}` } : undefined;
}
