/**
 * A directory source: where and how Countersign reaches an LDAP directory. `urls` are tried in
 * order (primary first, then backups). Certificate checking is on unless explicitly turned off.
 */
import { readFileSync } from 'node:fs';

export interface DirectorySource {
  /** ldap:// or ldaps:// URLs, tried in order for every connection. */
  urls: string[];
  /** Service account used to look users up (simple bind). */
  bindDn: string;
  bindPassword: string;
  /** Subtree searched for users. */
  baseDn: string;
  /** Upgrade ldap:// connections with StartTLS before any bind. Ignored for ldaps://. */
  startTls: boolean;
  /** PEM of the CA(s) that issued the directory's certificate; the system store when absent. */
  caPem?: string;
  /** Verify the directory's certificate and host name (default true). */
  rejectUnauthorized: boolean;
  /** Per-URL connect timeout and per-operation timeout, in milliseconds. */
  timeoutMs: number;
  /** Attribute holding the login name: uid (OpenLDAP), sAMAccountName (Active Directory). */
  userAttribute: string;
}

export type DirectorySourceInput = Omit<DirectorySource, 'rejectUnauthorized' | 'timeoutMs' | 'userAttribute' | 'startTls' | 'bindPassword'> & {
  startTls?: boolean;
  rejectUnauthorized?: boolean;
  timeoutMs?: number;
  userAttribute?: string;
  bindPassword?: string;
  /** Path of a file holding the service account password (container secrets); wins over bindPassword. */
  bindPasswordFile?: string;
};

export class DirectoryConfigError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'DirectoryConfigError';
    this.field = field;
  }
}

const ATTRIBUTE = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;

/** Validates a source and fills defaults. Throws DirectoryConfigError naming the bad field. */
export function directorySource(input: DirectorySourceInput): DirectorySource {
  if (!Array.isArray(input.urls) || input.urls.length === 0) throw new DirectoryConfigError('urls', 'at least one ldap:// or ldaps:// URL is required');
  input.urls.forEach((u, i) => {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new DirectoryConfigError(`urls[${i}]`, 'not a URL');
    }
    if (parsed.protocol !== 'ldap:' && parsed.protocol !== 'ldaps:') throw new DirectoryConfigError(`urls[${i}]`, 'must start with ldap:// or ldaps://');
    if (!parsed.hostname) throw new DirectoryConfigError(`urls[${i}]`, 'host is missing');
  });
  if (typeof input.bindDn !== 'string' || input.bindDn.trim() === '') throw new DirectoryConfigError('bindDn', 'the service account DN is required');
  let bindPassword = input.bindPassword ?? '';
  if (input.bindPasswordFile !== undefined) {
    try {
      bindPassword = readFileSync(input.bindPasswordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new DirectoryConfigError('bindPasswordFile', `cannot read: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  // An empty password would turn the service bind into an unauthenticated bind.
  if (bindPassword === '') throw new DirectoryConfigError('bindPassword', 'the service account password is required (or bindPasswordFile)');
  if (typeof input.baseDn !== 'string' || input.baseDn.trim() === '') throw new DirectoryConfigError('baseDn', 'the search base DN is required');
  const timeoutMs = input.timeoutMs ?? 5000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 120_000) throw new DirectoryConfigError('timeoutMs', 'must be an integer from 100 to 120000');
  const userAttribute = input.userAttribute ?? 'uid';
  if (!ATTRIBUTE.test(userAttribute)) throw new DirectoryConfigError('userAttribute', 'must be an attribute name such as uid or sAMAccountName');
  if (input.caPem !== undefined && !input.caPem.includes('-----BEGIN CERTIFICATE-----')) throw new DirectoryConfigError('caPem', 'must be PEM certificates');
  const rejectUnauthorized = input.rejectUnauthorized ?? true;
  return {
    urls: [...input.urls],
    bindDn: input.bindDn,
    bindPassword,
    baseDn: input.baseDn,
    startTls: input.startTls ?? false,
    ...(input.caPem !== undefined ? { caPem: input.caPem } : {}),
    rejectUnauthorized,
    timeoutMs,
    userAttribute,
  };
}
