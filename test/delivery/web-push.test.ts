import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { createWebPushSender, pushEndpointProblem, vapidPublicKey, type WebPushOptions } from '../../src/delivery/web-push.ts';
import { pushApplicationServerKey, pushSender } from '../../src/server.ts';
import { addVapidKeys, createKeyFile, generateVapidKeys, loadKeyring, readVapidKeys } from '../../src/store/keyring.ts';
import { startPushTwin, type PushTwin } from '../support/push-twin.ts';

const vapid = generateVapidKeys();
const message = { title: 'Sign-in request', body: 'A sign-in waits for your approval.', authenticationId: 'auth-0123' };

let twin: PushTwin;
let dir: string;
beforeAll(async () => {
  twin = await startPushTwin();
  dir = await mkdtemp(path.join(os.tmpdir(), 'countersign-push-'));
});
afterAll(async () => {
  await twin.close();
  await rm(dir, { recursive: true, force: true });
});

function sender(overrides: Partial<WebPushOptions> = {}) {
  return createWebPushSender({ vapid, subject: 'mailto:mfa-admin@example.com', services: ['127.0.0.1'], allowHttp: true, ...overrides });
}

describe('Web Push sender', () => {
  it('delivers the message encrypted (aes128gcm) with a VAPID token the push service verifies; the device decrypts it intact', async () => {
    const subscription = twin.subscribe({ applicationServerKey: vapid.publicKey });
    expect(await sender().notify(subscription, message)).toBe('sent');
    const got = twin.messages.at(-1);
    expect(got).toMatchObject({ endpoint: subscription.endpoint, ttl: 120, urgency: 'high', error: null });
    expect(JSON.parse(got?.payload ?? 'null')).toEqual(message);
    expect(got?.vapid).toMatchObject({ aud: twin.url, sub: 'mailto:mfa-admin@example.com', key: vapid.publicKey });
    const now = Date.now() / 1000;
    expect(got?.vapid.exp).toBeGreaterThan(now);
    expect(got?.vapid.exp).toBeLessThanOrEqual(now + 24 * 3600);
  });

  it('keeps non-ASCII text intact and takes the TTL given', async () => {
    const subscription = twin.subscribe();
    const text = { title: 'Demande de connexion', body: 'Une connexion à « VPN » attend — 承認', authenticationId: 'a-é' };
    expect(await sender({ ttlSeconds: 60 }).notify(subscription, text)).toBe('sent');
    expect(JSON.parse(twin.messages.at(-1)?.payload ?? 'null')).toEqual(text);
    expect(twin.messages.at(-1)?.ttl).toBe(60);
  });

  it("says 'gone' for a subscription the push service no longer has (410) or never had (404)", async () => {
    const subscription = twin.subscribe();
    twin.expire(subscription);
    expect(await sender().notify(subscription, message)).toBe('gone');
    expect(await sender().notify({ ...subscription, endpoint: `${twin.url}/wpush/unknown` }, message)).toBe('gone');
  });

  it('throws when the push service refuses, naming its host, the status and its text, never the keys', async () => {
    // Subscribed to another server's key: the push service refuses (RFC 8292 restricted subscription).
    const other = generateVapidKeys();
    const subscription = twin.subscribe({ applicationServerKey: other.publicKey });
    const host = new URL(twin.url).host;
    const error = await sender()
      .notify(subscription, message)
      .then(
        () => null,
        (e: unknown) => e as Error,
      );
    expect(error?.message).toBe(
      `the push service ${host} refused the notification (HTTP 403): {"code":403,"errno":109,"error":"Forbidden","message":"VAPID key k does not match the key the subscription was created with"}`,
    );
    expect(error?.message).not.toContain(vapid.privateKey);
    expect(error?.message).not.toContain(subscription.keys.auth);
    expect(error?.message).not.toContain(subscription.endpoint.split('/').pop());
  });

  it('a token signed with a key other than the one it names is refused (403)', async () => {
    const subscription = twin.subscribe();
    const mismatched = sender({ vapid: { publicKey: generateVapidKeys().publicKey, privateKey: vapid.privateKey } });
    await expect(mismatched.notify(subscription, message)).rejects.toThrow(/HTTP 403\).*signature does not verify/);
  });

  it('throws when the push service cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const subscription = twin.subscribe();
    await expect(sender().notify({ ...subscription, endpoint: `http://127.0.0.1:${port}/wpush/x` }, message)).rejects.toThrow(
      new RegExp(`^the push service 127\\.0\\.0\\.1:${port} could not be reached: .*ECONNREFUSED`),
    );
  });

  it('gives up when the push service does not answer in time', async () => {
    const subscription = twin.subscribe();
    twin.delayMs = 2000;
    try {
      await expect(sender({ timeoutMs: 100 }).notify(subscription, message)).rejects.toThrow(/could not be reached: no answer within 100 ms/);
    } finally {
      twin.delayMs = 0;
    }
  });

  it('sends only over HTTPS to the configured push services', async () => {
    const subscription = twin.subscribe();
    const before = twin.messages.length;
    await expect(sender({ allowHttp: false }).notify(subscription, message)).rejects.toThrow(
      'push notification not sent: the push endpoint must be an https:// URL, not http:',
    );
    await expect(sender({ services: ['fcm.googleapis.com'] }).notify(subscription, message)).rejects.toThrow(
      '127.0.0.1 is not one of the allowed push services (push.services)',
    );
    expect(twin.messages).toHaveLength(before);
    const services = ['fcm.googleapis.com', '*.notify.windows.com'];
    expect(pushEndpointProblem('https://fcm.googleapis.com/fcm/send/abc', services)).toBeNull();
    expect(pushEndpointProblem('https://wns2-par02p.notify.windows.com/w/?token=x', services)).toBeNull();
    expect(pushEndpointProblem('https://notify.windows.com.evil.example/w', services)).toMatch(/not one of the allowed/);
    expect(pushEndpointProblem('https://user:pw@fcm.googleapis.com/x', services)).toMatch(/credentials/);
    expect(pushEndpointProblem('not a url', services)).toMatch(/not a URL/);
  });

  it('throws on a subscription whose keys are not usable, before sending', async () => {
    const subscription = twin.subscribe();
    await expect(sender().notify({ ...subscription, keys: { p256dh: 'AAAA', auth: subscription.keys.auth } }, message)).rejects.toThrow(
      /^push notification not sent: .*p256dh/,
    );
  });
});

