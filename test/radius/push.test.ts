/**
 * The push method: a device activated through the mobile API over HTTPS (a WebCrypto key pair, as
 * the app makes), its signed requests, and sign-ins through the RADIUS door driven by radclient:
 * the Access-Challenge shows the number, the answer to it is held until the device decides.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor, DeviceRequest } from '../../src/core/api.ts';
import { selfSignedCertificate } from '../../src/cli/init.ts';
import { buildHttpApp } from '../../src/doors/http/app.ts';
import { activateDevice, httpsFetch, type TestDevice } from '../support/device.ts';
import { freeradiusAvailable } from '../support/freeradius.ts';
import { createTestCore, type TestCore } from '../support/harness.ts';
import { freeTcpPort } from '../support/ports.ts';
import { loopbackClient, startTestRadius } from '../support/radius-server.ts';
import type { RadiusServer } from '../../src/doors/radius/server.ts';
import { attribute, radclient, type RadclientResult } from '../support/radclient.ts';
import { testHttpAppOptions } from '../support/web-app.ts';

const haveRadius = freeradiusAvailable();
const admin: Actor = { kind: 'cli', name: 'test', role: 'admin' };
const SECRET = 'a-long-shared-secret-for-push-tests';
const PASSWORD = 'Push-method-password-1';

describe.skipIf(!haveRadius)('push method: mobile API and RADIUS', () => {
  let t: TestCore;
  let app: FastifyInstance;
  let server: RadiusServer;
  let base = '';
  let fetchFn: ReturnType<typeof httpsFetch>;
  let port = 0;
  const devices = new Map<string, TestDevice>();

  const ask = (username: string, password: string, extra: { state?: string; timeout?: number } = {}): Promise<RadclientResult> =>
    radclient({ port, secret: SECRET, timeout: extra.timeout ?? 3, retries: 1, attributes: [['User-Name', username], ['User-Password', password], ...(extra.state ? [['State', extra.state] as const] : [])] });

  async function activate(username: string): Promise<TestDevice> {
    const { activationCode } = await t.core.devices.startActivation(username, admin);
    const device = await activateDevice(fetchFn, base, activationCode, { clock: () => t.clock.now() });
    devices.set(username, device);
    return device;
  }

  /** The device's pending requests, once one shows up. */
  async function requestsOf(device: TestDevice): Promise<DeviceRequest[]> {
    for (let i = 0; i < 100; i++) {
      const res = await device.request('GET', '/mobile/v1/requests');
      expect(res.status).toBe(200);
      const items = (res.json as { items: DeviceRequest[] }).items;
      if (items.length > 0) return items;
      await new Promise((r) => setTimeout(r, 30));
    }
    throw new Error('no request reached the device');
  }

  beforeAll(async () => {
    const tls = await selfSignedCertificate();
    fetchFn = httpsFetch(tls.cert);
    t = await createTestCore();
    const httpPort = await freeTcpPort();
    base = `https://127.0.0.1:${httpPort}`;
    app = await buildHttpApp({ ...testHttpAppOptions(t), https: tls });
    await app.listen({ host: '127.0.0.1', port: httpPort });
    for (const name of ['pia', 'pat', 'pam', 'pax']) {
      await t.core.users.create({ username: name, phone: { number: '+14155550177', extension: null } }, admin);
      await t.core.users.setPassword(name, PASSWORD, admin);
    }
    ({ server, port } = await startTestRadius(t, [loopbackClient(SECRET)]));
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await app?.close();
    await t?.close();
  });

  it('activates a device once with its code; the code works once, within 10 minutes, and only with a P-256 key', async () => {
    const { activationCode } = await t.core.devices.startActivation('pia', admin);
    const device = await activateDevice(fetchFn, base, activationCode, { clock: () => t.clock.now(), name: "Pia's phone" });
    expect(device.username).toBe('pia');
    devices.set('pia', device);
    const methods = await t.core.methods.list('pia');
    expect(methods.map((m) => [m.type, m.label, m.pending])).toEqual([['push', "Pia's phone", false]]);
    await expect(activateDevice(fetchFn, base, activationCode)).rejects.toThrow(/422.*activation_failed/);
    await expect(activateDevice(fetchFn, base, `${activationCode.split('.')[0]}.wrong`)).rejects.toThrow(/422/);

    const late = await t.core.devices.startActivation('pat', admin);
    t.clock.advance(601_000);
    await expect(activateDevice(fetchFn, base, late.activationCode)).rejects.toThrow(/422/);

    const code = (await t.core.devices.startActivation('pat', admin)).activationCode;
    const rsa = await fetchFn(`${base}/mobile/v1/devices`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ activationCode: code, publicKey: 'AAAA', name: 'x' }) });
    expect(rsa.status).toBe(400);
    expect(await rsa.text()).toContain('publicKey');
  });

  it('refuses unsigned, tampered, stale and unknown-device requests alike', async () => {
    const device = devices.get('pia') as TestDevice;
    expect((await device.request('GET', '/mobile/v1/requests')).status).toBe(200);
    expect((await device.request('GET', '/mobile/v1/requests', undefined, { tamper: true })).status).toBe(403);
    expect((await device.request('GET', '/mobile/v1/requests', undefined, { time: t.clock.now() - 301_000 })).status).toBe(403);
    const unsigned = await fetchFn(`${base}/mobile/v1/requests`, { method: 'GET', headers: {} });
    expect(unsigned.status).toBe(401);
    const forged = await fetchFn(`${base}/mobile/v1/requests`, { method: 'GET', headers: { authorization: `CS-Device nobody.${t.clock.now()}.AAAA` } });
    expect(forged.status).toBe(403);
  });

  it('accepts a signed request once: a replay, also in the signature\'s other valid form, is refused', async () => {
    const device = devices.get('pia') as TestDevice;
    const get = (authorization: string) => fetchFn(`${base}/mobile/v1/requests`, { method: 'GET', headers: { authorization } });
    const first = await device.request('GET', '/mobile/v1/requests');
    expect(first.status).toBe(200);
    expect((await get(first.authorization)).status).toBe(403);
    // (r, s) and (r, n - s) are both valid ECDSA signatures of one message: the other form of a
    // request not sent yet is accepted, and the request itself is then a replay.
    const unsent = await device.authorization('GET', '/mobile/v1/requests');
    const other = otherForm(unsent);
    expect((await get(other)).status).toBe(200);
    expect((await get(unsent)).status).toBe(403);
    expect((await get(other)).status).toBe(403);
    // Two requests signed for the same millisecond are two requests (each signing draws a new r).
    const time = t.clock.now();
    expect((await device.request('GET', '/mobile/v1/requests', undefined, { time })).status).toBe(200);
    expect((await device.request('GET', '/mobile/v1/requests', undefined, { time })).status).toBe(200);
  });

  it('RADIUS: the challenge shows the number; the held answer is accepted when the device picks it', async () => {
    const device = devices.get('pia') as TestDevice;
    const first = await ask('pia', PASSWORD);
    expect(first.code).toBe('Access-Challenge');
    const message = attribute(first, 'Reply-Message') as string;
    const match = Number(/select (\d\d)/.exec(message)?.[1]);
    expect(message).toBe(`Open Countersign Authenticator and select ${match}, then press Enter here`);

    const [request] = await requestsOf(device);
    expect(request?.application).toBe('vpn');
    expect(request?.numbers).toHaveLength(3);
    expect(request?.numbers).toContain(match);
    expect([...(request?.numbers ?? [])].sort((a, b) => a - b)).toEqual(request?.numbers);
    // The device lists the same numbers each time.
    expect((await requestsOf(device))[0]?.numbers).toEqual(request?.numbers);

    const held = ask('pia', '', { state: attribute(first, 'State') as string, timeout: 15 });
    await new Promise((r) => setTimeout(r, 300));
    const answered = await device.request('POST', `/mobile/v1/requests/${request?.id}`, { decision: 'approve', number: match });
    expect(answered).toMatchObject({ status: 200, json: { state: 'approved' } });
    expect((await held).code).toBe('Access-Accept');
    // Answered: gone from the device's list, and a second answer finds nothing.
    expect(((await device.request('GET', '/mobile/v1/requests')).json as { items: unknown[] }).items).toEqual([]);
    expect((await device.request('POST', `/mobile/v1/requests/${request?.id}`, { decision: 'approve', number: match })).status).toBe(409);
  });

  it('a wrong number denies the request; another device cannot answer it', async () => {
    const device = devices.get('pia') as TestDevice;
    const other = await activate('pam');
    const first = await ask('pia', PASSWORD);
    const match = Number(/select (\d\d)/.exec(attribute(first, 'Reply-Message') as string)?.[1]);
    const [request] = await requestsOf(device);
    expect((await other.request('POST', `/mobile/v1/requests/${request?.id}`, { decision: 'approve', number: match })).status).toBe(409);
    const wrong = (request?.numbers ?? []).find((n) => n !== match) as number;
    const held = ask('pia', '', { state: attribute(first, 'State') as string, timeout: 15 });
    expect((await device.request('POST', `/mobile/v1/requests/${request?.id}`, { decision: 'approve', number: wrong })).json).toEqual({ state: 'denied' });
    expect((await held).code).toBe('Access-Reject');
    const events = await t.core.audit.query({ username: 'pia', limit: 3 });
    expect(events[0]?.reason).toBe('number_mismatch');
  });

  it('offers the app in the menu of a user with a code method, and fraud reported from the device blocks the account', async () => {
    const device = await activate('pax');
    await t.core.methods.addPhoneMethod('pax', { type: 'sms' }, admin);
    await t.core.users.update('pax', { defaultMethod: 'sms' }, admin);
    // No SMS provider here: the text cannot be sent, so the sign-in is refused (fail closed).
    expect((await ask('pax', PASSWORD)).code).toBe('Access-Reject');
    await t.core.users.update('pax', { defaultMethod: 'push' }, admin);
    const first = await ask('pax', PASSWORD);
    expect(attribute(first, 'Reply-Message')).toMatch(/^Open Countersign Authenticator and select \d\d, then press Enter here, or reply 1 for a text message$/);
    const [request] = await requestsOf(device);
    const held = ask('pax', 'ok', { state: attribute(first, 'State') as string, timeout: 15 });
    expect((await device.request('POST', `/mobile/v1/requests/${request?.id}`, { decision: 'fraud' })).json).toEqual({ state: 'denied' });
    expect((await held).code).toBe('Access-Reject');
    expect((await t.core.users.get('pax')).state).toBe('blocked');
  });

  it('REST: a push authentication is pending with the number to show, and polling sees the approval of the device', async () => {
    const device = devices.get('pam') as TestDevice;
    const { token: key } = await t.core.apiKeys.create({ name: 'intranet', role: 'sdk' }, admin);
    await t.core.applications.create({ name: 'intranet' }, admin);
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const started = await fetchFn(`${base}/api/v1/authentications`, { method: 'POST', headers, body: JSON.stringify({ username: 'pam', application: 'intranet', method: 'push' }) });
    expect(started.status).toBe(201);
    const view = JSON.parse(await started.text()) as { id: string; state: string; method: string; match: number };
    expect([view.state, view.method, typeof view.match]).toEqual(['pending', 'push', 'number']);
    const [request] = await requestsOf(device);
    expect([request?.id, request?.application]).toEqual([view.id, 'intranet']);
    expect((await device.request('POST', `/mobile/v1/requests/${view.id}`, { decision: 'approve', number: view.match })).json).toEqual({ state: 'approved' });
    const polled = JSON.parse(await (await fetchFn(`${base}/api/v1/authentications/${view.id}`, { method: 'GET', headers: { authorization: `Bearer ${key}` } })).text()) as { state: string; match?: number };
    expect(polled.state).toBe('approved');
    expect(polled.match).toBeUndefined();
  });

  it('stores a Web Push subscription sent by the device, and refuses a malformed one naming the field', async () => {
    const device = devices.get('pam') as TestDevice;
    const subscription = { endpoint: 'https://push.example.net/send/abc', keys: { p256dh: Buffer.alloc(65, 4).toString('base64url'), auth: Buffer.alloc(16, 1).toString('base64url') } };
    expect((await device.request('PUT', '/mobile/v1/subscription', { subscription })).status).toBe(204);
    const bad = await device.request('PUT', '/mobile/v1/subscription', { subscription: { ...subscription, endpoint: 'http://push.example.net/x' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('subscription.endpoint');
  });
});

/** The same signed request with its P-256 signature in the other valid form: (r, n - s). */
function otherForm(authorization: string): string {
  const [id, time, signature] = authorization.slice('CS-Device '.length).split('.') as [string, string, string];
  const bytes = Buffer.from(signature, 'base64url');
  const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
  const s = BigInt(`0x${bytes.subarray(32).toString('hex')}`);
  const flipped = Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex');
  return `CS-Device ${id}.${time}.${Buffer.concat([bytes.subarray(0, 32), flipped]).toString('base64url')}`;
}
