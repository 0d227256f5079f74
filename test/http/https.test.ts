/**
 * The app over real HTTPS on loopback: TLS with the given key and certificate, HSTS, and the API
 * reachable with a key.
 */
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildHttpApp } from '../../src/doors/http/app.ts';
import { createMetrics } from '../../src/ops/metrics.ts';
import { cliActor, createTestCore } from '../support/harness.ts';
import type { TestCore } from '../support/harness.ts';

let tc: TestCore;
let app: FastifyInstance;
let port: number;
let token: string;

beforeAll(async () => {
  tc = await createTestCore();
  token = (await tc.core.apiKeys.create({ name: 'tls', role: 'sdk' }, cliActor)).token;
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' } as never);
  app = await buildHttpApp({
    core: tc.core,
    logger: false,
    metrics: createMetrics(),
    https: { key: pems.private, cert: pems.cert },
    trustProxy: [],
    rateLimit: { perKeyPerMinute: 100, perAddressPerMinute: 100 },
    metricsAllowFrom: [],
    ready: () => tc.store.ping(),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await app?.close();
  await tc?.close();
});

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string; protocol: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, rejectUnauthorized: false }, (res) => {
      const protocol = (res.socket as { getProtocol?: () => string } | null)?.getProtocol?.() ?? '';
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, protocol }));
    });
    req.on('error', reject);
    req.end();
  });
}

it('serves the API over TLS with HSTS', async () => {
  const res = await get('/api/v1/users', { authorization: `Bearer ${token}` });
  expect(res.status).toBe(200);
  expect(res.protocol).toMatch(/^TLSv1\.[23]$/);
  expect(res.headers['strict-transport-security']).toBe('max-age=31536000');
  expect(JSON.parse(res.body)).toEqual({ items: [], next: null });
  const anon = await get('/api/v1/users');
  expect(anon.status).toBe(401);
  expect((await get('/readyz')).status).toBe(200);
});