describe('the VAPID key pair in the key file', () => {
  it('init makes one; pushSender and pushApplicationServerKey use it; older key files get one with keys vapid', async () => {
    const keyFile = path.join(dir, 'countersign.key');
    await createKeyFile(keyFile);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const keys = await readVapidKeys(keyFile);
    expect(vapidPublicKey(keys.privateKey)).toBe(keys.publicKey);

    const file = path.join(dir, 'countersign.yaml');
    await writeFile(file, `keys:\n  file: ${keyFile}\npush:\n  provider: webpush\n  subject: mailto:mfa-admin@example.com\n  services: [127.0.0.1]\n`);
    const config = await loadConfig({ file, env: {} });
    expect(await pushApplicationServerKey(config)).toBe(keys.publicKey);
    const configured = await pushSender(config);
    const subscription = twin.subscribe({ applicationServerKey: keys.publicKey });
    // The configured sender takes https:// endpoints only: the twin's http:// one is refused before sending.
    await expect(configured?.notify(subscription, message)).rejects.toThrow(/must be an https:\/\/ URL/);

    // A key file from before push: the sender names the command that adds the pair.
    const old = JSON.parse(await readFile(keyFile, 'utf8')) as Record<string, unknown>;
    delete old.vapid;
    await writeFile(keyFile, JSON.stringify(old), { mode: 0o600 });
    await expect(pushSender(config)).rejects.toThrow('has no Web Push (VAPID) key pair; add one with: countersign keys vapid');
    const added = await addVapidKeys(keyFile);
    expect(added.created).toBe(true);
    expect(await pushApplicationServerKey(config)).toBe(added.publicKey);
    expect(await addVapidKeys(keyFile)).toEqual({ publicKey: added.publicKey, created: false });
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    // The sealing keys are untouched.
    expect((await loadKeyring(keyFile)).activeKid).toBe('k1');

    const none = { ...config, push: { ...config.push, provider: 'none' as const } };
    expect(await pushSender(none)).toBeUndefined();
    expect(await pushApplicationServerKey(none)).toBeUndefined();
  });

  it('a key file whose VAPID pair is damaged is refused', async () => {
    const keyFile = path.join(dir, 'damaged.key');
    await createKeyFile(keyFile);
    const data = JSON.parse(await readFile(keyFile, 'utf8')) as { vapid: { publicKey: string } };
    data.vapid.publicKey = generateVapidKeys().publicKey;
    await writeFile(keyFile, JSON.stringify(data));
    await expect(readVapidKeys(keyFile)).rejects.toThrow('"vapid.publicKey" does not belong to "vapid.privateKey"');
  });
});

describe('the push service twin refuses as a push service does', () => {
  async function post(endpoint: string, headers: Record<string, string>): Promise<number> {
    const res = await fetch(endpoint, { method: 'POST', headers, body: new Uint8Array(0) });
    await res.body?.cancel();
    return res.status;
  }

  it('401 without VAPID, 403 for a token meant for another push service, 400 without TTL', async () => {
    const { endpoint } = twin.subscribe();
    const { default: webpush } = await import('web-push');
    const own = webpush.getVapidHeaders(twin.url, 'mailto:a@example.com', vapid.publicKey, vapid.privateKey, 'aes128gcm');
    const elsewhere = webpush.getVapidHeaders('https://fcm.googleapis.com', 'mailto:a@example.com', vapid.publicKey, vapid.privateKey, 'aes128gcm');
    expect(await post(endpoint, { ttl: '60' })).toBe(401);
    expect(await post(endpoint, { ttl: '60', authorization: elsewhere.Authorization })).toBe(403);
    expect(await post(endpoint, { authorization: own.Authorization })).toBe(400);
    expect(await post(endpoint, { ttl: '60', authorization: own.Authorization })).toBe(201);
    expect(twin.refusals.slice(-3).map((r) => r.status)).toEqual([401, 403, 400]);
  });
});
