import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installation, json, oathtool, ok, removeDir, run } from './run.ts';

interface MethodJson {
  id: string;
  type: string;
  label: string;
  config: { algorithm: string; digits: number; period: number; serial: string | null; origin: string };
}

let dir: string;
let o: { cwd: string };

beforeAll(async () => {
  ({ dir } = await installation('token'));
  o = { cwd: dir };
  for (const u of ['alice', 'bob', 'hw1', 'hw2', 'pskc1']) await ok(['user', 'add', u], o);
});
afterAll(async () => {
  await removeDir(dir);
});

describe('token add', () => {
  it('prints the secret, the otpauth URI and a terminal QR code, once', async () => {
    const r = await run(['token', 'add', 'alice', '--label', 'Phone'], o);
    expect(r.code, r.stderr).toBe(0);
    const secret = /^secret: ([A-Z2-7]+)$/m.exec(r.stdout)?.[1];
    expect(secret).toBeDefined();
    const uri = /^uri: +(otpauth:\/\/\S+)$/m.exec(r.stdout)?.[1] ?? '';
    const parsed = new URL(uri);
    expect(parsed.protocol).toBe('otpauth:');
    expect(parsed.host).toBe('totp');
    expect(parsed.searchParams.get('secret')).toBe(secret);
    expect(decodeURIComponent(parsed.pathname)).toContain('alice');
    // qrcode's terminal renderer draws with half blocks.
    expect(r.stdout.split('\n').filter((l) => /[▄▀█]/.test(l)).length).toBeGreaterThan(10);
    expect(r.stdout).toContain('not shown again');
    // The secret works with an independent generator.
    expect((await run(['verify', 'alice', '--code', oathtool(secret!)], o)).stdout).toBe('approved (passcode_ok)\n');
    // Listing never shows the secret again.
    const listed = await ok(['token', 'list', 'alice'], o);
    expect(listed).not.toContain(secret);
    expect(listed).toContain('Phone');
  });

  it('--json returns the method, secret and URI; options set the algorithm, digits and period', async () => {
    const r = await json<{ method: MethodJson; secret: string; otpauthUri: string }>(
      ['token', 'add', 'bob', '--algorithm', 'SHA256', '--digits', '8', '--period', '60'],
      o,
    );
    expect(r.method).toMatchObject({ type: 'totp', config: { algorithm: 'SHA256', digits: 8, period: 60, origin: 'software' } });
    const code = execFileSync('oathtool', ['--totp=sha256', '--digits=8', '--time-step-size=60s', '-b', r.secret], { encoding: 'utf8' }).trim();
    expect(code).toMatch(/^\d{8}$/);
    expect((await run(['verify', 'bob', '--code', code], o)).stdout).toBe('approved (passcode_ok)\n');
  });

  it('refuses unknown users, unsupported types and bad options', async () => {
    const unknown = await run(['token', 'add', 'nobody'], o);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: user_not_found: /);
    expect((await run(['token', 'add', 'alice', '--type', 'sms'], o)).code).toBe(2);
    expect((await run(['token', 'add', 'alice', '--digits', '9'], o)).code).toBe(2);
    expect((await run(['token', 'add', 'alice', '--period', '5'], o)).code).toBe(2);
  });
});

describe('token list / remove', () => {
  it('lists and removes tokens', async () => {
    const before = await json<MethodJson[]>(['token', 'list', 'alice'], o);
    expect(before).toHaveLength(1);
    const id = before[0]!.id;
    expect(await ok(['token', 'remove', 'alice', id], o)).toBe(`removed token ${id} of alice\n`);
    expect(await json<MethodJson[]>(['token', 'list', 'alice'], o)).toEqual([]);
    expect(await ok(['token', 'list', 'alice'], o)).toBe('alice has no tokens\n');
    const again = await run(['token', 'remove', 'alice', id], o);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: method_not_found: /);
  });
});

describe('token backup-codes', () => {
  it('prints ten codes once, and the list shows how many are left', async () => {
    const text = await ok(['token', 'backup-codes', 'alice'], o);
    const codes = [...text.matchAll(/\b([0-9]{5}-[0-9]{5})\b/g)].map((m) => m[1]);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    expect(await ok(['token', 'list', 'alice'], o)).toMatch(/backup +Backup codes +10 of 10 left/);
    const again = await json<{ codes: string[] }>(['token', 'backup-codes', 'alice'], o);
    expect(again.codes.some((c) => codes.includes(c))).toBe(false);
  });
});

