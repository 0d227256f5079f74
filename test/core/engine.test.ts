import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateCode, parseSecret } from '../../src/core/oath.ts';
import { isCoreError } from '../../src/core/errors.ts';
import type { AuthenticationOutcome } from '../../src/core/api.ts';
import { adminActor, cliActor, createTestCore, type TestCore } from '../support/harness.ts';

let t: TestCore;
const outcomes: AuthenticationOutcome[] = [];

beforeEach(async () => {
  outcomes.length = 0;
  t = await createTestCore({ onAuthentication: (o) => outcomes.push(o) });
});
afterEach(async () => t.close());

async function enrolled(username = 'alice') {
  await t.core.users.create({ username, email: `${username}@example.com` }, cliActor);
  const e = await t.core.methods.enrollTotp(username, {}, cliActor);
  const secret = parseSecret(e.secret) as Uint8Array;
  const codeAt = (ms: number) => generateCode(secret, Math.floor(ms / 30_000), { algorithm: 'SHA1', digits: 6 });
  return { enrollment: e, secret, code: () => codeAt(t.clock.now()), codeAt };
}

describe('authentication engine', () => {
  it('approves a correct TOTP code once and denies its replay', async () => {
    const { code } = await enrolled();
    const c = code();
    const first = await t.core.authentications.create({ username: 'alice', passcode: c }, adminActor);
    expect(first.view.state).toBe('approved');
    expect(first.reason).toBe('passcode_ok');
    const again = await t.core.authentications.create({ username: 'alice', passcode: c }, adminActor);
    expect(again.view.state).toBe('denied');
    expect(again.reason).toBe('replayed_passcode');
    expect(again.view.message).toBe('authentication failed');
    t.clock.advance(30_000);
    expect((await t.core.authentications.create({ username: 'alice', passcode: code() }, adminActor)).view.state).toBe('approved');
  });

  it('approves one of many simultaneous sign-ins with the same code; the others are recorded as replays and counted', async () => {
    const { code } = await enrolled('zoe');
    const c = code();
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => t.core.authentications.create({ username: 'zoe', passcode: c }, adminActor)));
    expect(outcomes.filter((o) => o.view.state === 'approved')).toHaveLength(1);
    expect(outcomes.filter((o) => o.reason === 'replayed_passcode')).toHaveLength(7);
    // Every attempt has its record and its event, with the state it was given.
    for (const o of outcomes) expect((await t.core.authentications.get(o.view.id)).state).toBe(o.view.state);
    const events = (await t.core.audit.query({ username: 'zoe', kind: 'authentication', limit: 100 })).map((e) => e.reason);
    expect(events.filter((r) => r === 'passcode_ok')).toHaveLength(1);
    expect(events.filter((r) => r === 'replayed_passcode')).toHaveLength(7);
    expect((await t.store.users.getByUsername('zoe'))?.failedCount).toBe(7);
  });

  it('looks users up case-insensitively', async () => {
    const { code } = await enrolled('Bob');
    expect((await t.core.authentications.create({ username: 'bOB', passcode: code() }, adminActor)).view.state).toBe('approved');
  });

  it('locks after the threshold, refuses even a correct code, and unlocks (admin, automatic)', async () => {
    const { code } = await enrolled();
    await t.core.settings.update({ lockout: { threshold: 3, autoUnlockSeconds: 600 } }, cliActor);
    for (let i = 0; i < 3; i++) {
      const o = await t.core.authentications.create({ username: 'alice', passcode: '000000' === code() ? '111111' : '000000' }, adminActor);
      expect(o.view.state).toBe('denied');
    }
    expect((await t.core.users.get('alice')).state).toBe('locked');
    const locked = await t.core.authentications.create({ username: 'alice', passcode: code() }, adminActor);
    expect(locked.reason).toBe('user_locked');
    await t.core.users.unlock('alice', cliActor);
    expect((await t.core.users.get('alice')).state).toBe('enabled');
    expect((await t.core.authentications.create({ username: 'alice', passcode: code() }, adminActor)).view.state).toBe('approved');
    // Lock again, then let the lockout period pass.
    for (let i = 0; i < 3; i++) await t.core.authentications.create({ username: 'alice', passcode: 'abcdef' }, adminActor);
    expect((await t.core.users.get('alice')).state).toBe('locked');
    t.clock.advance(601_000);
    expect((await t.core.authentications.create({ username: 'alice', passcode: code() }, adminActor)).view.state).toBe('approved');
    const history = await t.core.users.history('alice');
    expect(history.map((e) => e.action)).toEqual(['user.unlock', 'user.lock', 'user.unlock', 'user.lock']);
  });

  it('a success resets the consecutive failure count', async () => {
    const { code } = await enrolled();
    await t.core.settings.update({ lockout: { threshold: 3, autoUnlockSeconds: 0 } }, cliActor);
    await t.core.authentications.create({ username: 'alice', passcode: '999999' === code() ? '888888' : '999999' }, adminActor);
    await t.core.authentications.create({ username: 'alice', passcode: '999999' === code() ? '888888' : '999999' }, adminActor);
    expect((await t.core.authentications.create({ username: 'alice', passcode: code() }, adminActor)).view.state).toBe('approved');
    expect((await t.core.users.get('alice')).failedCount).toBe(0);
  });

  it('denies unknown users with require-user-match and passes them through without it', async () => {
    const denied = await t.core.authentications.create({ username: 'nobody', passcode: '123456' }, adminActor);
    expect(denied.view.state).toBe('denied');
    expect(denied.reason).toBe('user_not_found');
    expect(denied.view.message).toBe('authentication failed');
    await t.core.applications.create({ name: 'vpn', requireUserMatch: false }, cliActor);
    const passed = await t.core.authentications.create({ username: 'nobody', application: 'vpn' }, adminActor);
    expect(passed.view.state).toBe('approved');
    expect(passed.reason).toBe('pass_through_unknown_user');
  });

  it('denies disabled and blocked users, with the reason only in the audit trail', async () => {
    const { code } = await enrolled();
    await t.core.users.setEnabled('alice', false, cliActor);
    expect((await t.core.authentications.create({ username: 'alice', passcode: code() }, adminActor)).reason).toBe('user_disabled');
    await t.core.users.setEnabled('alice', true, cliActor);
    await t.core.users.block('alice', 'reported lost phone', cliActor);
    const blocked = await t.core.authentications.create({ username: 'alice', passcode: code() }, adminActor);
    expect(blocked.reason).toBe('user_blocked');
    expect(blocked.view).not.toHaveProperty('reason');
    await t.core.users.unblock('alice', 'phone found', cliActor);
    expect((await t.core.authentications.create({ username: 'alice', passcode: code() }, adminActor)).view.state).toBe('approved');
    const events = await t.core.audit.query({ username: 'alice', kind: 'authentication', limit: 10 });
    expect(events.map((e) => e.reason)).toEqual(['passcode_ok', 'user_blocked', 'user_disabled']);
    const history = await t.core.users.history('alice');
    expect(history.find((e) => e.action === 'user.block')?.reason).toBe('reported lost phone');
  });

  it('approves from trusted IPv4 and IPv6 networks without a passcode', async () => {
    await enrolled();
    await t.core.settings.update({ trustedIps: ['10.1.0.0/16'] }, cliActor);
    await t.core.applications.create({ name: 'intranet', trustedIps: ['2001:db8::/48', '192.0.2.10-192.0.2.20'] }, cliActor);
    expect((await t.core.authentications.create({ username: 'alice', clientIp: '10.1.2.3' }, adminActor)).reason).toBe('trusted_ip');
    expect((await t.core.authentications.create({ username: 'alice', application: 'intranet', clientIp: '2001:db8::7' }, adminActor)).reason).toBe('trusted_ip');
    expect((await t.core.authentications.create({ username: 'alice', application: 'intranet', clientIp: '192.0.2.15' }, adminActor)).reason).toBe('trusted_ip');
    const outside = await t.core.authentications.create({ username: 'alice', clientIp: '192.0.2.15' }, adminActor);
    expect(outside.view.state).toBe('challenge');
  });

  it('remembers an approval for the cache window per user, application and address', async () => {
    const { code } = await enrolled();
    await t.core.applications.create({ name: 'portal', cacheSeconds: 60 }, cliActor);
    expect((await t.core.authentications.create({ username: 'alice', application: 'portal', clientIp: '198.51.100.1', passcode: code() }, adminActor)).reason).toBe('passcode_ok');
    t.clock.advance(30_000);
    expect((await t.core.authentications.create({ username: 'alice', application: 'portal', clientIp: '198.51.100.1' }, adminActor)).reason).toBe('cached');
    expect((await t.core.authentications.create({ username: 'alice', application: 'portal', clientIp: '198.51.100.2' }, adminActor)).view.state).toBe('challenge');
    expect((await t.core.authentications.create({ username: 'alice', application: 'default', clientIp: '198.51.100.1' }, adminActor)).view.state).toBe('challenge');
    t.clock.advance(31_000);
    expect((await t.core.authentications.create({ username: 'alice', application: 'portal', clientIp: '198.51.100.1' }, adminActor)).view.state).toBe('challenge');
  });

  it('uses a one-time bypass exactly once, within its lifetime', async () => {
    await t.core.users.create({ username: 'carol' }, cliActor);
    const b = await t.core.bypass.issue('carol', { reason: 'lost phone, ticket 42' }, cliActor);
    expect(b.expiresAt - b.createdAt).toBe(300_000);
    expect((await t.core.authentications.create({ username: 'carol' }, adminActor)).reason).toBe('bypass');
    expect((await t.core.authentications.create({ username: 'carol' }, adminActor)).reason).toBe('no_method');
    await t.core.bypass.issue('carol', { reason: 'again', seconds: 60 }, cliActor);
    t.clock.advance(61_000);
    expect((await t.core.authentications.create({ username: 'carol' }, adminActor)).view.state).toBe('denied');
    await expect(t.core.bypass.issue('carol', { reason: 'too long', seconds: 10_000_000 }, cliActor)).rejects.toMatchObject({ code: 'validation_failed' });
  });

  it('runs a challenge: create without passcode, answer once, replay of the answer refused', async () => {
    const { code } = await enrolled();
    const started = await t.core.authentications.create({ username: 'alice' }, adminActor);
    expect(started.view.state).toBe('challenge');
    expect((await t.core.authentications.get(started.view.id)).state).toBe('challenge');
    const answered = await t.core.authentications.answer(started.view.id, code(), adminActor);
    expect(answered.view.state).toBe('approved');
    expect((await t.core.authentications.get(started.view.id)).state).toBe('approved');
    await expect(t.core.authentications.answer(started.view.id, code(), adminActor)).rejects.toMatchObject({ code: 'authentication_closed' });
  });

  it('expires an unanswered challenge', async () => {
    await enrolled();
    const started = await t.core.authentications.create({ username: 'alice' }, adminActor);
    t.clock.advance(121_000);
    expect((await t.core.authentications.get(started.view.id)).state).toBe('expired');
    await expect(t.core.authentications.answer(started.view.id, '123456', adminActor)).rejects.toMatchObject({ code: 'authentication_closed' });
  });

  it('restricts methods per application', async () => {
    const { code } = await enrolled();
    await t.core.applications.create({ name: 'hotp-only', allowedMethods: ['hotp'] }, cliActor);
    const o = await t.core.authentications.create({ username: 'alice', application: 'hotp-only', passcode: code() }, adminActor);
    expect(o.reason).toBe('method_not_allowed');
  });

  it('counts malformed codes as failures with their own reason', async () => {
    await enrolled();
    const o = await t.core.authentications.create({ username: 'alice', passcode: '12 345' }, adminActor);
    expect(o.reason).toBe('malformed_passcode');
    expect((await t.core.users.get('alice')).failedCount).toBe(1);
  });

  it('reports every decision to the listener and the audit trail with MFA Server fields', async () => {
    const { code } = await enrolled();
    await t.core.authentications.create({ username: 'alice', passcode: code(), clientIp: '203.0.113.9' }, adminActor);
    expect(outcomes).toHaveLength(1);
    const [event] = await t.core.audit.query({ kind: 'authentication', limit: 1 });
    expect(event).toMatchObject({ username: 'alice', email: 'alice@example.com', result: 'approved', reason: 'passcode_ok', method: 'totp', mode: 'passcode', application: 'default', serverName: 'test-server', clientIp: '203.0.113.9', actor: 'apikey:test-admin', device: 'Authenticator app' });
  });

  it('rejects bad input with validation errors naming the field', async () => {
    for (const [input, field] of [
      [{ username: '' }, 'username'],
      [{ username: 'a', clientIp: 'nope' }, 'clientIp'],
      [{ username: 'a', method: 'fax' }, 'method'],
      [{ username: 'a', passcode: 'x'.repeat(65) }, 'passcode'],
      [{ username: 'a\u0000b' }, 'username'],
    ] as const) {
      try {
        await t.core.authentications.create(input as never, adminActor);
        expect.unreachable();
      } catch (e) {
        expect(isCoreError(e, 'validation_failed')).toBe(true);
        expect(Object.keys((e as { details: object }).details)).toContain(field);
      }
    }
  });
});

