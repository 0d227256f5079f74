import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/core/api.ts';
import type { SmsSender } from '../../src/core/ports.ts';
import { cliActor, createTestCore, type TestCore } from '../support/harness.ts';

/** Records texts; fails while `down` is set. */
class RecordingSms implements SmsSender {
  readonly sent: { to: string; text: string }[] = [];
  down = false;
  async send(message: { to: string; text: string }): Promise<void> {
    if (this.down) throw new Error('Twilio refused the message (HTTP 503)');
    this.sent.push(message);
  }
  lastCode(): string {
    return /is ([0-9]{6})$/.exec(this.sent.at(-1)?.text ?? '')?.[1] ?? '';
  }
}

const self = (name: string): Actor => ({ kind: 'user', name, role: 'self' });
const PHONE = { number: '+14155550100' };
const BACKUP = { number: '+442071838750' };

let t: TestCore;
let sms: RecordingSms;
beforeEach(async () => {
  sms = new RecordingSms();
  t = await createTestCore({ sms });
  await t.core.users.create({ username: 'alice', phone: PHONE, backupPhone: BACKUP }, cliActor);
});
afterEach(async () => t.close());

const wrong = (code: string): string => (code === '000000' ? '111111' : '000000');

describe('phone verification', () => {
  it('texts a code to the phone and verifies it once, keeping only a hash of it', async () => {
    expect(t.core.users.canSendPhoneCodes()).toBe(true);
    await t.core.users.sendPhoneCode('alice', 'phone', self('alice'));
    expect(sms.sent).toEqual([{ to: '+14155550100', text: expect.stringMatching(/^Countersign: your code to verify this phone is [0-9]{6}$/) as unknown as string }]);
    const code = sms.lastCode();
    t.clock.advance(60_000);
    const view = await t.core.users.confirmPhoneCode('alice', 'phone', code, self('alice'));
    expect(view).toMatchObject({ phoneVerifiedAt: t.clock.now(), backupPhoneVerifiedAt: null });
    await expect(t.core.users.confirmPhoneCode('alice', 'phone', code, self('alice'))).rejects.toMatchObject({ code: 'code_rejected' });
    const events = await t.core.audit.query({ username: 'alice', kind: 'admin', limit: 10 });
    expect(events.map((e) => [e.action, e.result])).toEqual([
      ['user.phone.verified', 'failure'],
      ['user.phone.verified', 'success'],
      ['user.phone.code_sent', 'success'],
      ['user.create', 'success'],
    ]);
    expect(JSON.stringify(events)).not.toContain(code);
  });

  it('sends at most one code per phone every 30 seconds', async () => {
    await t.core.users.sendPhoneCode('alice', 'phone', self('alice'));
    t.clock.advance(29_000);
    await expect(t.core.users.sendPhoneCode('alice', 'phone', self('alice'))).rejects.toMatchObject({ code: 'rate_limited' });
    await t.core.users.sendPhoneCode('alice', 'backupPhone', self('alice'));
    t.clock.advance(1_000);
    const first = sms.sent[0] ? /([0-9]{6})$/.exec(sms.sent[0].text)?.[1] : '';
    await t.core.users.sendPhoneCode('alice', 'phone', self('alice'));
    expect(sms.sent.map((m) => m.to)).toEqual(['+14155550100', '+442071838750', '+14155550100']);
    // The new code replaced the first one.
    if (first !== sms.lastCode()) await expect(t.core.users.confirmPhoneCode('alice', 'phone', first ?? '', self('alice'))).rejects.toMatchObject({ code: 'code_rejected' });
    expect((await t.core.users.confirmPhoneCode('alice', 'phone', sms.lastCode(), self('alice'))).phoneVerifiedAt).not.toBeNull();
  });

  it('voids a code after 5 wrong attempts, and after 5 minutes', async () => {
    await t.core.users.sendPhoneCode('alice', 'phone', self('alice'));
    const code = sms.lastCode();
    for (let i = 0; i < 5; i++) await expect(t.core.users.confirmPhoneCode('alice', 'phone', wrong(code), self('alice'))).rejects.toMatchObject({ code: 'code_rejected' });
    await expect(t.core.users.confirmPhoneCode('alice', 'phone', code, self('alice'))).rejects.toMatchObject({ code: 'code_rejected' });
    t.clock.advance(30_000);
    await t.core.users.sendPhoneCode('alice', 'phone', self('alice'));
    t.clock.advance(300_000);
    await expect(t.core.users.confirmPhoneCode('alice', 'phone', sms.lastCode(), self('alice'))).rejects.toMatchObject({ code: 'code_rejected' });
    expect((await t.core.users.get('alice')).phoneVerifiedAt).toBeNull();
  });

  it('never verifies a number the code was not sent to, and a changed number loses its verification', async () => {
    await t.core.users.sendPhoneCode('alice', 'phone', self('alice'));
    await t.core.users.update('alice', { phone: { number: '+14155550199' } }, self('alice'));
    await expect(t.core.users.confirmPhoneCode('alice', 'phone', sms.lastCode(), self('alice'))).rejects.toMatchObject({ code: 'code_rejected' });
    t.clock.advance(30_000);
    await t.core.users.sendPhoneCode('alice', 'phone', self('alice'));
    expect(sms.sent.at(-1)?.to).toBe('+14155550199');
    await t.core.users.confirmPhoneCode('alice', 'phone', sms.lastCode(), self('alice'));
    expect((await t.core.users.update('alice', { displayName: 'Alice', phone: { number: '+14155550199' } }, self('alice'))).phoneVerifiedAt).not.toBeNull();
    expect((await t.core.users.update('alice', { phone: { number: '+14155550100' } }, self('alice'))).phoneVerifiedAt).toBeNull();
  });

  it('fails closed: no provider, a provider that refuses, no phone, another user', async () => {
    const failed = sms;
    failed.down = true;
    await expect(t.core.users.sendPhoneCode('alice', 'phone', self('alice'))).rejects.toMatchObject({ code: 'delivery_failed' });
    const [event] = await t.core.audit.query({ action: 'user.phone.code_sent', limit: 1 });
    expect(event).toMatchObject({ result: 'failure', reason: 'Twilio refused the message (HTTP 503)' });
    // Nothing was delivered, so asking again right away is allowed.
    failed.down = false;
    await t.core.users.sendPhoneCode('alice', 'phone', self('alice'));
    await t.core.users.create({ username: 'bob' }, cliActor);
    await expect(t.core.users.sendPhoneCode('bob', 'phone', self('bob'))).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(t.core.users.sendPhoneCode('alice', 'backupPhone', self('bob'))).rejects.toMatchObject({ code: 'forbidden' });
    await expect(t.core.users.sendPhoneCode('alice', 'fax' as never, self('alice'))).rejects.toMatchObject({ code: 'validation_failed' });

    const none = await createTestCore();
    try {
      await none.core.users.create({ username: 'carol', phone: PHONE }, cliActor);
      expect(none.core.users.canSendPhoneCodes()).toBe(false);
      await expect(none.core.users.sendPhoneCode('carol', 'phone', self('carol'))).rejects.toMatchObject({ code: 'forbidden' });
    } finally {
      await none.close();
    }
  });
});
