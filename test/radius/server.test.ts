/**
 * The RADIUS door driven as a NAS drives it: radclient (freeradius-utils) for PAP, challenge and
 * append flows; raw datagrams built with the codec for what radclient cannot show (Message-
 * Authenticator placement, dropped packets, a retransmission's cached answer, malformed packets);
 * a real FreeRADIUS as the upstream server in proxy mode.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/core/api.ts';
import { createBySourceFirstFactor, createFirstFactorRegistry } from '../../src/core/first-factor/by-source.ts';
import { createLocalPasswordFirstFactor } from '../../src/core/first-factor/local-password.ts';
import type { RadiusConfig } from '../../src/config/schema.ts';
import { argon2Hasher } from '../../src/platform/hashing.ts';
import { attribute as attr, decodePacket, decryptSaltedValue, encodePacket, encryptUserPassword, verifyResponse } from '../../src/doors/radius/codec.ts';
import { radiusClients, startRadiusServer, type RadiusServer } from '../../src/doors/radius/server.ts';
import { isGroupMember } from '../../src/directory/membership.ts';
import { openldap } from '../../src/directory/presets.ts';
import { directorySource } from '../../src/directory/source.ts';
import { createTestCore, type TestCore } from '../support/harness.ts';
import { groupDn, startSlapd } from '../support/slapd.ts';
import { freeradiusAvailable, startFreeRadius, type FreeRadius } from '../support/freeradius.ts';
import { msChapV2Request, msChapV2SuccessValid } from '../support/mschapv2.ts';
import { attribute, attributes, octetsText, radclient } from '../support/radclient.ts';
import pino from 'pino';
import { freeUdpPort } from '../support/ports.ts';

const haveRadius = freeradiusAvailable();
const admin: Actor = { kind: 'cli', name: 'test', role: 'admin' };
const SECRET = 'a-long-shared-secret-for-tests';
const PASSWORDS = { alice: 'Alice-local-password-1', bob: 'Bob-local-password-2', carol: 'Carol-local-password-3' } as const;


/** Sends one datagram and waits for at most one answer (null on timeout). */
function exchange(port: number, bytes: Buffer, waitMs = 700): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(null);
    }, waitMs);
    s.on('message', (msg) => {
      clearTimeout(timer);
      s.close();
      resolve(msg);
    });
    s.send(bytes, port, '127.0.0.1');
  });
}

