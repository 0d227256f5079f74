/**
 * Operations and cross-cutting behaviour: OpenAPI, docs, health and readiness, Prometheus metrics
 * with their address allow-list, rate limits, security headers, proxies, and logs without secrets.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { routesOf } from '../../src/doors/http/app.ts';
import { createLogger } from '../../src/ops/logger.ts';
import { createTestApp, expectProblemShape, json, totpAt } from './helpers.ts';
import type { TestApp, TestAppOptions } from './helpers.ts';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});
async function start(opts: TestAppOptions = {}): Promise<TestApp> {
  t = await createTestApp(opts);
  return t;
}

describe('OpenAPI', () => {
  it('is a valid OpenAPI 3.1 JSON document listing every route with its schemas', async () => {
    const { app } = await start();
    const res = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const doc = JSON.parse(res.body) as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, { security?: unknown[]; description?: string; responses: Record<string, unknown>; requestBody?: { content: Record<string, unknown> } }>>;
      components: { securitySchemes: Record<string, { type: string; scheme: string }> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes['apiKey']).toMatchObject({ type: 'http', scheme: 'bearer' });

    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
    const registered = routesOf(app)
      .filter((r) => !r.hidden)
      .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`)
      .sort();
    expect(registered.length).toBeGreaterThan(30);
    expect(documented).toEqual(registered);

    const create = doc.paths['/api/v1/users']?.['post'];
    expect(create?.description).toContain('Roles: admin.');
    expect(Object.keys(create?.responses ?? {})).toEqual(expect.arrayContaining(['201', '4XX', '5XX']));
    expect(Object.keys(doc.paths['/api/v1/users/import']?.['post']?.requestBody?.content ?? {})).toEqual(['text/csv']);
    expect(Object.keys(doc.paths['/api/v1/tokens/import']?.['post']?.requestBody?.content ?? {})).toEqual(['text/csv', 'application/pskc+xml', 'application/xml', 'text/xml']);
    const audit = doc.paths['/api/v1/audit-events']?.['get']?.responses['200'] as { content: Record<string, unknown> };
    expect(Object.keys(audit.content).sort()).toEqual(['application/json', 'text/csv']);
    expect(doc.paths['/healthz']?.['get']?.security).toEqual([]);

    // Every operation has a unique operationId, a success response and its path parameters declared.
    const ids = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops as Record<string, { operationId?: string; parameters?: { in: string; name: string; required?: boolean }[]; responses: Record<string, unknown> }>)) {
        expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z][A-Za-z]+$/);
        expect(ids.has(op.operationId as string), op.operationId).toBe(false);
        ids.add(op.operationId as string);
        expect(Object.keys(op.responses).some((code) => /^2\d\d$/.test(code)), `${method} ${path}`).toBe(true);
        for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
          expect(op.parameters?.find((p) => p.in === 'path' && p.name === name)?.required, `${method} ${path} {${name}}`).toBe(true);
        }
      }
    }
    expect(doc.paths['/api/v1/users/{username}/methods']?.['get']).toMatchObject({ operationId: 'getUsersByUsernameMethods' });
  });

  it('serves browsable documentation', async () => {
    const { app } = await start();
    const res = await app.inject({ method: 'GET', url: '/api/v1/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toContain('swagger');
  });
});

describe('health, readiness, metrics', () => {
  it('reports liveness and readiness, and 503 when the readiness check throws', async () => {
    let ready = true;
    const { app } = await start({ ready: async () => { if (!ready) throw new Error('database down: password=hunter2'); } });
    expect(json(await app.inject({ method: 'GET', url: '/healthz' }))).toEqual({ status: 'ok' });
    const ok = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ok.statusCode).toBe(200);
    ready = false;
    const down = await app.inject({ method: 'GET', url: '/readyz' });
    expect(down.statusCode).toBe(503);
    expect(expectProblemShape(down).code).toBe('not_ready');
    expect(down.body).not.toContain('hunter2');
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('counts authentications in Prometheus metrics, served only to allowed addresses', async () => {
    const s = await start({ metricsAllowFrom: ['10.1.0.0/16', '192.0.2.7'] });
    const user = await s.app.inject({ method: 'POST', url: '/api/v1/users', headers: s.as('admin'), payload: { username: 'alice' } });
    expect(user.statusCode).toBe(201);
    const e = json<{ secret: string }>(await s.app.inject({ method: 'POST', url: '/api/v1/users/alice/methods', headers: s.as('admin'), payload: { type: 'totp' } }));
    await s.app.inject({ method: 'POST', url: '/api/v1/authentications', headers: s.as('sdk'), payload: { username: 'alice', passcode: totpAt(e.secret, s.clock.now()) } });
    for (let i = 0; i < 2; i++) await s.app.inject({ method: 'POST', url: '/api/v1/authentications', headers: s.as('sdk'), payload: { username: 'alice', passcode: '000000' } });

    const res = await s.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toContain('countersign_authentications_total{result="approved",method="totp",application="default"} 1');
    expect(res.body).toContain('countersign_authentications_total{result="denied",method="totp",application="default"} 2');
    expect(res.body).toMatch(/countersign_authentication_duration_seconds_count\{result="denied"\} 2/);
    expect(res.body).toContain('process_cpu_user_seconds_total');

    for (const remoteAddress of ['10.1.200.3', '192.0.2.7', '::1', '::ffff:127.0.0.1']) {
      expect((await s.app.inject({ method: 'GET', url: '/metrics', remoteAddress })).statusCode, remoteAddress).toBe(200);
    }
    for (const remoteAddress of ['10.2.0.1', '192.0.2.8', '203.0.113.5', '2001:db8::1']) {
      const denied = await s.app.inject({ method: 'GET', url: '/metrics', remoteAddress });
      expect(denied.statusCode, remoteAddress).toBe(403);
      expect(expectProblemShape(denied).code).toBe('forbidden');
    }
  });

  it('refuses a bad metrics allow-list entry at start', async () => {
    await expect(start({ metricsAllowFrom: ['10.0.0.0/33'] })).rejects.toThrow(/10\.0\.0\.0\/33/);
  });
});

describe('rate limits', () => {
  it('limits requests without a valid key per client address (429 rate_limited, Retry-After)', async () => {
    const { app, as } = await start({ rateLimit: { perKeyPerMinute: 1000, perAddressPerMinute: 3 } });
    for (let i = 0; i < 3; i++) {
      expect((await app.inject({ method: 'GET', url: '/api/v1/users', headers: { authorization: 'Bearer cs_nope_nope' } })).statusCode).toBe(401);
    }
    const limited = await app.inject({ method: 'GET', url: '/api/v1/users' });
    expect(limited.statusCode).toBe(429);
    expect(expectProblemShape(limited).code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    // Another address is not affected, and neither is a valid key from the same address.
    expect((await app.inject({ method: 'GET', url: '/api/v1/users', remoteAddress: '198.51.100.1' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/api/v1/users', headers: as('sdk') })).statusCode).toBe(200);
  });

  it('limits each API key separately', async () => {
    const { app, as } = await start({ rateLimit: { perKeyPerMinute: 5, perAddressPerMinute: 1000 } });
    for (let i = 0; i < 5; i++) expect((await app.inject({ method: 'GET', url: '/api/v1/users', headers: as('sdk') })).statusCode).toBe(200);
    const limited = await app.inject({ method: 'POST', url: '/api/v1/authentications', headers: as('sdk'), payload: { username: 'x' } });
    expect(limited.statusCode).toBe(429);
    expect(expectProblemShape(limited).code).toBe('rate_limited');
    expect(limited.headers['retry-after']).toBeDefined();
    expect((await app.inject({ method: 'GET', url: '/api/v1/users', headers: as('helpdesk') })).statusCode).toBe(200);
  });
});

describe('headers and proxies', () => {
  it('sets no-store, nosniff and a request id on API, error and ops responses', async () => {
    const { app, as } = await start();
    for (const res of [
      await app.inject({ method: 'GET', url: '/api/v1/users', headers: as('admin') }),
      await app.inject({ method: 'GET', url: '/api/v1/users' }),
      await app.inject({ method: 'GET', url: '/healthz' }),
    ]) {
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-request-id']).toMatch(/^[A-Za-z0-9_-]{10,}$/);
    }
    const echoed = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'trace-42' } });
    expect(echoed.headers['x-request-id']).toBe('trace-42');
    const refused = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(refused.headers['x-request-id']).not.toContain(' ');
  });

  it('believes X-Forwarded-For only from the listed proxies', async () => {
    // /metrics answers loopback clients only, so it shows which address the server believed.
    const trusting = await start({ trustProxy: ['127.0.0.1'] });
    const viaProxy = await trusting.app.inject({ method: 'GET', url: '/metrics', headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(viaProxy.statusCode).toBe(403);
    const proxiedLoopback = await trusting.app.inject({ method: 'GET', url: '/metrics', headers: { 'x-forwarded-for': '127.0.0.1' } });
    expect(proxiedLoopback.statusCode).toBe(200);
    const untrustedPeer = await trusting.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '198.51.100.2', headers: { 'x-forwarded-for': '127.0.0.1' } });
    expect(untrustedPeer.statusCode).toBe(403);
    await trusting.close();
    t = undefined;

    const plain = await start();
    const spoofed = await plain.app.inject({ method: 'GET', url: '/metrics', headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(spoofed.statusCode).toBe(200);
    const spoofedIn = await plain.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '198.51.100.2', headers: { 'x-forwarded-for': '127.0.0.1' } });
    expect(spoofedIn.statusCode).toBe(403);
  });
});

describe('logs', () => {
  function capture(): { lines: string[]; stream: Writable } {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    return { lines, stream };
  }

  it('redacts secrets wherever they appear in a logged object', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', destination: stream });
    log.info(
      { passcode: '123456', req: { headers: { authorization: 'Bearer cs_abc_def', host: 'x' } }, body: { pin: '4711', user: { password: 'hunter2' } }, token: 'cs_t_s', keep: 'visible' },
      'hello',
    );
    const out = lines.join('');
    for (const secret of ['123456', 'cs_abc_def', '4711', 'hunter2', 'cs_t_s']) expect(out).not.toContain(secret);
    expect(out).toContain('visible');
    expect(out).toContain('[Redacted]');
  });

  it('redacts in any case, through arrays, in bindings and in errors, three levels deep, without changing what was logged', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', destination: stream });
    const logged = { headers: { Authorization: 'Bearer cs_case_upper', 'X-Api-Key': 'cs_header_key' }, list: [{ password: 'in-array' }], a: { b: { secret: 'level-three' } }, when: new Date(0) };
    log.info(logged, 'one');
    log.child({ token: 'bound-token', component: 'radius' }).info('two');
    log.error({ err: Object.assign(new Error('boom'), { pin: '80808', code: 'E_X' }) }, 'three');
    log.info({ req: { headers: { cookie: 'sid=cookie-value' } }, res: { token: 'res-token' } }, 'four');
    const out = lines.join('');
    for (const secret of ['cs_case_upper', 'cs_header_key', 'in-array', 'level-three', 'bound-token', '80808', 'cookie-value', 'res-token']) expect(out, secret).not.toContain(secret);
    const [one, two, three] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(one).toMatchObject({ headers: { Authorization: '[Redacted]', 'X-Api-Key': '[Redacted]' }, list: [{ password: '[Redacted]' }], a: { b: { secret: '[Redacted]' } }, when: '1970-01-01T00:00:00.000Z' });
    expect(two).toMatchObject({ token: '[Redacted]', component: 'radius', msg: 'two' });
    expect(three).toMatchObject({ err: { type: 'Error', message: 'boom', pin: '[Redacted]', code: 'E_X' } });
    expect((three?.['err'] as { stack: string }).stack).toContain('boom');
    // What the caller logged is left as it was.
    expect(logged.headers.Authorization).toBe('Bearer cs_case_upper');
    expect(logged.list[0]?.password).toBe('in-array');
  });

  it('writes readable lines with pretty, still redacted', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', pretty: true, destination: stream });
    log.info({ user: 'alice', passcode: '314159' }, 'signed in');
    log.debug('not shown at info');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d{2}:\d{2}:\d{2}\.\d{3} INFO  signed in user=alice passcode=\[Redacted\]\n$/);
    expect(() => createLogger({ level: 'loud' })).toThrow(/loud/);
  });

  it('keeps API keys, passcodes and enrolled secrets out of the request logs', async () => {
    const { lines, stream } = capture();
    const logger = createLogger({ level: 'trace', destination: stream });
    const s = await start({ logger });
    await s.app.inject({ method: 'POST', url: '/api/v1/users', headers: s.as('admin'), payload: { username: 'alice', pin: '90817' } });
    const e = json<{ secret: string }>(await s.app.inject({ method: 'POST', url: '/api/v1/users/alice/methods', headers: s.as('admin'), payload: { type: 'totp' } }));
    const code = totpAt(e.secret, s.clock.now());
    await s.app.inject({ method: 'POST', url: '/api/v1/authentications', headers: s.as('sdk'), payload: { username: 'alice', passcode: code } });
    await s.app.inject({ method: 'POST', url: '/api/v1/users', headers: { authorization: 'Bearer cs_guess_secretguess' }, payload: { username: 'x' } });
    const created = json<{ token: string }>(await s.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: s.as('admin'), payload: { name: 'k', role: 'sdk' } }));

    const out = lines.join('');
    expect(out).toContain('request completed');
    for (const secret of [s.keys.admin, s.keys.sdk, e.secret, code, '90817', 'secretguess', created.token]) expect(out).not.toContain(secret);
  });
});
