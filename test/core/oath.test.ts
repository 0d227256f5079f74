import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { generateCode, isWellFormedCode, otpauthUri, parseSecret, resyncHotp, toBase32, verifyHotp, verifyTotp } from '../../src/core/oath.ts';

const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'ascii'));

describe('RFC 4226 HOTP test vectors (Appendix D)', () => {
  const secret = ascii('12345678901234567890');
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
  expected.forEach((code, counter) => {
    it(`counter ${counter} -> ${code}`, () => {
      expect(generateCode(secret, counter, { algorithm: 'SHA1', digits: 6 })).toBe(code);
    });
  });
});

describe('RFC 6238 TOTP test vectors (Appendix B)', () => {
  const seeds = {
    SHA1: ascii('12345678901234567890'),
    SHA256: ascii('12345678901234567890123456789012'),
    SHA512: ascii('1234567890123456789012345678901234567890123456789012345678901234'),
  } as const;
  const table: [number, string, string, string][] = [
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'],
  ];
  for (const [t, sha1, sha256, sha512] of table) {
    for (const [algorithm, code] of [['SHA1', sha1], ['SHA256', sha256], ['SHA512', sha512]] as const) {
      it(`T=${t} ${algorithm} -> ${code}`, () => {
        const step = Math.floor(t / 30);
        expect(generateCode(seeds[algorithm], step, { algorithm, digits: 8 })).toBe(code);
        const r = verifyTotp({ secret: seeds[algorithm], config: { algorithm, digits: 8, period: 30 }, lastStep: null, code, now: t * 1000, window: 1 });
        expect(r).toEqual({ ok: true, step, drift: 0 });
      });
    }
  }
});

describe('TOTP verification rules', () => {
  const secret = ascii('12345678901234567890');
  const config = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
  const now = 1_700_000_000_000;
  const step = Math.floor(now / 30_000);
  const code = (s: number) => generateCode(secret, s, config);

  it('accepts the previous and next step and records the drift', () => {
    expect(verifyTotp({ secret, config, lastStep: null, code: code(step - 1), now, window: 1 })).toEqual({ ok: true, step: step - 1, drift: -1 });
    expect(verifyTotp({ secret, config, lastStep: null, code: code(step + 1), now, window: 1 })).toEqual({ ok: true, step: step + 1, drift: 1 });
  });
  it('refuses codes two steps away with window 1', () => {
    expect(verifyTotp({ secret, config, lastStep: null, code: code(step - 2), now, window: 1 })).toMatchObject({ ok: false, reason: 'invalid' });
    expect(verifyTotp({ secret, config, lastStep: null, code: code(step + 2), now, window: 1 })).toMatchObject({ ok: false, reason: 'invalid' });
  });
  it('refuses a code for the last accepted step or an earlier one (replay)', () => {
    expect(verifyTotp({ secret, config, lastStep: step, code: code(step), now, window: 1 })).toMatchObject({ ok: false, reason: 'replayed' });
    expect(verifyTotp({ secret, config, lastStep: step, code: code(step - 1), now, window: 1 })).toMatchObject({ ok: false, reason: 'replayed' });
    expect(verifyTotp({ secret, config, lastStep: step, code: code(step + 1), now, window: 1 })).toMatchObject({ ok: true, step: step + 1 });
  });
  const good = code(step);
  const malformed: [string, string][] = [
    ['too short', good.slice(0, 5)],
    ['too long', `${good}0`],
    ['leading space', ` ${good.slice(1)}`],
    ['trailing space', `${good.slice(0, 5)} `],
    ['inner space', `${good.slice(0, 3)} ${good.slice(3, 5)}`],
    ['Arabic-Indic digits', [...good].map((d) => String.fromCharCode(0x0660 + Number(d))).join('')],
    ['fullwidth digits', [...good].map((d) => String.fromCharCode(0xff10 + Number(d))).join('')],
    ['Devanagari digits', [...good].map((d) => String.fromCharCode(0x0966 + Number(d))).join('')],
    ['letters', 'abcdef'],
    ['sign', `+${good.slice(1)}`],
    ['empty', ''],
    ['NUL', `${good.slice(0, 5)}\u0000`],
    ['tab', `\t${good.slice(1)}`],
  ];
  for (const [name, c] of malformed) {
    it(`refuses a malformed code: ${name}`, () => {
      expect(isWellFormedCode(c, 6)).toBe(false);
      expect(verifyTotp({ secret, config, lastStep: null, code: c, now, window: 1 })).toEqual({ ok: false, reason: 'malformed' });
    });
  }
});

