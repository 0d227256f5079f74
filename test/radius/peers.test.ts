/**
 * The RADIUS test peers themselves: a throw-away FreeRADIUS 3.2 answers radclient for the users it
 * was given (PAP, MS-CHAPv1/v2, PAP+TOTP), radclient's output is read back faithfully (codes,
 * attributes in wire order, quoting), and a silent port or wrong secret is a quick 'timeout'. The
 * RADIUS server suites rely on all of this.
 */
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeradiusAvailable, RADIUS_USERS, startFreeRadius, type FreeRadius } from '../support/freeradius.ts';
import { md4, msChapV2Request, msChapV2SuccessValid, ntPasswordHash, generateNtResponse, authenticatorResponse } from '../support/mschapv2.ts';
import { attribute, attributes, chapRequest, octetsText, quoteRadiusString, radclient, radtest, unquoteRadiusString } from '../support/radclient.ts';
import { attributeTypes, startUdpRelay } from '../support/udp-relay.ts';

const haveFreeRadius = freeradiusAvailable();
const user = (name: string): { name: string; password: string } => RADIUS_USERS.find((u) => u.name === name)!;
const TOTP_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

/** Text with the characters quoting must survive: escapes, quotes, control characters, any Unicode (no NUL). */
const awkwardText = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({
    unit: fc.oneof(
      fc.constantFrom('\\', '"', "'", '\n', '\r', '\t', '\x01', '\x7f', '%', '{', '$', ' ', '0', 'x'),
      fc
        .integer({ min: 0x80, max: 0xffff })
        .filter((c) => c < 0xd800 || c > 0xdfff)
        .map((c) => String.fromCodePoint(c)),
      fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
    ),
    maxLength,
  });

