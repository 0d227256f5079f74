import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/core/api.ts';
import { generateCode, parseSecret } from '../../src/core/oath.ts';
import { cliActor, createTestCore, type TestCore } from '../support/harness.ts';

let t: TestCore;
beforeEach(async () => {
  t = await createTestCore();
});
afterEach(async () => t.close());

const self = (name: string): Actor => ({ kind: 'user', name, role: 'self' });

describe('PIN policy', () => {
  it('refuses PINs outside the lengths and trivial PINs, and follows changes to the policy', async () => {
    await t.core.users.create({ username: 'alice' }, cliActor);
    for (const pin of ['123', '1111', '1234', '9876', '8901', '123456789']) {
      await expect(t.core.users.update('alice', { pin }, cliActor), pin).rejects.toMatchObject({ code: 'validation_failed' });
    }
    expect((await t.core.users.update('alice', { pin: '4821' }, cliActor)).hasPin).toBe(true);
    await t.core.settings.update({ pin: { minLength: 6, refuseTrivial: false } }, cliActor);
    await expect(t.core.users.update('alice', { pin: '4821' }, cliActor)).rejects.toMatchObject({ code: 'validation_failed' });
    expect((await t.core.users.update('alice', { pin: '111111' }, cliActor)).hasPin).toBe(true);
    await expect(t.core.settings.update({ pin: { minLength: 9, maxLength: 8 } }, cliActor)).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(t.core.settings.update({ portal: { allowBypass: 'yes' } } as never, cliActor)).rejects.toMatchObject({
      code: 'validation_failed',
      details: { 'portal.allowBypass': 'must be true or false' },
    });
    await expect(t.core.settings.update({ portal: { enrollMethods: ['totp', 'sms'] } } as never, cliActor)).rejects.toMatchObject({ code: 'validation_failed' });
  });
});

describe('methods awaiting confirmation', () => {
  it('cannot sign in until confirmed with a code, and a wrong code leaves it pending', async () => {
    await t.core.users.create({ username: 'alice' }, cliActor);
    const e = await t.core.methods.enrollTotp('alice', { confirm: true }, self('alice'));
    expect(e.method.pending).toBe(true);
    const secret = parseSecret(e.secret) as Uint8Array;
    const code = () => generateCode(secret, Math.floor(t.clock.now() / 30_000), { algorithm: 'SHA1', digits: 6 });
    const before = await t.core.authentications.create({ username: 'alice', passcode: code() }, cliActor);
    expect(before.reason).toBe('no_method');
    const wrong = code() === '000000' ? '111111' : '000000';
    await expect(t.core.methods.confirm('alice', e.method.id, wrong, self('alice'))).rejects.toMatchObject({ code: 'code_rejected' });
    const confirmed = await t.core.methods.confirm('alice', e.method.id, code(), self('alice'));
    expect(confirmed.pending).toBe(false);
    // The confirmation code was consumed: it cannot sign in again.
    expect((await t.core.authentications.create({ username: 'alice', passcode: code() }, cliActor)).reason).toBe('replayed_passcode');
    t.clock.advance(30_000);
    expect((await t.core.authentications.create({ username: 'alice', passcode: code() }, cliActor)).view.state).toBe('approved');
    await expect(t.core.methods.confirm('alice', e.method.id, code(), self('alice'))).rejects.toMatchObject({ code: 'method_not_found' });
  });
});

describe('exemptions', () => {
  it('turns off trusted networks and bypasses for a sign-in, and denies unknown users', async () => {
    await t.core.users.create({ username: 'alice' }, cliActor);
    await t.core.methods.enrollTotp('alice', {}, cliActor);
    await t.core.settings.update({ trustedIps: ['10.0.0.0/8'] }, cliActor);
    const trusted = await t.core.authentications.create({ username: 'alice', clientIp: '10.1.2.3' }, cliActor);
    expect(trusted.reason).toBe('trusted_ip');
    const strict = await t.core.authentications.create({ username: 'alice', clientIp: '10.1.2.3', exemptions: { trustedIp: false } }, cliActor);
    expect(strict.view.state).toBe('challenge');
    await t.core.bypass.issue('alice', { reason: 'lost phone' }, cliActor);
    expect((await t.core.authentications.create({ username: 'alice', application: 'console', exemptions: { bypass: false } }, cliActor)).view.state).toBe('challenge');
    expect((await t.core.authentications.create({ username: 'alice', application: 'portal' }, cliActor)).reason).toBe('bypass');
    await t.core.applications.create({ name: 'open', requireUserMatch: false }, cliActor);
    expect((await t.core.authentications.create({ username: 'nobody', application: 'open' }, cliActor)).reason).toBe('pass_through_unknown_user');
    expect((await t.core.authentications.create({ username: 'nobody', application: 'open', exemptions: {} }, cliActor)).reason).toBe('user_not_found');
  });
});

