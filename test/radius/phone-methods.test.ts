/**
 * Text-message and phone-call methods through the RADIUS door, driven by radclient as a NAS drives
 * it, with Twilio played by its loopback twin: texts are read from the twin, and the person who
 * answers a call presses keys that the twin posts, signed as Twilio signs them, over HTTPS to the
 * voice door of a real Countersign HTTP server.
 */
import { execFileSync } from 'node:child_process';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/core/api.ts';
import type { VoiceCaller } from '../../src/core/ports.ts';
import { selfSignedCertificate } from '../../src/cli/init.ts';
import { createTwilioSender } from '../../src/delivery/twilio.ts';
import { createTwilioCaller } from '../../src/delivery/twilio-voice.ts';
import { buildHttpApp } from '../../src/doors/http/app.ts';
import { freeradiusAvailable } from '../support/freeradius.ts';
import { createTestCore, type TestCore } from '../support/harness.ts';
import { freeTcpPort } from '../support/ports.ts';
import { loopbackClient, startTestRadius } from '../support/radius-server.ts';
import type { RadiusServer } from '../../src/doors/radius/server.ts';
import { attribute, radclient, type RadclientResult } from '../support/radclient.ts';
import { startTwilioTwin, type TwilioTwin, type TwinCall } from '../support/twilio-twin.ts';
import { testHttpAppOptions } from '../support/web-app.ts';

const haveRadius = freeradiusAvailable();
const admin: Actor = { kind: 'cli', name: 'test', role: 'admin' };
const SECRET = 'a-long-shared-secret-for-phone-tests';
const PASSWORD = 'Phone-methods-password-1';
const PHONES = { sam: '+14155550100', vic: '+14155550111', mia: '+14155550122', fay: '+14155550133', ned: '+14155550144' } as const;