describe('HOTP verification, look-ahead and resync', () => {
  const secret = ascii('12345678901234567890');
  const config = { algorithm: 'SHA1', digits: 6 } as const;
  it('accepts the next counter and up to lookAhead beyond it', () => {
    expect(verifyHotp({ secret, config, lastStep: null, code: '755224', lookAhead: 10 })).toEqual({ ok: true, step: 0, drift: 0 });
    expect(verifyHotp({ secret, config, lastStep: 0, code: '520489', lookAhead: 10 })).toEqual({ ok: true, step: 9, drift: 8 });
    expect(verifyHotp({ secret, config, lastStep: 0, code: '520489', lookAhead: 7 })).toMatchObject({ ok: false, reason: 'invalid' });
  });
  it('refuses a used counter as a replay', () => {
    expect(verifyHotp({ secret, config, lastStep: 3, code: '969429', lookAhead: 10 })).toEqual({ ok: false, reason: 'replayed' });
  });
  it('resynchronizes from two consecutive codes and refuses non-consecutive ones', () => {
    expect(resyncHotp({ secret, config, lastStep: null, code1: '162583', code2: '399871', searchWindow: 100 })).toBe(8);
    expect(resyncHotp({ secret, config, lastStep: null, code1: '162583', code2: '520489', searchWindow: 100 })).toBeNull();
  });
});

describe('secrets and otpauth URIs', () => {
  it('round-trips base32 and parses hex', () => {
    const secret = ascii('12345678901234567890');
    const b32 = toBase32(secret);
    expect(b32).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    expect(parseSecret(b32.toLowerCase())).toEqual(secret);
    expect(parseSecret('0x3132333435363738393031323334353637383930')).toEqual(secret);
    expect(parseSecret('not base32!')).toBeNull();
    expect(parseSecret('')).toBeNull();
  });
  it('builds an otpauth URI that an independent implementation (oathtool) agrees with', () => {
    const secret = ascii('12345678901234567890');
    const uri = otpauthUri({ type: 'totp', issuer: 'Countersign', account: 'alice@example.com', secret, config: { algorithm: 'SHA1', digits: 6, period: 30 } });
    const u = new URL(uri);
    expect(u.protocol).toBe('otpauth:');
    expect(u.host).toBe('totp');
    expect(u.searchParams.get('secret')).toBe(toBase32(secret));
    expect(u.searchParams.get('issuer')).toBe('Countersign');
    const now = Math.floor(Date.now() / 1000);
    const step = Math.floor(now / 30);
    const theirs = execFileSync('oathtool', ['--totp', '-b', '-N', `@${step * 30 + 1}`, toBase32(secret)], { encoding: 'utf8' }).trim();
    expect(generateCode(secret, step, { algorithm: 'SHA1', digits: 6 })).toBe(theirs);
  });
});

describe('codes agree with oathtool (an independent implementation) for any secret, algorithm, length and counter', () => {
  it('HOTP (SHA-1) and TOTP (SHA-1, SHA-256, SHA-512), counters beyond 32 bits included', () => {
    const cases = fc.sample(
      fc.record({
        secret: fc.uint8Array({ minLength: 10, maxLength: 64 }),
        algorithm: fc.constantFrom('SHA1' as const, 'SHA256' as const, 'SHA512' as const),
        digits: fc.constantFrom(6 as const, 7 as const, 8 as const),
        // TOTP steps up to year 3000; HOTP counters up to 2^40.
        step: fc.integer({ min: 0, max: Math.floor(32_503_680_000 / 30) }),
        counter: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 2 ** 32 - 2, max: 2 ** 40 })),
      }),
      24,
    );
    for (const c of cases) {
      const hex = Buffer.from(c.secret).toString('hex');
      const totp = execFileSync('oathtool', [`--totp=${c.algorithm.toLowerCase()}`, '-d', String(c.digits), '-s', '30', '-N', `@${c.step * 30}`, hex], { encoding: 'utf8' }).trim();
      expect([hex, c.algorithm, c.step, generateCode(c.secret, c.step, c)]).toEqual([hex, c.algorithm, c.step, totp]);
      const hotp = execFileSync('oathtool', ['--hotp', '-d', String(c.digits), '-c', String(c.counter), hex], { encoding: 'utf8' }).trim();
      expect([hex, c.counter, generateCode(c.secret, c.counter, { algorithm: 'SHA1', digits: c.digits })]).toEqual([hex, c.counter, hotp]);
    }
  });
});