describe('self-service bypass', () => {
  it('is refused unless the portal allows it, limited to portal.bypassSeconds and to the own account', async () => {
    await t.core.users.create({ username: 'alice' }, cliActor);
    await t.core.users.create({ username: 'bob' }, cliActor);
    await expect(t.core.bypass.issue('alice', { reason: 'travel' }, self('alice'))).rejects.toMatchObject({ code: 'forbidden' });
    await t.core.settings.update({ portal: { allowBypass: true, bypassSeconds: 600 } }, cliActor);
    const b = await t.core.bypass.issue('alice', { reason: 'travel' }, self('alice'));
    expect(b.expiresAt - b.createdAt).toBe(600_000);
    expect(b.createdBy).toBe('user:alice');
    await expect(t.core.bypass.issue('alice', { reason: 'travel', seconds: 601 }, self('alice'))).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(t.core.bypass.issue('bob', { reason: 'travel' }, self('alice'))).rejects.toMatchObject({ code: 'forbidden' });
  });
});

describe('fraud reports', () => {
  it('blocks the account, ends its sessions and is audited; refused when reports are off', async () => {
    const alice = await t.core.users.create({ username: 'alice' }, cliActor);
    const session = await t.core.sessions.start({ kind: 'portal', userId: alice.id, stage: 'complete' });
    const after = await t.core.users.reportFraud('alice', {}, self('alice'));
    expect(after.state).toBe('blocked');
    expect(await t.core.sessions.resolve('portal', session.token)).toBeUndefined();
    const [event] = await t.core.audit.query({ action: 'user.fraud_report', limit: 5 });
    expect(event).toMatchObject({ username: 'alice', actor: 'user:alice', details: { blocked: true, authenticationId: null } });
    await t.core.settings.update({ fraud: { allowReports: false } }, cliActor);
    await expect(t.core.users.reportFraud('alice', {}, self('alice'))).rejects.toMatchObject({ code: 'forbidden' });
  });
  it('only records the report when blocking is off', async () => {
    await t.core.users.create({ username: 'alice' }, cliActor);
    await t.core.settings.update({ fraud: { blockUser: false } }, cliActor);
    expect((await t.core.users.reportFraud('alice', { note: 'not me' }, self('alice'))).state).toBe('enabled');
    expect(await t.core.audit.query({ action: 'user.fraud_report', limit: 5 })).toHaveLength(1);
  });
});

