/**
 * Many parallel requests with the same TOTP code, spread over two server processes sharing one
 * database (SQLite file, then PostgreSQL): exactly one is approved.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { agent, cleanup, installation, killServers, post, serve, totp, waitReady } from './support.ts';

const PG_BASE = process.env['COUNTERSIGN_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

afterAll(() => {
  cleanup();
  agent.destroy();
});

async function race(databaseUrl: string | null, ports: [number, number]): Promise<void> {
  const { env, apiKey, cs } = installation(databaseUrl ? { COUNTERSIGN_DATABASE_URL: databaseUrl } : {});
  cs('user', 'add', 'racer');
  const token = JSON.parse(cs('token', 'add', 'racer', '--json')) as { secret: string };
  for (const port of ports) serve(env, port);
  await Promise.all(ports.map(waitReady));
  const code = totp(token.secret);
  const requests = Array.from({ length: 60 }, (_, i) => post(ports[i % 2] as number, '/api/v1/authentications', apiKey, { username: 'racer', passcode: code }));
  const results = await Promise.all(requests);
  expect(results.every((r) => r.status === 201)).toBe(true);
  const approved = results.filter((r) => r.body['state'] === 'approved');
  expect(approved).toHaveLength(1);
  expect(results.filter((r) => r.body['state'] === 'denied')).toHaveLength(59);
}

describe('one code, two server processes, one database', () => {
  it('SQLite: exactly one approval out of 60 concurrent requests', async () => {
    await race(null, [18601, 18602]);
  }, 60_000);

  it('PostgreSQL: exactly one approval out of 60 concurrent requests', async () => {
    const admin = new pg.Client({ connectionString: PG_BASE });
    try {
      await admin.connect();
    } catch (e) {
      if (process.env['CI']) throw e;
      console.warn(`PostgreSQL unreachable at ${PG_BASE}: skipping`);
      return;
    }
    const name = `cs_e2e_${Date.now().toString(36)}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(PG_BASE);
    url.pathname = `/${name}`;
    try {
      await race(url.toString(), [18603, 18604]);
    } finally {
      killServers();
      await new Promise((r) => setTimeout(r, 300));
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  }, 60_000);
});