describe('users', () => {
  it('stores phones in E.164 with extension and rejects bad ones', async () => {
    const u = await t.core.users.create({ username: 'dave', phone: { number: '(415) 555-2671', country: 'US', extension: '12' } }, cliActor);
    expect(u.phone).toEqual({ number: '+14155552671', extension: '12', country: 'US' });
    await expect(t.core.users.create({ username: 'erin', phone: { number: '12' } }, cliActor)).rejects.toMatchObject({ code: 'validation_failed' });
  });
  it('refuses duplicate usernames case-insensitively', async () => {
    await t.core.users.create({ username: 'Frank' }, cliActor);
    await expect(t.core.users.create({ username: 'frank' }, cliActor)).rejects.toMatchObject({ code: 'user_exists' });
  });
  it('hashes PINs and never returns them', async () => {
    const u = await t.core.users.create({ username: 'gina', pin: '4821' }, cliActor);
    expect(u.hasPin).toBe(true);
    expect(JSON.stringify(u)).not.toContain('4821');
    expect((await t.store.users.getByUsername('gina'))?.pinHash).toMatch(/^\$argon2id\$/);
    await expect(t.core.users.create({ username: 'hank', pin: '12' }, cliActor)).rejects.toMatchObject({ code: 'validation_failed' });
  });
  it('imports CSV: good rows land, bad rows are reported with their line', async () => {
    await t.core.users.create({ username: 'existing' }, cliActor);
    const csv = [
      'username,display_name,email,phone,phone_country,language',
      'ivan,Ivan I,ivan@example.com,+33 1 23 45 67 89,,fr',
      'judy,Judy J,not-an-email,,,en',
      'existing,Now Named,,,,',
      ',No Name,,,,',
      'kate,Kate K,kate@example.com,020 7946 0018,GB,en-GB',
      'leo,Leo,,999,US,en',
    ].join('\n');
    const progress: number[] = [];
    const report = await t.core.users.importCsv(csv, cliActor, (done) => progress.push(done));
    expect(report).toMatchObject({ total: 6, created: 2, updated: 1, skipped: 3 });
    expect(report.errors.map((e) => [e.row, e.field])).toEqual([
      [3, 'email'],
      [5, 'username'],
      [7, 'phone.number'],
    ]);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await t.core.users.get('kate')).phone?.number).toBe('+442079460018');
    expect((await t.core.users.get('existing')).displayName).toBe('Now Named');
    await expect(t.core.users.get('judy')).rejects.toMatchObject({ code: 'user_not_found' });
  });
});

