import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { join } from 'node:path';
import { Secret } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { isCoreError } from '../../src/core/errors.ts';
import { openStore } from '../../src/store/index.ts';
import { createKeyFile, Keyring, keyringFromKeys, loadKeyring, rotateKeyFile } from '../../src/store/keyring.ts';
import { tempDirHooks } from './temp-dir.ts';

const dir = tempDirHooks('countersign-keyring-');
const path = (name: string): string => dir.path(`${name}-${randomUUID()}`);

async function configError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (e) {
    expect(isCoreError(e, 'config_invalid'), String(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected config_invalid');
}

describe('Keyring sealing', () => {
  const keyring = keyringFromKeys({ k1: randomBytes(32), k2: randomBytes(32) }, 'k1', randomBytes(32));

  it('round-trips secrets of any length in the documented format', () => {
    for (const length of [0, 1, 10, 20, 32, 64, 1000]) {
      const plain = randomBytes(length);
      const sealed = keyring.seal(plain, 'method-1');
      expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
      expect(Buffer.from(sealed.split('.')[3] as string, 'base64url')).toHaveLength(length + 16);
      expect(keyring.open(sealed, 'method-1')).toEqual(new Uint8Array(plain));
    }
  });

  it('uses a fresh IV every time', () => {
    const plain = randomBytes(20);
    const seals = new Set(Array.from({ length: 50 }, () => keyring.seal(plain, 'm')));
    expect(seals.size).toBe(50);
    expect(new Set([...seals].map((s) => s.split('.')[2])).size).toBe(50);
  });

  it('detects any flipped byte in the IV, the ciphertext or the tag', () => {
    const sealed = keyring.seal(randomBytes(20), 'm');
    const [v, kid, iv, body] = sealed.split('.') as [string, string, string, string];
    const flip = (b64: string, index: number): string => {
      const bytes = Buffer.from(b64, 'base64url');
      bytes[index] = (bytes[index] as number) ^ 0x01;
      return bytes.toString('base64url');
    };
    const bodyLength = Buffer.from(body, 'base64url').length;
    for (let i = 0; i < 12; i++) expect(() => keyring.open([v, kid, flip(iv, i), body].join('.'), 'm')).toThrow();
    for (let i = 0; i < bodyLength; i++) expect(() => keyring.open([v, kid, iv, flip(body, i)].join('.'), 'm')).toThrow();
  });

  it('refuses the wrong associated data: a secret moved to another row does not open', () => {
    const sealed = keyring.seal(randomBytes(20), 'method-a');
    expect(() => keyring.open(sealed, 'method-b')).toThrow();
    expect(() => keyring.open(sealed, '')).toThrow();
  });

  it('refuses an unknown key id, another key id, and malformed values', () => {
    const sealed = keyring.seal(randomBytes(20), 'm');
    expect(() => keyring.open(sealed.replace('.k1.', '.k9.'), 'm')).toThrow(/k9/);
    expect(() => keyring.open(sealed.replace('.k1.', '.k2.'), 'm')).toThrow();
    for (const bad of ['', 'v1', 'v2.k1.aaaa.bbbb', sealed.split('.').slice(0, 3).join('.'), `${sealed}.x`, 'v1.k1.AAAA.AAAAAAAAAAAAAAAAAAAAAA']) {
      expect(() => keyring.open(bad, 'm')).toThrow();
    }
  });

  it('shows no key material when logged or serialized', () => {
    const key = randomBytes(32);
    const pepper = randomBytes(32);
    const ring = keyringFromKeys({ k1: key }, 'k1', pepper);
    const shown = `${inspect(ring, { showHidden: true, depth: 5 })} ${JSON.stringify(ring)} ${String(ring as unknown as string)}`;
    for (const secret of [key, pepper]) {
      for (const text of [secret.toString('hex'), secret.toString('base64'), Array.from(secret.subarray(0, 8)).join(', ')]) expect(shown).not.toContain(text);
    }
    expect(Buffer.from(ring.pepper)).toEqual(pepper);
    ring.pepper.fill(0);
    expect(Buffer.from(ring.pepper)).toEqual(pepper);
  });

  it('checks key and pepper sizes and the active key', () => {
    expect(() => keyringFromKeys({ k1: randomBytes(16) }, 'k1', randomBytes(32))).toThrow();
    expect(() => keyringFromKeys({ k1: randomBytes(32) }, 'k1', randomBytes(8))).toThrow();
    expect(() => keyringFromKeys({ k1: randomBytes(32) }, 'k2', randomBytes(32))).toThrow();
    expect(() => keyringFromKeys({ 'bad.kid': randomBytes(32) }, 'bad.kid', randomBytes(32))).toThrow();
    expect(() => new Keyring(new Map([['k1', randomBytes(31)]]), 'k1', randomBytes(32))).toThrow();
  });
});

describe('key files', () => {
  it('creates a file with mode 0600 in the documented format and loads it', async () => {
    const file = path('keys');
    await createKeyFile(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const json = JSON.parse(readFileSync(file, 'utf8')) as { keys: { k1: string }; pepper: string; vapid: { publicKey: string; privateKey: string } };
    expect(json).toEqual({
      version: 1,
      active: 'k1',
      keys: { k1: expect.any(String) },
      pepper: expect.any(String),
      vapid: { publicKey: expect.any(String), privateKey: expect.any(String) },
    });
    expect(Buffer.from(json.keys.k1, 'base64')).toHaveLength(32);
    expect(Buffer.from(json.pepper, 'base64')).toHaveLength(32);
    expect(Buffer.from(json.vapid.publicKey, 'base64url')).toHaveLength(65);
    expect(Buffer.from(json.vapid.privateKey, 'base64url')).toHaveLength(32);

    const keyring = await loadKeyring(file);
    expect(keyring.activeKid).toBe('k1');
    expect(Buffer.from(keyring.pepper)).toEqual(Buffer.from(json.pepper, 'base64'));
    expect(keyring.open(keyring.seal(Buffer.from('hello'), 'a'), 'a')).toEqual(new Uint8Array(Buffer.from('hello')));
  });

  it('refuses to overwrite an existing file', async () => {
    const file = path('keys');
    await createKeyFile(file);
    const before = readFileSync(file, 'utf8');
    expect(await configError(createKeyFile(file))).toContain(file);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('refuses a file readable by group or other, naming the path and the fix', async () => {
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      const file = path('keys');
      await createKeyFile(file);
      chmodSync(file, mode);
      const message = await configError(loadKeyring(file));
      expect(message).toContain(file);
      expect(message).toContain('chmod 600');
    }
  });

  it('refuses malformed files with a clear error', async () => {
    const key = randomBytes(32).toString('base64');
    const cases: Array<[string, RegExp]> = [
      ['not json', /not valid JSON/],
      ['[]', /object/],
      [JSON.stringify({ version: 2, active: 'k1', keys: { k1: key }, pepper: key }), /version/],
      [JSON.stringify({ version: 1, active: 'k2', keys: { k1: key }, pepper: key }), /active/],
      [JSON.stringify({ version: 1, active: 'k1', keys: {}, pepper: key }), /keys/],
      [JSON.stringify({ version: 1, active: 'k1', keys: { k1: randomBytes(16).toString('base64') }, pepper: key }), /k1/],
      [JSON.stringify({ version: 1, active: 'k1', keys: { k1: key } }), /pepper/],
      [JSON.stringify({ version: 1, active: 'k1', keys: { k1: 'not base64!' }, pepper: key }), /k1/],
    ];
    for (const [text, pattern] of cases) {
      const file = path('bad');
      writeFileSync(file, text, { mode: 0o600 });
      const message = await configError(loadKeyring(file));
      expect(message).toMatch(pattern);
      expect(message).toContain(file);
    }
    expect(await configError(loadKeyring(path('missing')))).toMatch(/cannot read key file/);
  });

  it('rotates: a new active key, old secrets still open, pepper kept, mode kept', async () => {
    const file = path('keys');
    await createKeyFile(file);
    const first = await loadKeyring(file);
    const oldSecret = randomBytes(20);
    const oldSealed = first.seal(oldSecret, 'method-1');

    expect(await rotateKeyFile(file)).toEqual({ kid: 'k2' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = await loadKeyring(file);
    expect(second.activeKid).toBe('k2');
    expect(second.pepper).toEqual(first.pepper);
    expect(second.open(oldSealed, 'method-1')).toEqual(new Uint8Array(oldSecret));
    const newSealed = second.seal(oldSecret, 'method-1');
    expect(newSealed.startsWith('v1.k2.')).toBe(true);
    // A running server loaded before the rotation re-reads the key file for the key it lacks.
    expect(first.open(newSealed, 'method-1')).toEqual(new Uint8Array(oldSecret));
    // A keyring with no key file behind it cannot.
    const detached = keyringFromKeys({ k1: new Uint8Array(32).fill(1) }, 'k1', new Uint8Array(32).fill(2));
    expect(() => detached.open(newSealed, 'method-1')).toThrow(/k2/);

    expect(await rotateKeyFile(file)).toEqual({ kid: 'k3' });
    const third = await loadKeyring(file);
    expect(third.open(oldSealed, 'method-1')).toEqual(new Uint8Array(oldSecret));
    expect(third.open(newSealed, 'method-1')).toEqual(new Uint8Array(oldSecret));
    expect(readdirSync(dir.path()).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('SQLite file at rest', () => {
  /** Every encoding an OATH seed is commonly written in. */
  function encodings(secret: Uint8Array): Buffer[] {
    const buf = Buffer.from(secret);
    const base32 = new Secret({ buffer: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer }).base32;
    const texts = [
      buf.toString('hex'),
      buf.toString('hex').toUpperCase(),
      base32,
      base32.replace(/=+$/, ''),
      base32.toLowerCase(),
      buf.toString('base64'),
      buf.toString('base64').replace(/=+$/, ''),
      buf.toString('base64url'),
    ];
    return [buf, buf.subarray(0, 12), ...texts.map((t) => Buffer.from(t, 'latin1')), ...texts.map((t) => Buffer.from(t, 'utf16le'))];
  }

  function findings(folder: string, secrets: Uint8Array[]): string[] {
    const found: string[] = [];
    for (const name of readdirSync(folder)) {
      const bytes = readFileSync(join(folder, name));
      secrets.forEach((secret, i) => {
        for (const needle of encodings(secret)) if (bytes.includes(needle)) found.push(`${name}: secret ${i} as ${JSON.stringify(needle.toString('latin1'))}`);
      });
    }
    return found;
  }

  it('holds no seed in any encoding, in the database or its WAL', async () => {
    const folder = dir.path('db');
    mkdirSync(folder);
    const keyring = keyringFromKeys({ k1: randomBytes(32) }, 'k1', randomBytes(32));
    const store = await openStore({ url: `sqlite:${join(folder, 'countersign.db')}`, keyring });
    const user = await store.users.create({ username: 'seed-owner' }, randomUUID(), 1);
    const secrets = [randomBytes(20), randomBytes(32), randomBytes(64), Buffer.from('12345678901234567890')];
    for (const [i, secret] of secrets.entries()) {
      await store.methods.add(
        { userId: user.id, type: 'totp', label: 'token', secret, config: { algorithm: 'SHA1', digits: 6, period: 30, serial: null, origin: 'software' } },
        randomUUID(),
        1 + i,
      );
    }
    // A control: a seed written in clear (here as a label) is found by the same scan.
    const control = randomBytes(20);
    await store.methods.add(
      {
        userId: user.id,
        type: 'totp',
        label: control.toString('hex'),
        secret: randomBytes(20),
        config: { algorithm: 'SHA1', digits: 6, period: 30, serial: null, origin: 'software' },
      },
      randomUUID(),
      100,
    );

    expect(readdirSync(folder).some((f) => f.endsWith('-wal'))).toBe(true);
    expect(findings(folder, secrets)).toEqual([]);
    expect(findings(folder, [control]).length).toBeGreaterThan(0);
    // Still readable through the store.
    expect((await store.methods.listForUser(user.id)).slice(0, 4).map((m) => Buffer.from(m.secret))).toEqual(secrets.map((s) => Buffer.from(s)));

    await store.close();
    expect(findings(folder, secrets)).toEqual([]);
    expect(findings(folder, [control]).length).toBeGreaterThan(0);
  });
});
