/** `countersign keys rotate` while a server runs: the server keeps verifying codes, no restart. */
import { afterAll, describe, expect, it } from 'vitest';
import { agent, cleanup, installation, post, serve, totp, waitReady } from './support.ts';

afterAll(() => {
  cleanup();
  agent.destroy();
});

describe('key rotation under a running server', () => {
  it('re-seals every secret and the running server still approves codes', async () => {
    const { env, apiKey, cs } = installation();
    cs('user', 'add', 'rita');
    const token = JSON.parse(cs('token', 'add', 'rita', '--json')) as { secret: string };
    serve(env, 18611);
    await waitReady(18611);
    const rotated = JSON.parse(cs('keys', 'rotate', '--json')) as { activeKey: string; resealed: number };
    expect(rotated).toMatchObject({ activeKey: 'k2', resealed: 1 });
    const r = await post(18611, '/api/v1/authentications', apiKey, { username: 'rita', passcode: totp(token.secret) });
    expect(r.status).toBe(201);
    expect(r.body['state']).toBe('approved');
  }, 60_000);
});