describe.skipIf(!haveRadius)('RADIUS server', () => {
  let t: TestCore;
  const secrets = new Map<string, string>();
  const servers: RadiusServer[] = [];
  let upstream: FreeRadius;

  /** The current TOTP code of a user at the fake clock's time, from oathtool. */
  const code = (user: string, offsetSteps = 0): string =>
    execFileSync('oathtool', ['--totp', '-b', secrets.get(user) as string, '--now', `${new Date(t.clock.now() + offsetSteps * 30_000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`], {
      encoding: 'utf8',
    }).trim();

  async function start(
    clients: RadiusConfig['clients'],
    listen = ['127.0.0.1'],
    isMember?: (directory: string, username: string, group: string) => Promise<boolean>,
  ): Promise<{ auth: number; acct: number; server: RadiusServer }> {
    const [auth, acct] = [await freeUdpPort(), await freeUdpPort()];
    const config: RadiusConfig = { enabled: true, listen, authPort: auth, acctPort: acct, challengeSeconds: 120, clients };
    const local = createLocalPasswordFirstFactor({ store: t.store, passwords: argon2Hasher({ memoryCost: 1024, timeCost: 1 }), clock: t.clock });
    const registry = createFirstFactorRegistry({ local, user: createBySourceFirstFactor({ store: t.store, clock: t.clock, local, directories: new Map() }) });
    const warnings: string[] = [];
    const server = await startRadiusServer({
      core: t.core,
      store: t.store,
      clock: t.clock,
      logger: pino({ level: process.env['RADIUS_TEST_LOG'] ?? 'silent' }),
      config,
      clients: await radiusClients(config, registry, (m) => warnings.push(m)),
      serverName: 'test',
      ...(isMember ? { isMember } : {}),
    });
    servers.push(server);
    return { auth, acct, server };
  }

  const client = (over: Partial<RadiusConfig['clients'][number]> = {}): RadiusConfig['clients'][number] => ({
    name: 'vpn',
    addresses: ['127.0.0.1/32'],
    secret: SECRET,
    requireMessageAuthenticator: true,
    firstFactor: 'user',
    mode: 'challenge',
    appendCodeLength: 6,
    holdSeconds: 60,
    groupReplyAttributes: [],
    replyAttributes: [
      { name: 'Class', value: 'vpn-users' },
      { name: 'Session-Timeout', value: '3600' },
    ],
    ...over,
  });

  beforeAll(async () => {
    t = await createTestCore();
    for (const [name, password] of Object.entries(PASSWORDS)) {
      await t.core.users.create({ username: name }, admin);
      await t.core.users.setPassword(name, password, admin);
      const enrolled = await t.core.methods.enrollTotp(name, {}, admin);
      secrets.set(name, enrolled.secret);
    }
    upstream = await startFreeRadius({ requireMessageAuthenticator: true });
  }, 60_000);

  afterAll(async () => {
    for (const s of servers) await s.close();
    await upstream?.stop();
    await t?.close();
  });

  it('challenge mode: password, then an Access-Challenge with a single-use State, then the code', async () => {
    const { auth } = await start([client()]);
    const first = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'alice'], ['User-Password', PASSWORDS.alice]] });
    expect(first.code).toBe('Access-Challenge');
    expect(attribute(first, 'Reply-Message')).toMatch(/verification code/);
    const state = attribute(first, 'State');
    expect(octetsText(state)).toBeDefined();
    const second = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'alice'], ['User-Password', code('alice')], ['State', state as string]] });
    expect(second.code).toBe('Access-Accept');
    expect(attribute(second, 'Class')).toBeDefined();
    expect(attribute(second, 'Session-Timeout')).toBe('3600');
    // The State was taken: a replay of the answer is refused.
    t.clock.advance(30_000);
    const replay = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'alice'], ['User-Password', code('alice')], ['State', state as string]] });
    expect(replay.code).toBe('Access-Reject');
  });

  it('answers over IPv6 a client configured by an IPv6 range', async () => {
    t.clock.advance(30_000);
    const { auth, server } = await start([client({ name: 'v6', addresses: ['::1/128'], mode: 'passcode', firstFactor: 'none' })], ['127.0.0.1', '::1']);
    expect(server.addresses.map((a) => a.address)).toContain('::1');
    const r = await radclient({ host: '::1', port: auth, secret: SECRET, attributes: [['User-Name', 'carol'], ['User-Password', code('carol')]] });
    expect(r.code).toBe('Access-Accept');
    // The same client is unknown over IPv4: no answer.
    const v4 = await radclient({ port: auth, secret: SECRET, timeout: 0.5, attributes: [['User-Name', 'carol'], ['User-Password', '123456']] });
    expect(v4.code).toBe('timeout');
  });

  it('challenge mode refuses a wrong password without a challenge, and a wrong code after one', async () => {
    const { auth } = await start([client()]);
    const wrong = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'bob'], ['User-Password', 'not-his-password']] });
    expect(wrong.code).toBe('Access-Reject');
    const unknown = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'nobody'], ['User-Password', 'whatever-password']] });
    expect(unknown.code).toBe('Access-Reject');
    const first = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'bob'], ['User-Password', PASSWORDS.bob]] });
    expect(first.code).toBe('Access-Challenge');
    const bad = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'bob'], ['User-Password', code('bob', 20)], ['State', attribute(first, 'State') as string]] });
    expect(bad.code).toBe('Access-Reject');
    // Another user cannot answer bob's challenge.
    const again = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'bob'], ['User-Password', PASSWORDS.bob]] });
    const stolen = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'alice'], ['User-Password', code('alice')], ['State', attribute(again, 'State') as string]] });
    expect(stolen.code).toBe('Access-Reject');
  });

  it('append mode takes password and code in one field; passcode mode only the code', async () => {
    t.clock.advance(30_000);
    const { auth } = await start([client({ name: 'append', mode: 'append', appendDelimiter: ',' })]);
    const ok = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'carol'], ['User-Password', `${PASSWORDS.carol},${code('carol')}`]] });
    expect(ok.code).toBe('Access-Accept');
    t.clock.advance(30_000);
    const noCode = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'carol'], ['User-Password', PASSWORDS.carol]] });
    expect(noCode.code).toBe('Access-Reject');
    const wrongPassword = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'carol'], ['User-Password', `nope,${code('carol')}`]] });
    expect(wrongPassword.code).toBe('Access-Reject');

    t.clock.advance(30_000);
    const fixed = await start([client({ name: 'fixed', mode: 'append' })]);
    expect((await radclient({ port: fixed.auth, secret: SECRET, attributes: [['User-Name', 'carol'], ['User-Password', `${PASSWORDS.carol}${code('carol')}`]] })).code).toBe('Access-Accept');

    t.clock.advance(30_000);
    const passcode = await start([client({ name: 'otp', mode: 'passcode', firstFactor: 'none' })]);
    expect((await radclient({ port: passcode.auth, secret: SECRET, attributes: [['User-Name', 'carol'], ['User-Password', code('carol')]] })).code).toBe('Access-Accept');
    expect((await radclient({ port: passcode.auth, secret: SECRET, attributes: [['User-Name', 'carol'], ['User-Password', '000000']] })).code).toBe('Access-Reject');
  });

  it("the Calling-Station-Id is the end user's address for trusted networks only when it is an IP address, on every request", async () => {
    await t.core.applications.create({ name: 'trusted-vpn', trustedIps: ['198.51.100.0/24'] }, admin);
    const { auth } = await start([client({ name: 'trusting', application: 'trusted-vpn', mode: 'passcode', firstFactor: 'none' })]);
    const ask = async (calling: string): Promise<string> =>
      (await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'carol'], ['User-Password', '000000'], ['Calling-Station-Id', calling]] })).code;
    // Asked twice each: the door remembers which values are addresses; the answers stay the same.
    for (let round = 0; round < 2; round++) {
      expect(await ask('198.51.100.7')).toBe('Access-Accept');
      expect(await ask('203.0.113.7')).toBe('Access-Reject');
      expect(await ask('00-11-22-33-44-55')).toBe('Access-Reject');
      expect(await ask('198.51.100')).toBe('Access-Reject');
    }
  });

  it('drops requests without Message-Authenticator, with a bad one, or from unknown clients; answers with Message-Authenticator first', async () => {
    const { auth } = await start([client()]);
    const none = await radclient({ port: auth, secret: SECRET, messageAuthenticator: false, timeout: 0.5, attributes: [['User-Name', 'alice'], ['User-Password', PASSWORDS.alice]] });
    expect(none.code).toBe('timeout');
    const wrongSecret = await radclient({ port: auth, secret: 'some-other-secret-value', timeout: 0.5, attributes: [['User-Name', 'alice'], ['User-Password', PASSWORDS.alice]] });
    expect(['timeout', 'invalid-reply']).toContain(wrongSecret.code);

    const request = (id: number): { bytes: Buffer; authenticator: Uint8Array } => {
      const authenticator = new Uint8Array(16).map(() => Math.floor(Math.random() * 256));
      const bytes = encodePacket(
        { code: 'Access-Request', identifier: id, attributes: [attr('User-Name', 'bob'), { type: 2, value: encryptUserPassword('wrong-password', SECRET, authenticator) }] },
        SECRET,
        authenticator,
      );
      return { bytes, authenticator };
    };
    const { bytes, authenticator } = request(7);
    const reply = await exchange(auth, bytes);
    expect(reply).not.toBeNull();
    expect(reply![0]).toBe(3);
    expect(verifyResponse(reply!, authenticator, SECRET, { requireMessageAuthenticator: true } as never)).toBe('valid');
    // The first attribute, right after the 20-octet header, is Message-Authenticator (80).
    expect(reply![20]).toBe(80);

    // Without Message-Authenticator: dropped.
    const bare = encodePacket({ code: 'Access-Request', identifier: 8, attributes: [attr('User-Name', 'bob')] }, SECRET, undefined, { messageAuthenticator: false });
    expect(await exchange(auth, bare)).toBeNull();
  });

  it('a retransmission gets the cached answer: one authentication, one failure counted', async () => {
    t.clock.advance(30_000);
    const { auth, server } = await start([client({ name: 'otp2', mode: 'passcode', firstFactor: 'none' })]);
    const send = async (password: string, id: number): Promise<[Buffer | null, Buffer | null]> => {
      const authenticator = new Uint8Array(16).map(() => Math.floor(Math.random() * 256));
      const bytes = encodePacket(
        { code: 'Access-Request', identifier: id, attributes: [attr('User-Name', 'bob'), { type: 2, value: encryptUserPassword(password, SECRET, authenticator) }] },
        SECRET,
        authenticator,
      );
      // The same datagram twice from the same socket: a retransmission.
      return new Promise((resolve) => {
        const s = createSocket('udp4');
        const got: Buffer[] = [];
        s.on('message', (m) => got.push(m));
        s.bind(0, '127.0.0.1', () => {
          s.send(bytes, auth, '127.0.0.1');
          setTimeout(() => s.send(bytes, auth, '127.0.0.1'), 50);
          setTimeout(() => {
            s.close();
            resolve([got[0] ?? null, got[1] ?? null]);
          }, 600);
        });
      });
    };
    const before = (await t.core.users.get('bob')).failedCount;
    const [r1, r2] = await send('123456', 21);
    expect(r1?.[0]).toBe(3);
    expect(r2?.equals(r1!)).toBe(true);
    expect((await t.core.users.get('bob')).failedCount).toBe(before + 1);
    expect(server.stats.duplicates).toBeGreaterThanOrEqual(1);

    const good = code('bob');
    const [a1, a2] = await send(good, 22);
    expect(a1?.[0]).toBe(2);
    expect(a2?.equals(a1!)).toBe(true);
    const events = (await t.core.audit.query({ username: 'bob', limit: 20 })).filter((e) => e.kind === 'authentication' && e.result === 'approved');
    expect(events.length).toBe(1);
  });

  it('acknowledges and audits Accounting-Requests', async () => {
    const { acct } = await start([client({ name: 'acct' })]);
    const r = await radclient({
      port: acct,
      secret: SECRET,
      type: 'acct',
      attributes: [['User-Name', 'alice'], ['Acct-Status-Type', 'Start'], ['Acct-Session-Id', 'sess-42'], ['Framed-IP-Address', '10.8.0.5']],
    });
    expect(r.code).toBe('Accounting-Response');
    const events = await t.core.audit.query({ limit: 5 });
    expect(events.find((e) => e.action === 'radius.accounting')).toMatchObject({ kind: 'accounting', result: 'start', username: 'alice', details: { session: 'sess-42', framedIp: '10.8.0.5' } });
  });

  it('survives malformed and random datagrams and keeps answering', async () => {
    const { auth, server } = await start([client({ name: 'fuzz' })]);
    const s = createSocket('udp4');
    const valid = encodePacket({ code: 'Access-Request', identifier: 1, attributes: [attr('User-Name', 'bob')] }, SECRET);
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(valid);
      const kind = i % 3;
      if (kind === 0) { const at = Math.floor(Math.random() * b.length); b[at] = (b[at] ?? 0) ^ (1 << Math.floor(Math.random() * 8)); }
      const bytes = kind === 1 ? b.subarray(0, Math.floor(Math.random() * b.length)) : kind === 2 ? Buffer.from(Array.from({ length: 1 + Math.floor(Math.random() * 600) }, () => Math.floor(Math.random() * 256))) : b;
      s.send(bytes, auth, '127.0.0.1');
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 300));
    s.close();
    // UDP may lose some under load; every datagram that arrived was dropped unanswered (a bit
    // flip anywhere breaks the Message-Authenticator).
    expect(server.stats.received).toBeGreaterThan(500);
    expect(server.stats.answered).toBe(0);
    expect(server.stats.dropped).toBe(server.stats.received);
    const still = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'bob'], ['User-Password', 'wrong-again']] });
    expect(still.code).toBe('Access-Reject');
  });

  it('proxy mode: the upstream FreeRADIUS checks the password, Countersign the code; its Accept attributes pass on, its Reject passes straight through', async () => {
    t.clock.advance(30_000);
    await t.core.users.create({ username: 'alice-up' }, admin).catch(() => undefined);
    const { auth } = await start([
      client({
        name: 'nps',
        firstFactor: 'upstream',
        replyAttributes: [],
        upstream: { host: upstream.host, port: upstream.authPort, secret: upstream.secret, timeoutMs: 2000, retries: 1 },
      }),
    ]);
    const aliceUpstream = upstream.users.find((u) => u.name === 'alice')!;
    // alice's Countersign account has her TOTP; FreeRADIUS has her upstream password.
    const first = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'alice'], ['User-Password', aliceUpstream.password]] });
    expect(first.code).toBe('Access-Challenge');
    const final = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'alice'], ['User-Password', code('alice')], ['State', attribute(first, 'State') as string]] });
    expect(final.code).toBe('Access-Accept');
    expect(attribute(final, 'Filter-Id')).toBe('staff');
    const rejected = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'alice'], ['User-Password', 'not-the-upstream-password']] });
    expect(rejected.code).toBe('Access-Reject');
  });

  it('proxy mode with MS-CHAPv2: the upstream answers the challenge-response, the final Accept carries MS-CHAP2-Success and MPPE keys re-encrypted for the client', async () => {
    t.clock.advance(30_000);
    const { auth } = await start([
      client({ name: 'rdgw', firstFactor: 'upstream', replyAttributes: [], upstream: { host: upstream.host, port: upstream.authPort, secret: upstream.secret, timeoutMs: 2000, retries: 1 } }),
    ]);
    const carolUpstream = upstream.users.find((u) => u.name === 'carol')!;
    const ms = msChapV2Request('carol', carolUpstream.password);
    const first = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'carol'], ...ms.attributes] });
    expect(first.code).toBe('Access-Challenge');

    // The answer with the code, sent raw so the reply's MPPE keys can be opened here.
    const authenticator = new Uint8Array(16).map(() => Math.floor(Math.random() * 256));
    const state = Buffer.from((attribute(first, 'State') as string).slice(2), 'hex');
    const bytes = encodePacket(
      { code: 'Access-Request', identifier: 99, attributes: [attr('User-Name', 'carol'), { type: 2, value: encryptUserPassword(code('carol'), SECRET, authenticator) }, attr('State', state)] },
      SECRET,
      authenticator,
    );
    const reply = await exchange(auth, bytes, 3000);
    expect(reply?.[0]).toBe(2);
    expect(verifyResponse(reply!, authenticator, SECRET)).toBe('valid');
    const accept = decodePacket(reply!);
    const success = accept.getVendor('MS-CHAP2-Success');
    expect(msChapV2SuccessValid(ms, success ? `0x${Buffer.from(success).toString('hex')}` : undefined)).toBe(true);
    const keys = accept.vendorAttributes(311).filter((a) => a.type === 16 || a.type === 17);
    expect(keys.length).toBe(2);
    for (const k of keys) {
      // MS-MPPE keys (RFC 2548 2.4.2): the hidden length octet says 16 only when decrypted with
      // our secret and this request's authenticator (a wrong key gives a random length).
      const plain = decryptSaltedValue(k.value, SECRET, authenticator);
      expect(plain.length).toBe(16);
    }
  });

  it('EAP through the upstream FreeRADIUS with eapol_test: its rounds pass through, and after its Accept the second factor decides (here a one-time bypass)', async () => {
    const { auth } = await start([
      client({ name: 'wifi', firstFactor: 'upstream', replyAttributes: [], upstream: { host: upstream.host, port: upstream.authPort, secret: upstream.secret, timeoutMs: 2000, retries: 1 } }),
    ]);
    const aliceUpstream = upstream.users.find((u) => u.name === 'alice')!;
    const conf = join(mkdtempSync(join(tmpdir(), 'countersign-eapol-')), 'eap-md5.conf');
    writeFileSync(conf, `network={\n  key_mgmt=IEEE8021X\n  eap=MD5\n  identity="alice"\n  password="${aliceUpstream.password}"\n}\n`);
    // Asynchronous: the RADIUS server under test runs in this process.
    const eapol = (): Promise<{ code: number | null; out: string }> =>
      new Promise((resolve) => {
        const child = spawn('eapol_test', ['-c', conf, '-a', '127.0.0.1', '-p', String(auth), '-s', SECRET, '-n', '-t', '5']);
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        child.on('close', (code) => resolve({ code, out }));
      });
    // Without a way to answer a code (EAP clients cannot show a challenge), the login fails...
    const refused = await eapol();
    expect(refused.out).toMatch(/Access-Challenge/);
    expect(refused.code).not.toBe(0);
    // ...and with a one-time bypass the upstream's Accept passes on with its EAP-Success.
    await t.core.bypass.issue('alice', { reason: 'eap test', seconds: 300 }, admin);
    const ok = await eapol();
    expect(ok.out).toMatch(/SUCCESS/);
    expect(ok.code).toBe(0);
    rmSync(dirname(conf), { recursive: true, force: true });
  });

  it('an upstream answer that is malformed or forged is ignored without harm; the real answer is used', async () => {
    const UPSTREAM_SECRET = 'fake-upstream-secret-value';
    const fake = createSocket('udp4');
    await new Promise<void>((r) => fake.bind(0, '127.0.0.1', () => r()));
    const fakePort = fake.address().port;
    fake.on('message', (msg, rinfo) => {
      const req = decodePacket(msg);
      // First a truncated packet with the right identifier, then one signed with a wrong secret,
      // then the real Access-Reject.
      const junk = Buffer.alloc(20);
      junk[0] = 3;
      junk[1] = req.identifier;
      junk.writeUInt16BE(400, 2);
      fake.send(junk, rinfo.port, rinfo.address);
      fake.send(encodePacket({ code: 'Access-Accept', identifier: req.identifier, attributes: [] }, 'not-the-secret', req.authenticator), rinfo.port, rinfo.address);
      setTimeout(() => fake.send(encodePacket({ code: 'Access-Reject', identifier: req.identifier, attributes: [] }, UPSTREAM_SECRET, req.authenticator), rinfo.port, rinfo.address), 30);
    });
    try {
      const { auth } = await start([
        client({ name: 'spoof', firstFactor: 'upstream', replyAttributes: [], upstream: { host: '127.0.0.1', port: fakePort, secret: UPSTREAM_SECRET, timeoutMs: 1000, retries: 0 } }),
      ]);
      const r = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'alice'], ['User-Password', 'whatever-password']] });
      expect(r.code).toBe('Access-Reject');
    } finally {
      fake.close();
    }
  });

  it('adds reply attributes by directory group, nested membership included, and leaves them out when the directory cannot be asked', async () => {
    const ldap = await startSlapd({ ad: true });
    try {
      const source = directorySource({ urls: [ldap.url], bindDn: ldap.bindDn, bindPassword: ldap.bindPassword, baseDn: ldap.baseDn });
      const dead = directorySource({ urls: ['ldap://127.0.0.1:1'], bindDn: ldap.bindDn, bindPassword: ldap.bindPassword, baseDn: ldap.baseDn, timeoutMs: 300 });
      const isMember = (directory: string, username: string, group: string): Promise<boolean> => isGroupMember(directory === 'ldap' ? source : dead, openldap, username, group);
      const groups = [
        { directory: 'ldap', group: groupDn('staff'), attributes: [{ name: 'Class', value: 'staff-vpn' }] },
        { directory: 'down', group: groupDn('staff'), attributes: [{ name: 'Filter-Id', value: 'never' }] },
      ];
      const { auth } = await start([client({ name: 'groups', mode: 'passcode', firstFactor: 'none', replyAttributes: [], groupReplyAttributes: groups })], ['127.0.0.1'], isMember);
      t.clock.advance(30_000);
      for (const [user, expected] of [['alice', '0x73746166662d76706e'], ['carol', '0x73746166662d76706e'], ['bob', undefined]] as const) {
        const r = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', user], ['User-Password', code(user)]] });
        expect(r.code, user).toBe('Access-Accept');
        expect(attribute(r, 'Class'), user).toBe(expected);
        expect(attribute(r, 'Filter-Id'), user).toBeUndefined();
      }
    } finally {
      await ldap.stop();
    }
  });

  it("adds the user's own reply attributes last, replacing the client's of the same name, until they are cleared", async () => {
    const hex = (text: string): string => `0x${Buffer.from(text).toString('hex')}`;
    const { auth } = await start([client({ name: 'per-user', mode: 'passcode', firstFactor: 'none' })]);
    await t.core.users.setReplyAttributes(
      'bob',
      [
        { name: 'Class', value: 'vpn-admins' },
        { name: 'Class', value: 'audit' },
        { name: 'Filter-Id', value: 'admin-acl' },
        { name: 'Framed-IP-Address', value: '10.8.0.12' },
      ],
      admin,
    );
    t.clock.advance(30_000);
    const bob = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'bob'], ['User-Password', code('bob')]] });
    expect(bob.code).toBe('Access-Accept');
    // The client's Class is replaced, its Session-Timeout kept; the user's come in their order.
    expect(attributes(bob, 'Class')).toEqual([hex('vpn-admins'), hex('audit')]);
    expect(attribute(bob, 'Session-Timeout')).toBe('3600');
    expect(attribute(bob, 'Filter-Id')).toBe('admin-acl');
    expect(attribute(bob, 'Framed-IP-Address')).toBe('10.8.0.12');
    expect(bob.attributes.map(([name]) => name).slice(-4)).toEqual(['Class', 'Class', 'Filter-Id', 'Framed-IP-Address']);
    // Another user gets the client's attributes only.
    const alice = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'alice'], ['User-Password', code('alice')]] });
    expect(alice.code).toBe('Access-Accept');
    expect(attributes(alice, 'Class')).toEqual([hex('vpn-users')]);
    expect(attribute(alice, 'Filter-Id')).toBeUndefined();
    // A refusal carries none of them.
    const wrong = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'bob'], ['User-Password', '000000']] });
    expect(wrong.code).toBe('Access-Reject');
    expect(attribute(wrong, 'Filter-Id')).toBeUndefined();
    await t.core.users.setReplyAttributes('bob', [], admin);
    t.clock.advance(30_000);
    const cleared = await radclient({ port: auth, secret: SECRET, attributes: [['User-Name', 'bob'], ['User-Password', code('bob')]] });
    expect(cleared.code).toBe('Access-Accept');
    expect(attributes(cleared, 'Class')).toEqual([hex('vpn-users')]);
    expect(attribute(cleared, 'Framed-IP-Address')).toBeUndefined();
  });

  it('refuses a user reply attribute the dictionary does not know, or a value that does not fit it, naming the field', async () => {
    const refused = async (list: { name: string; value: string }[]) => {
      try {
        await t.core.users.setReplyAttributes('carol', list, admin);
      } catch (e) {
        return { code: (e as { code?: string }).code, fields: Object.keys((e as { details?: object }).details ?? {}) };
      }
      return undefined;
    };
    expect(await refused([{ name: 'Class', value: 'ok' }, { name: 'Nope', value: 'x' }])).toEqual({ code: 'validation_failed', fields: ['attributes[1].name'] });
    expect(await refused([{ name: 'Session-Timeout', value: 'soon' }])).toEqual({ code: 'validation_failed', fields: ['attributes[0].value'] });
    expect(await refused([{ name: 'Framed-IP-Address', value: '10.8.0.300' }])).toEqual({ code: 'validation_failed', fields: ['attributes[0].value'] });
    expect(await refused([{ name: 'Message-Authenticator', value: 'x' }])).toEqual({ code: 'validation_failed', fields: ['attributes[0].name'] });
    expect(await refused([{ name: 'State', value: 'x' }])).toEqual({ code: 'validation_failed', fields: ['attributes[0].name'] });
    expect((await t.core.users.get('carol')).replyAttributes).toEqual([]);
  });

  it('refuses bad client settings by name', async () => {
    const registry = createFirstFactorRegistry({});
    const base: RadiusConfig = { enabled: true, listen: ['127.0.0.1'], authPort: 1, acctPort: 0, challengeSeconds: 120, clients: [] };
    await expect(radiusClients({ ...base, clients: [client({ firstFactor: 'none', secret: undefined })] }, registry, () => undefined)).rejects.toThrow('radius.clients[0].secret: give exactly one of secret and secretFile');
    await expect(radiusClients({ ...base, clients: [client({ firstFactor: 'ldap' })] }, registry, () => undefined)).rejects.toThrow(/radius.clients\[0\].firstFactor: unknown first factor "ldap"/);
    await expect(radiusClients({ ...base, clients: [client({ firstFactor: 'none', replyAttributes: [{ name: 'Nope', value: 'x' }] })] }, registry, () => undefined)).rejects.toThrow('radius.clients[0].replyAttributes[0].name: unknown attribute "Nope"');
    const warnings: string[] = [];
    await radiusClients({ ...base, clients: [client({ firstFactor: 'none', secret: 'short' })] }, registry, (m) => warnings.push(m));
    expect(warnings[0]).toMatch(/only 5 characters/);
  });
});
