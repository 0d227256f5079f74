/**
 * The administrator's story, end to end through the real CLI: a user created and enrolled with the
 * CLI is approved for a code from oathtool, denied for the same code again, locked after the
 * configured number of wrong codes, and every decision is in `audit list --csv`.
 * Runs on SQLite, then on a throw-away PostgreSQL database.
 */
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { createTempDatabase, type TempDatabase } from '../store/pg.ts';
import { installation, json, ok, oathtool, removeDir, run, wrongCode } from './run.ts';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function story(env: Record<string, string>): Promise<void> {
  const { dir } = await installation('story', env);
  cleanups.push(() => removeDir(dir));
  const o = { cwd: dir, env };

  expect(await ok(['settings', 'set', 'lockout.threshold', '3'], o)).toBe('lockout.threshold = 3\n');
  expect((await json<{ lockout: { threshold: number } }>(['settings', 'show'], o)).lockout.threshold).toBe(3);

  await ok(['user', 'add', 'alice', '--email', 'alice@example.com', '--display-name', 'Alice Martin'], o);
  const enrolled = await json<{ secret: string; otpauthUri: string; method: { id: string } }>(['token', 'add', 'alice'], o);
  expect(enrolled.secret).toMatch(/^[A-Z2-7]{32,}$/);

  // A code from an independent generator is approved...
  const code = oathtool(enrolled.secret);
  const first = await run(['verify', 'alice', '--code', code], o);
  expect(first.stdout).toBe('approved (passcode_ok)\n');
  expect(first.code).toBe(0);

  // ...once.
  const replay = await run(['verify', 'alice', '--code', code], o);
  expect(replay.stdout).toBe('denied (replayed_passcode)\n');
  expect(replay.code).toBe(1);

  // Start the wrong-code count from zero, then three wrong codes lock the account.
  await ok(['user', 'unlock', 'alice'], o);
  const wrong = wrongCode(enrolled.secret);
  for (let i = 1; i <= 3; i++) {
    const r = await run(['verify', 'alice', '--code', wrong, '--client-ip', '192.0.2.10'], o);
    expect(r.stdout).toBe('denied (invalid_passcode)\n');
    expect(r.code).toBe(1);
    const state = (await json<{ state: string; failedCount: number }>(['user', 'show', 'alice'], o));
    expect(state.failedCount).toBe(i);
    expect(state.state).toBe(i < 3 ? 'enabled' : 'locked');
  }

  // Locked: even a fresh valid code is denied, until an administrator unlocks.
  const fresh = oathtool(enrolled.secret, 30);
  const locked = await run(['verify', 'alice', '--code', fresh], o);
  expect(locked.stdout).toBe('denied (user_locked)\n');
  expect(locked.code).toBe(1);
  expect((await json<{ state: string }>(['user', 'unlock', 'alice'], o)).state).toBe('enabled');
  expect((await run(['verify', 'alice', '--code', fresh], o)).stdout).toBe('approved (passcode_ok)\n');

  // The audit trail has each decision, with its reason, as CSV.
  const csv = await ok(['audit', 'list', '--csv'], o);
  const rows = parse(csv, { columns: true }) as Record<string, string>[];
  const decisions = rows
    .filter((r) => r['action'] === 'authenticate')
    .reverse()
    .map((r) => `${r['result']}:${r['reason']}`);
  expect(decisions).toEqual([
    'approved:passcode_ok',
    'denied:replayed_passcode',
    'denied:invalid_passcode',
    'denied:invalid_passcode',
    'denied:invalid_passcode',
    'denied:user_locked',
    'approved:passcode_ok',
  ]);
  const authRows = rows.filter((r) => r['action'] === 'authenticate');
  expect(authRows.every((r) => r['username'] === 'alice' && r['application'] === 'default' && r['actor']?.startsWith('cli'))).toBe(true);
  expect(authRows.filter((r) => r['clientIp'] === '192.0.2.10')).toHaveLength(3);
  expect(rows.some((r) => r['action'] === 'user.lock')).toBe(true);
  expect(rows.some((r) => r['action'] === 'settings.update')).toBe(true);
  // Filters work on the same trail.
  const denied = await json<{ result: string }[]>(['audit', 'list', '--user', 'alice', '--result', 'denied'], o);
  expect(denied).toHaveLength(5);
}

describe('end to end through the CLI', () => {
  it('SQLite: enroll, approve, refuse the replay, lock after 3 wrong codes, audit as CSV', async () => {
    await story({});
  }, 120_000);

  it('PostgreSQL: the same story', async () => {
    const result = await createTempDatabase();
    if (!result.ok) return;
    const db: TempDatabase = result.db;
    cleanups.push(() => db.drop());
    await story({ COUNTERSIGN_DATABASE_URL: db.url });
  }, 120_000);
});