describe('token import', () => {
  it('imports CSV and PSKC tokens and verifies their codes', async () => {
    await t.core.users.create({ username: 'mia' }, cliActor);
    await t.core.users.create({ username: 'ned' }, cliActor);
    const csv = 'username,type,secret,digits,counter,serial\nmia,hotp,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,6,0,HW-1\nnobody,totp,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,,,\nmia,totp,short,,,\n';
    const r1 = await t.core.methods.importTokens('csv', csv, cliActor);
    expect(r1).toMatchObject({ total: 3, created: 1, skipped: 2 });
    expect(r1.errors.map((e) => [e.row, e.field])).toEqual([[3, 'username'], [4, 'secret']]);
    expect((await t.core.authentications.create({ username: 'mia', passcode: '755224' }, adminActor)).view.state).toBe('approved');
    expect((await t.core.authentications.create({ username: 'mia', passcode: '755224' }, adminActor)).reason).toBe('replayed_passcode');
    expect((await t.core.authentications.create({ username: 'mia', passcode: '969429' }, adminActor)).view.state).toBe('approved');

    const pskc = `<?xml version="1.0" encoding="UTF-8"?>
<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">
  <KeyPackage>
    <DeviceInfo><Manufacturer>Acme</Manufacturer><SerialNo>987654321</SerialNo><UserId>ned</UserId></DeviceInfo>
    <Key Id="1" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp">
      <AlgorithmParameters><ResponseFormat Length="8" Encoding="DECIMAL"/></AlgorithmParameters>
      <Data><Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret><Counter><PlainValue>0</PlainValue></Counter></Data>
    </Key>
  </KeyPackage>
  <KeyPackage>
    <Key Id="2" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp"><Data><Secret><EncryptedValue/></Secret></Data><UserId>ned</UserId></Key>
  </KeyPackage>
</KeyContainer>`;
    const r2 = await t.core.methods.importTokens('pskc', pskc, cliActor);
    expect(r2).toMatchObject({ total: 2, created: 1, skipped: 1 });
    const [m] = await t.core.methods.list('ned');
    expect(m?.config).toMatchObject({ digits: 8, serial: '987654321', origin: 'imported' });
    const code = generateCode(new Uint8Array(Buffer.from('12345678901234567890')), 0, { algorithm: 'SHA1', digits: 8 });
    expect((await t.core.authentications.create({ username: 'ned', passcode: code }, adminActor)).view.state).toBe('approved');
  });

  it('keeps PSKC values as text (a numeric-looking base64 secret keeps its leading zero)', async () => {
    await t.core.users.create({ username: 'pia' }, cliActor);
    const b64 = '0123456789012345678901234567';
    const pskc = `<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc"><KeyPackage>
      <DeviceInfo><SerialNo>000123</SerialNo></DeviceInfo>
      <Key Id="1" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp"><UserId>pia</UserId>
      <Data><Secret><PlainValue>${b64}</PlainValue></Secret><Counter><PlainValue>0</PlainValue></Counter></Data></Key>
    </KeyPackage></KeyContainer>`;
    expect(await t.core.methods.importTokens('pskc', pskc, cliActor)).toMatchObject({ created: 1 });
    const [m] = await t.core.methods.list('pia');
    expect(m?.config.serial).toBe('000123');
    const code = generateCode(new Uint8Array(Buffer.from(b64, 'base64')), 0, { algorithm: 'SHA1', digits: 6 });
    expect((await t.core.authentications.create({ username: 'pia', passcode: code }, adminActor)).view.state).toBe('approved');
  });

  it('resynchronizes an HOTP token that ran ahead', async () => {
    await t.core.users.create({ username: 'olga' }, cliActor);
    await t.core.methods.importTokens('csv', 'username,type,secret\nolga,hotp,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n', cliActor);
    const [m] = await t.core.methods.list('olga');
    const secret = new Uint8Array(Buffer.from('12345678901234567890'));
    const at = (c: number) => generateCode(secret, c, { algorithm: 'SHA1', digits: 6 });
    expect((await t.core.authentications.create({ username: 'olga', passcode: at(40) }, adminActor)).view.state).toBe('denied');
    await t.core.methods.resync('olga', m?.id as string, at(40), at(41), cliActor);
    expect((await t.core.authentications.create({ username: 'olga', passcode: at(41) }, adminActor)).reason).toBe('replayed_passcode');
    expect((await t.core.authentications.create({ username: 'olga', passcode: at(42) }, adminActor)).view.state).toBe('approved');
    await expect(t.core.methods.resync('olga', m?.id as string, at(50), at(52), cliActor)).rejects.toMatchObject({ code: 'resync_failed' });
  });
});

