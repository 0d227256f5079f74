/**
 * The directory layer against a real OpenLDAP (Debian slapd) started by the test on loopback high
 * ports: first factor, fail-over, StartTLS/ldaps certificate checking and the test-connection report.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLdapFirstFactor, directorySource, testConnection, type DirectorySource, type DirectorySourceInput } from '../../src/directory/index.ts';
import { slapdAvailable, startSlapd, type Slapd } from '../support/slapd.ts';

const available = slapdAvailable();

let ldap: Slapd;
/** A loopback port nobody listens on (bound, then closed). */
let closedUrl: string;
/** A TCP listener that accepts and never answers (a hung directory). */
let silent: Server;
let silentUrl: string;
let wrongCaPem: string;

function source(overrides: Partial<DirectorySourceInput> = {}): DirectorySource {
  return directorySource({
    urls: [ldap.url],
    bindDn: ldap.bindDn,
    bindPassword: ldap.bindPassword,
    baseDn: ldap.baseDn,
    startTls: true,
    caPem: ldap.caPem,
    timeoutMs: 2000,
    ...overrides,
  });
}

describe.skipIf(!available)('LDAP directory (real slapd)', () => {
  beforeAll(async () => {
    ldap = await startSlapd();
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    closedUrl = `ldap://127.0.0.1:${port}`;
    silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    silentUrl = `ldap://127.0.0.1:${(silent.address() as { port: number }).port}`;
    wrongCaPem = (await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' } as never)).cert;
  });

  afterAll(async () => {
    silent?.close();
    await ldap?.stop();
  });

  describe('first factor', () => {
    it('signs in a user with the right password over StartTLS and returns the DN', async () => {
      const ff = createLdapFirstFactor(source());
      expect(await ff.verify('alice', 'alice-pass-1')).toEqual({ ok: true, dn: 'uid=alice,ou=people,dc=example,dc=test' });
      // Filter metacharacters in the password are just password bytes.
      expect(await ff.verify('bob', 'b0b*(pass)\\')).toEqual({ ok: true, dn: 'uid=bob,ou=people,dc=example,dc=test' });
    });

    it('refuses a wrong password', async () => {
      const ff = createLdapFirstFactor(source());
      expect(await ff.verify('alice', 'alice-pass-2')).toEqual({ ok: false, reason: 'invalid_credentials' });
      expect(await ff.verify('alice', 'carol-pass-3')).toEqual({ ok: false, reason: 'invalid_credentials' });
    });

    it('refuses an unknown user', async () => {
      const ff = createLdapFirstFactor(source());
      expect(await ff.verify('mallory', 'alice-pass-1')).toEqual({ ok: false, reason: 'unknown_user' });
    });

    it('refuses a login name that matches two entries', async () => {
      const ff = createLdapFirstFactor(source());
      expect(await ff.verify('dup', 'dup-pass')).toEqual({ ok: false, reason: 'ambiguous_user' });
    });

    it('refuses a disabled (policy-locked) account even with its right password', async () => {
      const ff = createLdapFirstFactor(source());
      expect(await ff.verify('dave', 'dave-pass-4')).toEqual({ ok: false, reason: 'invalid_credentials' });
    });

    it('refuses an empty password without contacting the directory', async () => {
      // The only URL is a closed port: had the provider tried to bind, the reason would be directory_unavailable.
      const ff = createLdapFirstFactor(source({ urls: [closedUrl] }));
      expect(await ff.verify('alice', '')).toEqual({ ok: false, reason: 'empty_password' });
      const live = createLdapFirstFactor(source());
      expect(await live.verify('alice', '')).toEqual({ ok: false, reason: 'empty_password' });
    });

    it('works over ldaps:// with the test CA', async () => {
      const ff = createLdapFirstFactor(source({ urls: [ldap.ldapsUrl], startTls: false }));
      expect(await ff.verify('carol', 'carol-pass-3')).toEqual({ ok: true, dn: 'uid=carol,ou=people,dc=example,dc=test' });
    });

    it('reports the directory unavailable when no URL answers', async () => {
      const ff = createLdapFirstFactor(source({ urls: [closedUrl] }));
      expect(await ff.verify('alice', 'alice-pass-1')).toEqual({ ok: false, reason: 'directory_unavailable' });
    });
  });

  describe('fail-over', () => {
    it('uses the backup URL when the primary port is closed', async () => {
      const src = source({ urls: [closedUrl, ldap.url] });
      expect(await createLdapFirstFactor(src).verify('alice', 'alice-pass-1')).toMatchObject({ ok: true });
      const report = await testConnection(src);
      expect(report.ok).toBe(true);
      expect(report.url).toBe(ldap.url);
      expect(report.attempts).toEqual([
        { url: closedUrl, ok: false, stage: 'connect', code: 'ECONNREFUSED', message: expect.any(String) },
        { url: ldap.url, ok: true },
      ]);
    });

    it('uses the backup URL when the primary accepts but never answers (timeout)', async () => {
      const src = source({ urls: [silentUrl, ldap.url], timeoutMs: 300 });
      const started = Date.now();
      expect(await createLdapFirstFactor(src).verify('alice', 'alice-pass-1')).toMatchObject({ ok: true });
      expect(Date.now() - started).toBeLessThan(5000);
      const report = await testConnection(src);
      expect(report.ok).toBe(true);
      expect(report.attempts[0]).toMatchObject({ url: silentUrl, ok: false });
    });
  });

  describe('TLS', () => {
    it('StartTLS with the test CA succeeds', async () => {
      const report = await testConnection(source());
      expect(report).toEqual({ ok: true, url: ldap.url, attempts: [{ url: ldap.url, ok: true }] });
    });

    it('StartTLS against a certificate from another CA fails at the tls stage', async () => {
      const report = await testConnection(source({ caPem: wrongCaPem }));
      expect(report.ok).toBe(false);
      expect(report.attempts).toHaveLength(1);
      expect(report.attempts[0]).toMatchObject({ url: ldap.url, ok: false, stage: 'tls' });
      const ff = createLdapFirstFactor(source({ caPem: wrongCaPem }));
      expect(await ff.verify('alice', 'alice-pass-1')).toEqual({ ok: false, reason: 'directory_unavailable' });
    });

    it('ldaps:// against a certificate from another CA fails at the tls stage', async () => {
      const report = await testConnection(source({ urls: [ldap.ldapsUrl], startTls: false, caPem: wrongCaPem }));
      expect(report.attempts[0]).toMatchObject({ url: ldap.ldapsUrl, ok: false, stage: 'tls' });
    });

    it('certificate checking is on by default (system CAs do not trust the test certificate)', async () => {
      const src = directorySource({ urls: [ldap.url], bindDn: ldap.bindDn, bindPassword: ldap.bindPassword, baseDn: ldap.baseDn, startTls: true });
      expect(src.rejectUnauthorized).toBe(true);
      const report = await testConnection(src);
      expect(report.attempts[0]).toMatchObject({ ok: false, stage: 'tls' });
    });
  });

  describe('test connection', () => {
    it('reports a bad service account password as a bind failure with result code 49', async () => {
      const report = await testConnection(source({ bindPassword: 'not-the-password' }));
      expect(report.ok).toBe(false);
      expect(report.attempts).toEqual([{ url: ldap.url, ok: false, stage: 'bind', code: 49, message: expect.any(String) }]);
    });

    it('reports a missing base DN as a search failure', async () => {
      const report = await testConnection(source({ baseDn: 'ou=nowhere,dc=example,dc=test' }));
      expect(report.ok).toBe(false);
      expect(report.attempts).toEqual([{ url: ldap.url, ok: false, stage: 'search', code: 32, message: expect.any(String) }]);
    });

    it('reports every URL tried, in order, when none works', async () => {
      const report = await testConnection(source({ urls: [closedUrl, ldap.url], bindPassword: 'wrong' }));
      expect(report.ok).toBe(false);
      expect(report.attempts.map((a) => [a.url, a.stage, a.code])).toEqual([
        [closedUrl, 'connect', 'ECONNREFUSED'],
        [ldap.url, 'bind', 49],
      ]);
    });
  });
});

describe.skipIf(!available)('test slapd', () => {
  it('stops its process and removes its directory', async () => {
    const s = await startSlapd();
    const port = Number(new URL(s.url).port);
    expect(port).toBeGreaterThan(1024);
    expect(existsSync(join(s.dir, 'slapd.conf'))).toBe(true);
    await s.stop();
    expect(existsSync(s.dir)).toBe(false);
    const report = await testConnection(directorySource({ urls: [s.url], bindDn: s.bindDn, bindPassword: s.bindPassword, baseDn: s.baseDn, startTls: false, timeoutMs: 1000 }));
    expect(report.attempts[0]).toMatchObject({ stage: 'connect', code: 'ECONNREFUSED' });
  });
});
