/**
 * A push sign-in wakes the user's device through the Web Push sender and a push service (the
 * loopback twin, which checks the VAPID token and decrypts the message as a browser would); a
 * subscription the push service says is gone is dropped; a failing push service is audited and
 * the request still waits for the device.
 */
import { webcrypto } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDevice } from '../../src/core/methods/push.ts';
import { createWebPushSender } from '../../src/delivery/web-push.ts';
import { generateVapidKeys } from '../../src/store/keyring.ts';
import { cliActor, createTestCore, type TestCore } from '../support/harness.ts';
import { startPushTwin, type PushTwin } from '../support/push-twin.ts';

describe('push sign-ins wake the device', () => {
  let t: TestCore;
  let twin: PushTwin;
  const vapid = generateVapidKeys();

  async function device(username: string, subscription: unknown): Promise<string> {
    await t.core.users.create({ username }, cliActor);
    const { activationCode } = await t.core.devices.startActivation(username, cliActor);
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    const publicKey = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey)).toString('base64url');
    return (await t.core.devices.activate({ activationCode, publicKey, name: 'Phone', subscription: subscription as never }, cliActor)).id;
  }

  /** Waits until `check` holds (the notification is sent in the background). */
  const settled = (check: () => boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      let tries = 0;
      const poll = (): void => {
        if (check()) return resolve();
        if (++tries > 200) return reject(new Error('gave up waiting'));
        setTimeout(poll, 20);
      };
      poll();
    });

  beforeAll(async () => {
    twin = await startPushTwin();
    t = await createTestCore({ push: createWebPushSender({ vapid, subject: 'mailto:mfa-admin@example.com', services: ['127.0.0.1'], allowHttp: true }) });
  });

  afterAll(async () => {
    await twin?.close();
    await t?.close();
  });

  it('sends the device a message naming the application and the request, without the number', async () => {
    const subscription = twin.subscribe({ applicationServerKey: vapid.publicKey });
    await device('wendy', subscription);
    const outcome = await t.core.authentications.create({ username: 'wendy', application: 'default', method: 'push' }, cliActor);
    expect(outcome.view.state).toBe('pending');
    await settled(() => twin.messages.some((m) => m.payload?.includes(outcome.view.id) ?? false));
    const message = twin.messages.find((m) => m.payload?.includes(outcome.view.id));
    expect(JSON.parse(message?.payload ?? '{}')).toEqual({ title: 'Sign-in request', body: 'Someone is signing in to default. Open the app to approve or deny.', authenticationId: outcome.view.id });
    expect(message?.payload).not.toContain(String(outcome.match));
    expect(message?.vapid.key).toBe(vapid.publicKey);
  });

  it('drops a subscription the push service says is gone; the request still waits for the device', async () => {
    const subscription = twin.subscribe({ applicationServerKey: vapid.publicKey });
    const id = await device('gwen', subscription);
    twin.expire(subscription);
    const outcome = await t.core.authentications.create({ username: 'gwen', application: 'default', method: 'push' }, cliActor);
    let subscribed = true;
    for (let i = 0; i < 100 && subscribed; i++) {
      const method = await t.store.methods.get(id);
      subscribed = method !== undefined && decodeDevice(method).subscription !== null;
      if (subscribed) await new Promise((r) => setTimeout(r, 20));
    }
    expect(subscribed).toBe(false);
    expect(twin.refusals.some((r) => r.status === 410)).toBe(true);
    expect(outcome.view.state).toBe('pending');
    expect((await t.core.devices.requests(id)).map((r) => r.id)).toEqual([outcome.view.id]);
  });

  it('audits a push service that refuses, and the request still waits', async () => {
    const subscription = { endpoint: 'https://push.example.invalid/send/x', keys: { p256dh: twin.subscribe().keys.p256dh, auth: Buffer.alloc(16, 3).toString('base64url') } };
    await device('hana', subscription);
    const outcome = await t.core.authentications.create({ username: 'hana', application: 'default', method: 'push' }, cliActor);
    expect(outcome.view.state).toBe('pending');
    let events: { action: string; result: string; reason: string | null }[] = [];
    for (let i = 0; i < 100 && !events.some((e) => e.action === 'device.notify'); i++) {
      events = await t.core.audit.query({ username: 'hana', limit: 10 });
      await new Promise((r) => setTimeout(r, 20));
    }
    const failure = events.find((e) => e.action === 'device.notify');
    expect(failure?.result).toBe('failure');
    expect(failure?.reason).toMatch(/push\.example\.invalid/);
    expect((await t.core.authentications.get(outcome.view.id)).state).toBe('pending');
  });
});