describe.skipIf(!haveRadius)('RADIUS with text-message and phone-call methods (Twilio twin)', () => {
  let t: TestCore;
  let twin: TwilioTwin;
  let app: FastifyInstance;
  let server: RadiusServer;
  let port = 0;
  let miaSecret = '';
  let caller: VoiceCaller | undefined;

  const ask = (username: string, password: string, extra: { state?: string; timeout?: number; retries?: number; to?: number } = {}): Promise<RadclientResult> =>
    radclient({
      port: extra.to ?? port,
      secret: SECRET,
      timeout: extra.timeout ?? 3,
      retries: extra.retries ?? 1,
      attributes: [['User-Name', username], ['User-Password', password], ...(extra.state ? [['State', extra.state] as const] : [])],
    });

  /** The call placed after `before` calls, once it shows up at the twin. */
  async function nextCall(before: number): Promise<TwinCall> {
    for (let i = 0; i < 200 && twin.calls.length <= before; i++) await new Promise((r) => setTimeout(r, 25));
    const call = twin.calls[before];
    if (!call) throw new Error('no call was placed');
    return call;
  }

  const totp = (): string =>
    execFileSync('oathtool', ['--totp', '-b', miaSecret, '--now', new Date(t.clock.now()).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')], { encoding: 'utf8' }).trim();

  beforeAll(async () => {
    const tls = await selfSignedCertificate();
    twin = await startTwilioTwin({ ca: tls.cert });
    const account = { accountSid: twin.accountSid, authToken: twin.authToken, from: '+15005550006', baseUrl: twin.url };
    t = await createTestCore({ sms: createTwilioSender(account), voice: { call: (c) => (caller as VoiceCaller).call(c) } });
    // The callback URL given to Twilio is the HTTP server's (the voice door's) own address.
    const httpPort = await freeTcpPort();
    const callbackUrl = `https://127.0.0.1:${httpPort}`;
    app = await buildHttpApp({ ...testHttpAppOptions(t), https: tls, voice: { authToken: twin.authToken, callbackUrl } });
    await app.listen({ host: '127.0.0.1', port: httpPort });
    caller = createTwilioCaller({ ...account, callbackUrl, ringSeconds: 20 });

    for (const [name, number] of Object.entries(PHONES)) {
      await t.core.users.create({ username: name, phone: { number, extension: name === 'vic' ? '42' : null } }, admin);
      await t.core.users.setPassword(name, PASSWORD, admin);
    }
    await t.core.methods.addPhoneMethod('sam', { type: 'sms' }, admin);
    for (const name of ['vic', 'fay', 'ned']) await t.core.methods.addPhoneMethod(name, { type: 'voice' }, admin);
    miaSecret = (await t.core.methods.enrollTotp('mia', {}, admin)).secret;
    await t.core.methods.addPhoneMethod('mia', { type: 'sms' }, admin);
    await t.core.methods.addPhoneMethod('mia', { type: 'voice' }, admin);
    await t.core.users.update('mia', { defaultMethod: 'totp' }, admin);

    ({ server, port } = await startTestRadius(t, [loopbackClient(SECRET)]));
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await app?.close();
    await twin?.close();
    await t?.close();
  });

  it('texts a code made for the sign-in and accepts it once; a wrong code is refused and counted', async () => {
    const first = await ask('sam', PASSWORD);
    expect(first.code).toBe('Access-Challenge');
    expect(attribute(first, 'Reply-Message')).toBe('Enter the code sent to ••• 0100');
    const sms = twin.messages.at(-1);
    expect(sms?.to).toBe(PHONES.sam);
    expect(sms?.body).toMatch(/^\d{6} is your vpn sign-in code\. Do not share it\.$/);
    const code = (sms?.body ?? '').slice(0, 6);
    const accepted = await ask('sam', code, { state: attribute(first, 'State') as string });
    expect(accepted.code).toBe('Access-Accept');

    // A new sign-in gets a new code; the old one does not answer it.
    const again = await ask('sam', PASSWORD);
    expect(again.code).toBe('Access-Challenge');
    const newer = (twin.messages.at(-1)?.body ?? '').slice(0, 6);
    const wrong = newer === code ? String((Number(code) + 1) % 1_000_000).padStart(6, '0') : code;
    expect((await ask('sam', wrong, { state: attribute(again, 'State') as string })).code).toBe('Access-Reject');
    expect((await t.store.users.getByUsername('sam'))?.failedCount).toBe(1);
    const events = await t.core.audit.query({ username: 'sam', limit: 10 });
    expect(events.filter((e) => e.action === 'authenticate').map((e) => [e.result, e.reason, e.method])).toEqual(
      expect.arrayContaining([
        ['approved', 'passcode_ok', 'sms'],
        ['denied', 'invalid_passcode', 'sms'],
      ]),
    );
  });

  it('offers the other methods by number in the Reply-Message; a text can be asked for, and the app code still works there', async () => {
    const first = await ask('mia', PASSWORD);
    expect(first.code).toBe('Access-Challenge');
    expect(attribute(first, 'Reply-Message')).toBe('Enter the verification code from your authenticator app, or reply 1 for a text message, 2 for a phone call');
    const texts = twin.messages.length;
    const second = await ask('mia', '1', { state: attribute(first, 'State') as string });
    expect(second.code).toBe('Access-Challenge');
    expect(attribute(second, 'Reply-Message')).toBe('Enter the code sent to ••• 0122, or reply 1 for a phone call');
    expect(twin.messages.length).toBe(texts + 1);
    expect(twin.messages.at(-1)?.to).toBe(PHONES.mia);
    // The first State was taken by the choice: it answers nothing any more, and its authentication was withdrawn.
    expect((await ask('mia', totp(), { state: attribute(first, 'State') as string })).code).toBe('Access-Reject');
    const withdrawn = (await t.core.audit.query({ username: 'mia', limit: 10 })).find((e) => e.reason === 'withdrawn');
    expect(withdrawn?.result).toBe('expired');
    expect((await t.core.authentications.get(withdrawn?.authenticationId as string)).state).toBe('expired');
    const third = await ask('mia', totp(), { state: attribute(second, 'State') as string });
    expect(third.code).toBe('Access-Accept');
  });

  it('holds the request during a phone call and accepts when # is pressed; a forged webhook changes nothing', async () => {
    const before = twin.calls.length;
    const pending = ask('vic', PASSWORD, { timeout: 15 });
    const call = await nextCall(before);
    expect(call.to).toBe(PHONES.vic);
    expect(call.sendDigits).toBe('wwww42');
    expect(call.twiml).toContain('Someone is signing in to vpn with your account');
    expect(call.timeout).toBe('20');

    const forged = await twin.press(call, '#', { signature: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' });
    expect(forged.status).toBe(403);
    const pressed = await twin.press(call, '#');
    expect(pressed.status).toBe(200);
    expect(pressed.body).toContain('The sign-in is approved');
    const reply = await pending;
    expect(reply.code).toBe('Access-Accept');
    // The same key again, or the call's end: the authentication is closed and stays approved.
    expect((await twin.press(call, '#')).body).toContain('no longer valid');
    expect((await twin.end(call, 'completed')).status).toBe(204);
    const events = await t.core.audit.query({ username: 'vic', limit: 5 });
    expect(events.map((e) => [e.result, e.reason, e.mode])).toContainEqual(['approved', 'out_of_band_ok', 'out-of-band']);
  });

  it('answers retransmissions of a held request from the same wait: one call, one answer', async () => {
    const before = twin.calls.length;
    // radclient sends the request again every second while it waits.
    const pending = ask('vic', PASSWORD, { timeout: 1, retries: 8 });
    const call = await nextCall(before);
    await new Promise((r) => setTimeout(r, 2_500));
    await twin.press(call, '#');
    const reply = await pending;
    expect(reply.code).toBe('Access-Accept');
    expect(reply.sent.length).toBeGreaterThan(1);
    expect(twin.calls.length).toBe(before + 1);
  });

  it('rejects when 0 is pressed, and files the fraud report: the account is blocked', async () => {
    const before = twin.calls.length;
    const pending = ask('fay', PASSWORD, { timeout: 15 });
    const call = await nextCall(before);
    expect((await twin.press(call, '0')).body).toContain('your report was sent');
    expect((await pending).code).toBe('Access-Reject');
    const fay = await t.core.users.get('fay');
    expect(fay.state).toBe('blocked');
    const events = await t.core.audit.query({ username: 'fay', limit: 10 });
    expect(events.map((e) => [e.action, e.reason])).toEqual(expect.arrayContaining([['authenticate', 'fraud_reported'], ['user.fraud_report', null]]));
  });

  it('rejects a call that ends unanswered, and a request whose call is not answered in time', async () => {
    let before = twin.calls.length;
    const busy = ask('ned', PASSWORD, { timeout: 15 });
    const call = await nextCall(before);
    expect((await twin.end(call, 'no-answer')).status).toBe(204);
    expect((await busy).code).toBe('Access-Reject');

    before = twin.calls.length;
    const slow = ask('ned', PASSWORD, { timeout: 15 });
    const unanswered = await nextCall(before);
    // holdSeconds is 20: the core's clock moves on, 5 s at a time, until the waiting request gives up.
    let settled = false;
    void slow.finally(() => (settled = true));
    let moved = 0;
    while (!settled && moved < 60_000) {
      t.clock.advance(5_000);
      moved += 5_000;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await slow).code).toBe('Access-Reject');
    expect(moved).toBeGreaterThanOrEqual(20_000);
    expect((await twin.press(unanswered, '#')).status).toBe(200);
    const events = await t.core.audit.query({ username: 'ned', limit: 10 });
    expect(events.map((e) => e.reason)).toContain('out_of_band_declined');
  });

  it('append mode with a delimiter: a password alone asks for the call; a user without a call method is refused without any text or call', async () => {
    const { server: appendServer, port: appendPort } = await startTestRadius(t, [loopbackClient(SECRET, { name: 'legacy-vpn', mode: 'append', appendDelimiter: ',' })]);
    try {
      const before = twin.calls.length;
      const pending = ask('vic', PASSWORD, { timeout: 15, to: appendPort });
      const call = await nextCall(before);
      expect(call.twiml).toContain('signing in to legacy-vpn');
      await twin.press(call, '#');
      expect((await pending).code).toBe('Access-Accept');

      const texts = twin.messages.length;
      const calls = twin.calls.length;
      expect((await ask('sam', PASSWORD, { to: appendPort })).code).toBe('Access-Reject');
      expect([twin.messages.length, twin.calls.length]).toEqual([texts, calls]);
      // A code is accepted once: the next time step brings a new one.
      t.clock.advance(30_000);
      expect((await ask('mia', `${PASSWORD},${totp()}`, { to: appendPort })).code).toBe('Access-Accept');
    } finally {
      await appendServer.close();
    }
  });

  it('closes while a request is held: the answer that comes afterwards is not sent, and nothing crashes', async () => {
    const { server: closing, port: closingPort } = await startTestRadius(t, [loopbackClient(SECRET)]);
    const before = twin.calls.length;
    const pending = ask('vic', PASSWORD, { timeout: 2, to: closingPort });
    const call = await nextCall(before);
    await closing.close();
    expect((await twin.press(call, '#')).body).toContain('The sign-in is approved');
    expect((await pending).code).toBe('timeout');
    expect(closing.stats.answered).toBe(0);
  });

  it('fails closed when the provider refuses the call', async () => {
    const working = caller;
    caller = createTwilioCaller({ accountSid: twin.accountSid, authToken: 'not-the-token', from: '+15005550006', baseUrl: twin.url, callbackUrl: 'https://127.0.0.1' });
    try {
      const reply = await ask('vic', PASSWORD);
      expect(reply.code).toBe('Access-Reject');
      const events = await t.core.audit.query({ username: 'vic', limit: 3 });
      expect(events[0]?.reason).toBe('delivery_failed');
    } finally {
      caller = working;
    }
  });
});