describe('API keys', () => {
  it('authenticates a created key, refuses tampered and revoked ones', async () => {
    const { key, token } = await t.core.apiKeys.create({ name: 'vpn-app', role: 'sdk' }, cliActor);
    expect(await t.core.apiKeys.authenticate(token)).toMatchObject({ name: 'vpn-app', role: 'sdk' });
    const tampered = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    expect(await t.core.apiKeys.authenticate(tampered)).toBeUndefined();
    expect(await t.core.apiKeys.authenticate('cs_nothing')).toBeUndefined();
    await t.core.apiKeys.revoke(key.id, cliActor);
    expect(await t.core.apiKeys.authenticate(token)).toBeUndefined();
    const stored = await t.store.apiKeys.getByLookupId(key.prefix.slice(3, 15));
    expect(stored?.hash).not.toContain(token.slice(16));
  });
});

describe("an approval carries the user's reply attributes", () => {
  it('for a code given at once and for a challenge answered, never for a refusal', async () => {
    const { code } = await enrolled('bob');
    const attributes = [
      { name: 'Class', value: 'vpn-admins' },
      { name: 'Filter-Id', value: 'admin-acl' },
    ];
    await t.core.users.setReplyAttributes('bob', attributes, cliActor);
    const atOnce = await t.core.authentications.create({ username: 'bob', passcode: code() }, adminActor);
    expect(atOnce.view.state).toBe('approved');
    expect(atOnce.replyAttributes).toEqual(attributes);
    const refused = await t.core.authentications.create({ username: 'bob', passcode: '000000' }, adminActor);
    expect(refused.view.state).toBe('denied');
    expect(refused.replyAttributes).toBeUndefined();

    t.clock.advance(30_000);
    const challenge = await t.core.authentications.create({ username: 'bob' }, adminActor);
    expect(challenge.view.state).toBe('challenge');
    expect(challenge.replyAttributes).toBeUndefined();
    const answered = await t.core.authentications.answer(challenge.view.id, code(), adminActor);
    expect(answered.view.state).toBe('approved');
    expect(answered.replyAttributes).toEqual(attributes);
  });
});