describe('sessions', () => {
  it('end after the idle limit, at the absolute limit, and never resolve for another kind', async () => {
    const alice = await t.core.users.create({ username: 'alice' }, cliActor);
    await t.core.settings.update({ sessions: { idleSeconds: 600, absoluteSeconds: 3600 } }, cliActor);
    const s = await t.core.sessions.start({ kind: 'portal', userId: alice.id, stage: 'complete' });
    expect(s.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await t.core.sessions.resolve('console', s.token)).toBeUndefined();
    for (let i = 0; i < 6; i++) {
      t.clock.advance(540_000);
      expect(await t.core.sessions.resolve('portal', s.token), `after ${(i + 1) * 9} minutes`).toBeDefined();
    }
    t.clock.advance(540_000);
    expect(await t.core.sessions.resolve('portal', s.token)).toBeUndefined();
    const idle = await t.core.sessions.start({ kind: 'portal', userId: alice.id, stage: 'complete' });
    t.clock.advance(600_000);
    expect(await t.core.sessions.resolve('portal', idle.token)).toBeUndefined();
  });

  it('renew gives a new token and anti-forgery token; the old token stops working', async () => {
    const alice = await t.core.users.create({ username: 'alice' }, cliActor);
    const s = await t.core.sessions.start({ kind: 'portal', userId: alice.id, stage: 'second_factor', data: { authenticationId: 'x' } });
    const renewed = await t.core.sessions.renew(s, { stage: 'complete', data: {} });
    expect(renewed.token).not.toBe(s.token);
    expect(renewed.csrf).not.toBe(s.csrf);
    expect(await t.core.sessions.resolve('portal', s.token)).toBeUndefined();
    expect(await t.core.sessions.resolve('portal', renewed.token)).toMatchObject({ stage: 'complete', data: {} });
    await expect(t.core.sessions.renew(s, { stage: 'complete', data: {} })).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('console sessions need a console role; taking it away or disabling the user ends them', async () => {
    const alice = await t.core.users.create({ username: 'alice' }, cliActor);
    await expect(t.core.sessions.start({ kind: 'console', userId: alice.id, stage: 'complete' })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(t.core.users.setConsoleRole('alice', 'root' as never, cliActor)).rejects.toMatchObject({ code: 'validation_failed' });
    expect((await t.core.users.setConsoleRole('alice', 'helpdesk', cliActor)).consoleRole).toBe('helpdesk');
    const s = await t.core.sessions.start({ kind: 'console', userId: alice.id, stage: 'complete' });
    expect((await t.core.sessions.resolve('console', s.token))?.user.consoleRole).toBe('helpdesk');
    await t.core.users.setConsoleRole('alice', null, cliActor);
    expect(await t.core.sessions.resolve('console', s.token)).toBeUndefined();
    await t.core.users.setConsoleRole('alice', 'admin', cliActor);
    const p = await t.core.sessions.start({ kind: 'portal', userId: alice.id, stage: 'complete' });
    await t.core.users.setEnabled('alice', false, cliActor);
    expect(await t.core.sessions.resolve('portal', p.token)).toBeUndefined();
    expect(await t.core.sessions.resolve('portal', 'not-a-token')).toBeUndefined();
  });
});

describe('backup codes', () => {
  it('signs in once per code, counts what is left, and a new set replaces the old one', async () => {
    await t.core.users.create({ username: 'alice' }, cliActor);
    await t.core.methods.enrollTotp('alice', {}, cliActor);
    const first = await t.core.methods.createBackupCodes('alice', self('alice'));
    expect(first.codes).toHaveLength(10);
    for (const c of first.codes) expect(c).toMatch(/^[0-9]{5}-[0-9]{5}$/);
    expect(first.method).toMatchObject({ type: 'backup', remaining: 10 });
    const [a, b, c] = first.codes as [string, string, string];
    expect((await t.core.authentications.create({ username: 'alice', passcode: a }, cliActor)).view.state).toBe('approved');
    expect((await t.core.authentications.create({ username: 'alice', passcode: a.replace('-', '') }, cliActor)).reason).toBe('replayed_passcode');
    // Two different codes at the same moment: both accepted, both spent.
    const both = await Promise.all([b, c].map((code) => t.core.authentications.create({ username: 'alice', passcode: code.replace('-', ' ') }, cliActor)));
    expect(both.map((o) => o.view.state)).toEqual(['approved', 'approved']);
    for (const code of [b, c]) expect((await t.core.authentications.create({ username: 'alice', passcode: code }, cliActor)).reason).toBe('replayed_passcode');
    expect((await t.core.methods.list('alice')).find((m) => m.type === 'backup')?.remaining).toBe(7);
    const second = await t.core.methods.createBackupCodes('alice', self('alice'));
    expect((await t.core.methods.list('alice')).filter((m) => m.type === 'backup')).toHaveLength(1);
    expect((await t.core.authentications.create({ username: 'alice', passcode: first.codes[5] as string }, cliActor)).reason).toBe('invalid_passcode');
    expect((await t.core.authentications.create({ username: 'alice', passcode: second.codes[0] as string }, cliActor)).view.state).toBe('approved');
    const [event] = await t.core.audit.query({ action: 'method.backup_codes', limit: 1 });
    expect(JSON.stringify(event)).not.toContain((second.codes[1] as string).slice(0, 5) + (second.codes[1] as string).slice(6));
  });
});

describe('who may change whom', () => {
  it("keeps the help desk off administrators' accounts, and users off other users'", async () => {
    const helpdesk: Actor = { kind: 'operator', name: 'hd', role: 'helpdesk' };
    const admin: Actor = { kind: 'operator', name: 'root', role: 'admin' };
    await t.core.users.create({ username: 'boss' }, cliActor);
    await t.core.users.setConsoleRole('boss', 'admin', cliActor);
    await t.core.users.create({ username: 'carol' }, cliActor);
    const bossMethod = await t.core.methods.enrollTotp('boss', {}, cliActor);
    for (const attempt of [
      () => t.core.methods.remove('boss', bossMethod.method.id, helpdesk),
      () => t.core.methods.enrollTotp('boss', {}, helpdesk),
      () => t.core.methods.createBackupCodes('boss', helpdesk),
      () => t.core.bypass.issue('boss', { reason: 'x' }, helpdesk),
      () => t.core.users.block('boss', 'x', helpdesk),
      () => t.core.users.setEnabled('boss', false, helpdesk),
      () => t.core.users.update('boss', { email: 'evil@example.com' }, helpdesk),
      () => t.core.users.update('carol', { pin: '4821' }, self('alice')),
    ]) {
      await expect(attempt()).rejects.toMatchObject({ code: 'forbidden' });
    }
    expect(await t.core.methods.list('boss')).toHaveLength(1);
    expect((await t.core.users.get('boss')).state).toBe('enabled');
    // The help desk still helps everyone else, and administrators help administrators; unlocking is fine.
    await t.core.bypass.issue('carol', { reason: 'lost phone' }, helpdesk);
    await t.core.users.unlock('boss', helpdesk);
    await t.core.methods.remove('boss', bossMethod.method.id, admin);
    expect(await t.core.methods.list('boss')).toHaveLength(0);
  });
});