/** A loopback UDP port nobody listens on. */
async function silentPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('MS-CHAPv2 arithmetic (RFC 1320, RFC 2759)', () => {
  const hex = (s: string): Buffer => Buffer.from(s.replace(/ /g, ''), 'hex');

  it('MD4 matches the RFC 1320 test suite', () => {
    expect(md4(Buffer.from('')).toString('hex')).toBe('31d6cfe0d16ae931b73c59d7e0c089c0');
    expect(md4(Buffer.from('abc')).toString('hex')).toBe('a448017aaf21d8525fc10ae87aa6729d');
    expect(md4(Buffer.from('message digest')).toString('hex')).toBe('d9130a8164549fe818874806e1c7014b');
    expect(md4(Buffer.from('1234567890'.repeat(8))).toString('hex')).toBe('e33b4ddc9c38f2199c3e7b164fcc0536');
  });

  it('reproduces the RFC 2759 section 9.2 example', () => {
    const auth = hex('5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28');
    const peer = hex('21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E');
    expect(ntPasswordHash('clientPass').toString('hex')).toBe('44ebba8d5312b8d611474411f56989ae');
    const nt = generateNtResponse(auth, peer, 'User', 'clientPass');
    expect(nt.toString('hex')).toBe('82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df');
    expect(authenticatorResponse('clientPass', nt, peer, auth, 'User')).toBe('S=407A5589115FD0D6209F510FE9C04566932CDA56');
  });

  it.skipIf(!haveFreeRadius)("agrees with smbencrypt's NT hash", () => {
    const out = execFileSync('smbencrypt', ['Pa55 word!'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(out).toContain(ntPasswordHash('Pa55 word!').toString('hex').toUpperCase());
  });
});

describe('radclient quoting (pure)', () => {
  it('round-trips any string without NUL through quote and unquote', () => {
    fc.assert(
      fc.property(awkwardText(60), fc.constantFrom('"' as const, "'" as const), (s, q) => {
        expect(unquoteRadiusString(quoteRadiusString(s, q))).toBe(s);
      }),
    );
  });
});

describe.skipIf(!haveFreeRadius)('FreeRADIUS and radclient as test peers', () => {
  let fr: FreeRadius;
  // Passwords with every character quoting must survive, in the users file and through radclient.
  const awkward = fc
    .sample(
      awkwardText(30).filter((p) => p.length > 0),
      { numRuns: 12, seed: 4 },
    )
    .map((password, i) => ({ name: `awkward${i}`, password }));
  const users = [
    ...RADIUS_USERS,
    { name: 'tina', password: 'tina-pass', totpSecret: TOTP_SECRET, reply: [['Filter-Id', 'totp-users']] as [string, string][] },
    { name: 'backslashes', password: '\\\\ \\n \\101 \\"\\' },
    ...awkward,
  ];

  beforeAll(async () => {
    fr = await startFreeRadius({ users, rejectMessage: "Denied, it's wrong" });
  });
  afterAll(async () => {
    await fr?.stop();
  });
  const to = (): { port: number; secret: string } => ({ port: fr.authPort, secret: fr.secret });

  it('PAP: accepts with the reply attributes in order, Message-Authenticator first', async () => {
    const r = await radtest({ ...to(), user: 'alice', password: user('alice').password });
    expect(r.code).toBe('Access-Accept');
    expect(r.attributes.map(([n]) => n)).toEqual(['Message-Authenticator', 'Class', 'Filter-Id', 'Reply-Message']);
    expect(attribute(r, 'Message-Authenticator')).toMatch(/^0x[0-9a-f]{32}$/);
    expect(octetsText(attribute(r, 'Class'))).toBe('vpn-users');
    expect(attribute(r, 'Filter-Id')).toBe('staff');
    expect(attribute(r, 'Reply-Message')).toBe('Welcome, alice');
    // radclient was asked to sign the request and did.
    expect(r.sent.map(([n]) => n)).toContain('Message-Authenticator');
    expect(r.sends).toBe(1);
  });

  it('PAP: passwords with quotes, a backslash, spaces and UTF-8 pass intact, and only the exact bytes', async () => {
    const bob = await radtest({ ...to(), user: 'bob', password: user('bob').password });
    expect(bob.code).toBe('Access-Accept');
    expect(attributes(bob, 'Class').map(octetsText)).toEqual(['admins', 'vpn-users']);
    expect(attribute(bob, 'Session-Timeout')).toBe('3600');
    expect((await radtest({ ...to(), user: 'erin', password: user('erin').password })).code).toBe('Access-Accept');
    // The same password with the backslash doubled, or NFD-normalized, is another password.
    expect((await radtest({ ...to(), user: 'bob', password: user('bob').password.replace('\\', '\\\\') })).code).toBe('Access-Reject');
    expect((await radtest({ ...to(), user: 'erin', password: user('erin').password.normalize('NFD') })).code).toBe('Access-Reject');
  });

  it('PAP: a wrong password or an unknown user is rejected without the user reply attributes', async () => {
    for (const [name, password] of [
      ['alice', 'alice-pass-2'],
      ['mallory', 'alice-pass-1'],
    ] as const) {
      const r = await radtest({ ...to(), user: name, password });
      expect(r.code).toBe('Access-Reject');
      expect(r.attributes.map(([n]) => n)).toEqual(['Message-Authenticator', 'Reply-Message']);
      expect(attribute(r, 'Reply-Message')).toBe("Denied, it's wrong");
    }
  });

  it('radclient sends exactly the text it was given (read back from its own -x output)', async () => {
    const tricky = fc.sample(awkwardText(40), 15);
    for (const text of [...tricky, `"'\\`, '\\\\', 'x\\', '\\n', '%{User-Name}', '0x414243', ' lead and trail ', 'tab\tnew\nline\r', 'line\u2028and\u2029paragraph separators']) {
      const r = await radclient({
        ...to(),
        attributes: [
          ['User-Name', 'nobody-here'],
          ['User-Password', text],
          ['Reply-Message', text],
        ],
      });
      expect(r.code).toBe('Access-Reject');
      expect(attribute({ attributes: r.sent }, 'User-Password')).toBe(text);
      expect(attribute({ attributes: r.sent }, 'Reply-Message')).toBe(text);
    }
  });

  it('PAP, MS-CHAPv1, MS-CHAPv2 and CHAP accept awkward passwords, and reject them one character off', async () => {
    for (const u of users.filter((x) => x.name.startsWith('awkward') || x.name === 'backslashes')) {
      const wrong = u.password.slice(0, -1) + (u.password.endsWith('x') ? 'y' : 'x');
      expect([u.name, (await radtest({ ...to(), user: u.name, password: u.password })).code]).toEqual([u.name, 'Access-Accept']);
      expect([u.name, (await radtest({ ...to(), user: u.name, password: wrong })).code]).toEqual([u.name, 'Access-Reject']);
      // FreeRADIUS 3.2.1 converts passwords to UCS-2 for MS-CHAP: characters outside the BMP break it.
      if (!/[\u{10000}-\u{10ffff}]/u.test(u.password)) {
        const v1 = await radclient({
          ...to(),
          attributes: [
            ['User-Name', u.name],
            ['MS-CHAP-Password', u.password],
          ],
        });
        expect([u.name, v1.code]).toEqual([u.name, 'Access-Accept']);
        const v2 = msChapV2Request(u.name, u.password);
        expect([u.name, (await radclient({ ...to(), attributes: [['User-Name', u.name], ...v2.attributes] })).code]).toEqual([u.name, 'Access-Accept']);
      }
      expect([u.name, (await radclient({ ...to(), attributes: [['User-Name', u.name], ...chapRequest(u.password)] })).code]).toEqual([u.name, 'Access-Accept']);
      expect([u.name, (await radclient({ ...to(), attributes: [['User-Name', u.name], ...chapRequest(wrong)] })).code]).toEqual([u.name, 'Access-Reject']);
    }
  });

  it('CHAP computed here reaches the server as computed, whatever bytes the hash has', async () => {
    for (let i = 0; i < 40; i++) {
      const chap = chapRequest(user('alice').password, i % 2 ? { ident: 200 } : {});
      const r = await radclient({ ...to(), attributes: [['User-Name', 'alice'], ...chap] });
      expect(r.code).toBe('Access-Accept');
      expect(attribute({ attributes: r.sent }, 'CHAP-Password')).toBe(`0x${chap[1]![1].toString('hex')}`);
    }
  });

  it('MS-CHAPv2: accepts with a valid MS-CHAP2-Success and MPPE keys; a wrong password gets E=691', async () => {
    for (const name of ['alice', 'bob', 'erin']) {
      const req = msChapV2Request(name, user(name).password);
      const r = await radclient({ ...to(), attributes: [['User-Name', name], ...req.attributes] });
      expect(r.code).toBe('Access-Accept');
      expect(msChapV2SuccessValid(req, attribute(r, 'MS-CHAP2-Success'))).toBe(true);
      expect(attribute(r, 'MS-MPPE-Recv-Key')).toMatch(/^0x[0-9a-f]+$/);
      expect(r.attributes[0]?.[0]).toBe('Message-Authenticator');
    }
    const wrong = msChapV2Request('alice', 'alice-pass-2');
    const r = await radclient({ ...to(), attributes: [['User-Name', 'alice'], ...wrong.attributes] });
    expect(r.code).toBe('Access-Reject');
    expect(attribute(r, 'MS-CHAP-Error')).toContain('E=691');
    expect(attribute(r, 'MS-CHAP2-Success')).toBeUndefined();
  });

  it('MS-CHAPv1: radclient computes it from MS-CHAP-Password', async () => {
    const ok = await radclient({
      ...to(),
      attributes: [
        ['User-Name', 'bob'],
        ['MS-CHAP-Password', user('bob').password],
      ],
    });
    expect(ok.code).toBe('Access-Accept');
    expect(ok.sent.map(([n]) => n)).toEqual(expect.arrayContaining(['MS-CHAP-Challenge', 'MS-CHAP-Response']));
    const bad = await radclient({
      ...to(),
      attributes: [
        ['User-Name', 'bob'],
        ['MS-CHAP-Password', 'not-it'],
      ],
    });
    expect(bad.code).toBe('Access-Reject');
  });

  it('PAP+TOTP: the password followed by the current code from oathtool, nothing else', async () => {
    // Stay clear of a 30-second step boundary between computing the code and checking it.
    const intoStep = (Date.now() / 1000) % 30;
    if (intoStep > 27) await new Promise((r) => setTimeout(r, (30.2 - intoStep) * 1000));
    const code = execFileSync('oathtool', ['--totp', '-b', TOTP_SECRET], { encoding: 'utf8' }).trim();
    const ok = await radtest({ ...to(), user: 'tina', password: `tina-pass${code}` });
    expect(ok.code).toBe('Access-Accept');
    expect(attribute(ok, 'Filter-Id')).toBe('totp-users');
    const other = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    expect((await radtest({ ...to(), user: 'tina', password: `tina-pass${other}` })).code).toBe('Access-Reject');
    expect((await radtest({ ...to(), user: 'tina', password: 'tina-pass' })).code).toBe('Access-Reject');
    expect((await radtest({ ...to(), user: 'tina', password: `tina-pasS${code}` })).code).toBe('Access-Reject');
  });

  it('reports attributes in wire order: the raw reply seen by a relay matches radclient', async () => {
    const relay = await startUdpRelay({ target: { port: fr.authPort } });
    try {
      const r = await radtest({ port: relay.port, secret: fr.secret, user: 'alice', password: user('alice').password });
      expect(r.code).toBe('Access-Accept');
      expect(relay.replies).toHaveLength(1);
      // 80 Message-Authenticator, 25 Class, 11 Filter-Id, 18 Reply-Message.
      expect(attributeTypes(relay.replies[0]!)).toEqual([80, 25, 11, 18]);
      expect(attributeTypes(relay.requests[0]!)).toContain(80);
      const unsigned = await radtest({ port: relay.port, secret: fr.secret, user: 'alice', password: user('alice').password, messageAuthenticator: false });
      expect(unsigned.code).toBe('Access-Accept');
      expect(attributeTypes(relay.requests[1]!)).not.toContain(80);
    } finally {
      await relay.stop();
    }
  });

  it('retransmits the identical packet after -t seconds without a reply, up to -r sends', async () => {
    const relay = await startUdpRelay({ target: { port: fr.authPort }, drop: (n) => n === 1 });
    try {
      const r = await radtest({ port: relay.port, secret: fr.secret, user: 'alice', password: user('alice').password, timeout: 0.5, retries: 3 });
      expect(r.code).toBe('Access-Accept');
      expect(r.sends).toBe(2);
      expect(relay.requests).toHaveLength(2);
      expect(relay.requests[1]!.equals(relay.requests[0]!)).toBe(true);
    } finally {
      await relay.stop();
    }
  });

  it('a relay can deliver a request twice; FreeRADIUS answers the later duplicate identically', async () => {
    const relay = await startUdpRelay({ target: { port: fr.authPort }, copies: 2, copyIntervalMs: 200 });
    try {
      const r = await radtest({ port: relay.port, secret: fr.secret, user: 'carol', password: user('carol').password });
      expect(r.code).toBe('Access-Accept');
      await expect.poll(() => relay.replies.length).toBe(2);
      expect(relay.replies[1]!.equals(relay.replies[0]!)).toBe(true);
    } finally {
      await relay.stop();
    }
  });

  it('a silent port is a timeout within -t x -r seconds', async () => {
    const port = await silentPort();
    const started = Date.now();
    const r = await radtest({ port, secret: fr.secret, user: 'alice', password: 'x', timeout: 1, retries: 1 });
    expect(r.code).toBe('timeout');
    expect(r.sends).toBe(1);
    expect(r.attributes).toEqual([]);
    expect(Date.now() - started).toBeLessThan(3000);
    const twice = await radtest({ port, secret: fr.secret, user: 'alice', password: 'x', timeout: 0.3, retries: 2 });
    expect(twice.code).toBe('timeout');
    expect(twice.sends).toBe(2);
  });

  it('a wrong secret: a signed request is dropped (timeout), an unsigned one gets a reply radclient refuses', async () => {
    const signed = await radtest({ port: fr.authPort, secret: 'not-the-secret', user: 'alice', password: 'x', timeout: 0.5 });
    expect(signed.code).toBe('timeout');
    expect(fr.log()).toMatch(/invalid Message-Authenticator/);
    const unsigned = await radtest({ port: fr.authPort, secret: 'not-the-secret', user: 'alice', password: 'x', timeout: 0.5, messageAuthenticator: false });
    expect(unsigned.code).toBe('invalid-reply');
    expect(unsigned.stderr).toMatch(/verification failed/);
  });

  it('Status-Server on the authentication port, accounting on the accounting port, and IPv6', async () => {
    expect((await radclient({ ...to(), type: 'status' })).code).toBe('Access-Accept');
    const acct = await radclient({
      port: fr.acctPort,
      secret: fr.secret,
      type: 'acct',
      messageAuthenticator: false,
      attributes: [
        ['User-Name', 'alice'],
        ['Acct-Status-Type', 'Start'],
        ['Acct-Session-Id', 'session-1'],
      ],
    });
    expect(acct.code).toBe('Accounting-Response');
    if (fr.host6) {
      const v6 = await radtest({ host: fr.host6, port: fr.authPort, secret: fr.secret, user: 'alice', password: user('alice').password });
      expect(v6.code).toBe('Access-Accept');
    }
  });
});

describe.skipIf(!haveFreeRadius)('FreeRADIUS requiring Message-Authenticator, replying without it', () => {
  let fr: FreeRadius;
  beforeAll(async () => {
    fr = await startFreeRadius({
      requireMessageAuthenticator: true,
      replyMessageAuthenticator: false,
      secret: `a 'quoted' secret "$HOME" %{x} ${'z'.repeat(80)}`,
    });
  });
  afterAll(async () => {
    await fr?.stop();
  });

  it('drops a request without Message-Authenticator and answers one with it, unsigned', async () => {
    const alice = user('alice');
    const dropped = await radtest({ port: fr.authPort, secret: fr.secret, user: 'alice', password: alice.password, messageAuthenticator: false, timeout: 0.5 });
    expect(dropped.code).toBe('timeout');
    const r = await radtest({ port: fr.authPort, secret: fr.secret, user: 'alice', password: alice.password });
    expect(r.code).toBe('Access-Accept');
    expect(attribute(r, 'Message-Authenticator')).toBeUndefined();
    expect(r.attributes.map(([n]) => n)).toEqual(['Class', 'Filter-Id', 'Reply-Message']);
  });
});
