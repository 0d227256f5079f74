/** Directory source validation: every bad setting is refused with the field named. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirectoryConfigError, directorySource, type DirectorySourceInput } from '../../src/directory/index.ts';

const base: DirectorySourceInput = { urls: ['ldaps://dc1.example.test'], bindDn: 'cn=svc,dc=example,dc=test', bindPassword: 's3cret', baseDn: 'dc=example,dc=test' };

function fieldOf(input: DirectorySourceInput): string | undefined {
  try {
    directorySource(input);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(DirectoryConfigError);
    return (e as DirectoryConfigError).field;
  }
}

describe('directorySource', () => {
  it('fills safe defaults: certificate checking on, uid, 5 s timeout, no StartTLS', () => {
    expect(directorySource(base)).toEqual({ ...base, startTls: false, rejectUnauthorized: true, timeoutMs: 5000, userAttribute: 'uid' });
  });

  it('names the bad field', () => {
    expect(fieldOf({ ...base, urls: [] })).toBe('urls');
    expect(fieldOf({ ...base, urls: ['ldaps://ok.test', 'http://dc2.test'] })).toBe('urls[1]');
    expect(fieldOf({ ...base, urls: ['not a url'] })).toBe('urls[0]');
    expect(fieldOf({ ...base, bindDn: ' ' })).toBe('bindDn');
    expect(fieldOf({ ...base, bindPassword: '' })).toBe('bindPassword');
    expect(fieldOf({ ...base, baseDn: '' })).toBe('baseDn');
    expect(fieldOf({ ...base, timeoutMs: 0 })).toBe('timeoutMs');
    expect(fieldOf({ ...base, timeoutMs: 1.5 })).toBe('timeoutMs');
    expect(fieldOf({ ...base, userAttribute: 'uid)(cn=*' })).toBe('userAttribute');
    expect(fieldOf({ ...base, caPem: 'not pem' })).toBe('caPem');
    expect(fieldOf({ ...base, bindPasswordFile: '/nonexistent/secret' })).toBe('bindPasswordFile');
  });

  it('reads the service password from a *_FILE secret, dropping one trailing newline; an empty file is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'countersign-dir-'));
    try {
      writeFileSync(join(dir, 'pw'), 'from-file \n');
      expect(directorySource({ ...base, bindPassword: undefined, bindPasswordFile: join(dir, 'pw') }).bindPassword).toBe('from-file ');
      writeFileSync(join(dir, 'empty'), '\n');
      expect(fieldOf({ ...base, bindPasswordFile: join(dir, 'empty') })).toBe('bindPassword');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
