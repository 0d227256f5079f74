/**
 * Connections to a directory source: ordered fail-over across its URLs, StartTLS before any bind,
 * and a report of exactly which URL failed at which stage and why. Built on ldapts.
 */
import type { ConnectionOptions } from 'node:tls';
import { isIP } from 'node:net';
import { Client, ResultCodeError } from 'ldapts';
import type { DirectorySource } from './source.ts';

/** Where an attempt failed: TCP, TLS handshake or certificate, the StartTLS request, the bind, the base DN search. */
export type DirectoryStage = 'connect' | 'tls' | 'starttls' | 'bind' | 'search';

export interface DirectoryAttempt {
  url: string;
  ok: boolean;
  /** Set on failure. */
  stage?: DirectoryStage;
  /** errno / TLS code (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT) or LDAP result code (49). */
  code?: string | number;
  /** Human-readable cause; never contains the password. */
  message?: string;
}

export class DirectoryUnavailableError extends Error {
  readonly attempts: DirectoryAttempt[];
  constructor(attempts: DirectoryAttempt[]) {
    super(`directory unavailable: ${attempts.map((a) => `${a.url} ${a.stage ?? ''} ${a.code ?? ''} ${a.message ?? ''}`.trim()).join('; ')}`);
    this.name = 'DirectoryUnavailableError';
    this.attempts = attempts;
  }
}

/** A failure at one stage of one URL. `cause` is the original error (LDAP result codes are kept). */
export class DirectoryStageError extends Error {
  readonly attempt: DirectoryAttempt;
  override readonly cause: unknown;
  constructor(attempt: DirectoryAttempt, cause: unknown) {
    super(`${attempt.url}: ${attempt.stage ?? ''} failed: ${attempt.message ?? ''}`);
    this.name = 'DirectoryStageError';
    this.attempt = attempt;
    this.cause = cause;
  }
}

const TLS_CODE = /CERT|SSL|TLS|SIGNATURE|ISSUER|HOSTNAME|ALTNAME/;

function classify(url: string, step: 'starttls' | 'bind' | 'search', err: unknown): DirectoryAttempt {
  if (err instanceof ResultCodeError) {
    return { url, ok: false, stage: step, code: err.code, message: err.message || err.name };
  }
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = e instanceof Error ? e.message : String(err);
  if (code && TLS_CODE.test(code)) return { url, ok: false, stage: 'tls', code, message };
  if (/certificate|handshake|tls|ssl/i.test(message)) return { url, ok: false, stage: 'tls', ...(code ? { code } : {}), message };
  return { url, ok: false, stage: 'connect', code: code ?? (/timeout/i.test(message) ? 'ETIMEDOUT' : 'ECONNECT'), message };
}

function tlsOptions(source: DirectorySource, host: string): ConnectionOptions {
  return {
    rejectUnauthorized: source.rejectUnauthorized,
    ...(source.caPem !== undefined ? { ca: [source.caPem] } : {}),
    // Host name checking against the URL's host (SNI only for names, not addresses).
    host,
    ...(isIP(host) === 0 ? { servername: host } : {}),
  };
}

/** Closes a client without waiting long on a dead peer. */
export async function closeQuietly(client: Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.unbind().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 1000);
      timer.unref();
    }),
  ]);
  if (timer) clearTimeout(timer);
}

/**
 * Opens one connection to `url`, upgrades it with StartTLS when configured, and binds as `dn`.
 * Refuses an empty password (it would be an unauthenticated bind). Throws DirectoryStageError.
 */
export async function openBound(source: DirectorySource, url: string, dn: string, password: string): Promise<Client> {
  if (password === '' || dn === '') throw new DirectoryStageError({ url, ok: false, stage: 'bind', code: 'EMPTY_CREDENTIALS', message: 'empty DN or password refused' }, null);
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const secure = url.toLowerCase().startsWith('ldaps:');
  const client = new Client({
    url,
    timeout: source.timeoutMs,
    connectTimeout: source.timeoutMs,
    ...(secure ? { tlsOptions: tlsOptions(source, host) } : {}),
  });
  let step: 'starttls' | 'bind' = 'bind';
  try {
    if (source.startTls && !secure) {
      step = 'starttls';
      await client.startTLS(tlsOptions(source, host));
    }
    step = 'bind';
    await client.bind(dn, password);
    return client;
  } catch (err) {
    await closeQuietly(client);
    throw new DirectoryStageError(classify(url, step, err), err);
  }
}

export interface ServiceSession {
  client: Client;
  /** The URL that answered (the first healthy one in order). */
  url: string;
  attempts: DirectoryAttempt[];
}

/** Binds as the service account on the first URL that works, in order. Throws DirectoryUnavailableError. */
export async function connectService(source: DirectorySource): Promise<ServiceSession> {
  const attempts: DirectoryAttempt[] = [];
  for (const url of source.urls) {
    try {
      const client = await openBound(source, url, source.bindDn, source.bindPassword);
      attempts.push({ url, ok: true });
      return { client, url, attempts };
    } catch (err) {
      attempts.push(err instanceof DirectoryStageError ? err.attempt : classify(url, 'bind', err));
    }
  }
  throw new DirectoryUnavailableError(attempts);
}

export interface ConnectionReport {
  ok: boolean;
  /** The URL that answered, when one did. */
  url?: string;
  /** One entry per URL tried, in order; the failing one says at which stage and why. */
  attempts: DirectoryAttempt[];
}

/**
 * The "test connection" action: connect, StartTLS, bind as the service account and read the base
 * DN, reporting precisely what failed (for example `{stage: 'bind', code: 49}` for a bad password).
 */
export async function testConnection(source: DirectorySource): Promise<ConnectionReport> {
  let session: ServiceSession;
  try {
    session = await connectService(source);
  } catch (err) {
    if (err instanceof DirectoryUnavailableError) return { ok: false, attempts: err.attempts };
    throw err;
  }
  const { client, url, attempts } = session;
  try {
    await client.search(source.baseDn, { scope: 'base', attributes: ['1.1'], sizeLimit: 1 });
    return { ok: true, url, attempts };
  } catch (err) {
    attempts[attempts.length - 1] = classify(url, 'search', err);
    return { ok: false, url, attempts };
  } finally {
    await closeQuietly(client);
  }
}