describe('token add-phone and add-push', () => {
  it('adds a phone method on a phone the user has, and refuses one without it naming the phone', async () => {
    await ok(['user', 'update', 'bob', '--phone', '+14155550100'], o);
    const added = await json<MethodJson>(['token', 'add-phone', 'bob', '--type', 'voice'], o);
    expect([added.type, added.label]).toEqual(['voice', 'Phone call to the primary phone']);
    const refused = await run(['token', 'add-phone', 'bob', '--type', 'sms', '--phone', 'backupPhone'], o);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/phone: the user has no backup phone/);
    expect((await run(['token', 'add-phone', 'bob', '--type', 'fax'], o)).code).toBe(2);
  });

  it('prints an activation code for the mobile app, once; a new one replaces it', async () => {
    const text = await ok(['token', 'add-push', 'bob'], o);
    const code = /^ {2}([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/m.exec(text)?.[1];
    expect(code).toBeDefined();
    expect(text).toContain(`/mobile/app/#activate=${code}`);
    const again = await json<{ activationCode: string; expiresAt: number }>(['token', 'add-push', 'bob'], o);
    expect(again.activationCode).not.toBe(code);
    const pending = (await json<{ type: string; pending: boolean }[]>(['token', 'list', 'bob'], o)).filter((m) => m.type === 'push');
    expect(pending).toEqual([expect.objectContaining({ type: 'push', pending: true })]);
  });
});

describe('token import and resync', () => {
  const TOTP_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
  const HOTP_HEX = '3132333435363738393031323334353637383930';

  it('imports CSV tokens, reports bad rows, and the imported secrets verify', async () => {
    const file = path.join(dir, 'tokens.csv');
    await writeFile(
      file,
      [
        'username,type,secret,digits,period,algorithm,counter,serial,label',
        `hw1,totp,${TOTP_SECRET},6,30,SHA1,,SN-0001,Key fob`,
        `hw2,hotp,0x${HOTP_HEX},6,,SHA1,0,SN-0002,`,
        `nobody,totp,${TOTP_SECRET},6,30,SHA1,,SN-0003,`,
        'hw1,totp,!!notbase32!!,6,30,SHA1,,SN-0004,',
      ].join('\n'),
    );
    const r = await run(['token', 'import', file], o);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('total 4, created 2, updated 0, skipped 2, errors 2');
    expect(lines[1]).toMatch(/^ {2}row 4 \[username\]: no such user$/);
    expect(lines[2]).toMatch(/^ {2}row 5: secret: /);
    const hw1 = await json<MethodJson[]>(['token', 'list', 'hw1'], o);
    expect(hw1).toHaveLength(1);
    expect(hw1[0]).toMatchObject({ type: 'totp', label: 'Key fob', config: { serial: 'SN-0001', origin: 'imported' } });
    expect((await run(['verify', 'hw1', '--code', oathtool(TOTP_SECRET)], o)).stdout).toBe('approved (passcode_ok)\n');
    const hotp = (counter: number): string => execFileSync('oathtool', ['--hotp', '-c', String(counter), HOTP_HEX], { encoding: 'utf8' }).trim();
    expect((await run(['verify', 'hw2', '--code', hotp(0)], o)).stdout).toBe('approved (passcode_ok)\n');
    expect((await run(['verify', 'hw2', '--code', hotp(0)], o)).stdout).toBe('denied (replayed_passcode)\n');
  });

  it('resynchronizes an HOTP token from two consecutive codes far ahead', async () => {
    const [hw2] = await json<MethodJson[]>(['token', 'list', 'hw2'], o);
    const hotp = (counter: number): string => execFileSync('oathtool', ['--hotp', '-c', String(counter), HOTP_HEX], { encoding: 'utf8' }).trim();
    // Counter 60 is beyond the look-ahead window: refused until resynchronized.
    expect((await run(['verify', 'hw2', '--code', hotp(60)], o)).stdout).toBe('denied (invalid_passcode)\n');
    await ok(['user', 'unlock', 'hw2'], o);
    expect(await ok(['token', 'resync', 'hw2', hw2!.id, hotp(61), hotp(62)], o)).toBe(`resynchronized token ${hw2!.id} of hw2\n`);
    expect((await run(['verify', 'hw2', '--code', hotp(63)], o)).stdout).toBe('approved (passcode_ok)\n');
    const bad = await run(['token', 'resync', 'hw2', hw2!.id, '111111', '222222'], o);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: resync_failed: /);
  });

  it('imports PSKC (RFC 6030), choosing the format from the extension', async () => {
    const file = path.join(dir, 'tokens.xml');
    await writeFile(
      file,
      `<?xml version="1.0" encoding="UTF-8"?>
<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">
  <KeyPackage>
    <DeviceInfo><Manufacturer>Acme</Manufacturer><SerialNo>P-1</SerialNo><UserId>pskc1</UserId></DeviceInfo>
    <Key Id="1" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp">
      <AlgorithmParameters><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>
      <Data>
        <Secret><PlainValue>${Buffer.from('Hello!\u00de\u00ad\u00be\u00efHello!\u00de\u00ad\u00be\u00ef', 'latin1').toString('base64')}</PlainValue></Secret>
        <TimeInterval><PlainValue>30</PlainValue></TimeInterval>
      </Data>
    </Key>
  </KeyPackage>
</KeyContainer>`,
    );
    const report = await json<{ created: number; errors: unknown[] }>(['token', 'import', file], o);
    expect(report).toMatchObject({ created: 1, errors: [] });
    const [m] = await json<MethodJson[]>(['token', 'list', 'pskc1'], o);
    expect(m).toMatchObject({ type: 'totp', config: { serial: 'P-1', origin: 'imported' } });
    // JBSWY3DPEHPK3PXP is base32 of "Hello!\xde\xad\xbe\xef": the same key as the CSV token above.
    expect((await run(['verify', 'pskc1', '--code', oathtool(TOTP_SECRET)], o)).stdout).toBe('approved (passcode_ok)\n');
  });
});
