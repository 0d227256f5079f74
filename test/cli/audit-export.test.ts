import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installation, json, ok, removeDir, run } from './run.ts';

let dir: string;
let o: { cwd: string };
const ADDED = 12_345;
const T0 = Date.UTC(2025, 0, 1);

beforeAll(async () => {
  ({ dir } = await installation('audit-export'));
  o = { cwd: dir };
  // More events than one page (5,000) or one `audit list` (10,000), written straight into the
  // installation's database: an hour apart from 2025-01-01, every tenth one denied.
  const db = new Database(path.join(dir, 'countersign.db'));
  const insert = db.prepare(
    "insert into audit_events (at, kind, action, result, username, username_lc, application) values (?, 'authentication', 'authenticate', ?, ?, ?, 'vpn')",
  );
  db.transaction(() => {
    for (let i = 0; i < ADDED; i++) insert.run(T0 + i * 3_600_000, i % 10 === 0 ? 'denied' : 'approved', `user${i % 7}`, `user${i % 7}`);
  })();
  db.close();
}, 60_000);

afterAll(async () => {
  await removeDir(dir);
});

type Row = Record<string, string>;

describe('audit export', () => {
  it('writes every event, oldest first, in one CSV with one header, across pages', async () => {
    const out = path.join(dir, 'all.csv');
    const r = await run(['audit', 'export', '--output', out], o);
    expect(r.code, r.stderr).toBe(0);
    const text = await readFile(out, 'utf8');
    const rows = parse(text, { columns: true }) as Row[];
    // The installation's own events (init) come first, then the added ones.
    expect(rows.length).toBeGreaterThan(ADDED);
    const ids = rows.map((row) => Number(row['id']));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    expect(text.match(/^id,at,kind,/gm)).toHaveLength(1);
    expect(r.stderr).toBe(`Exported ${rows.length} events to ${out}\n`);
    expect(rows.at(-1)).toMatchObject({ action: 'authenticate', application: 'vpn', at: new Date(T0 + (ADDED - 1) * 3_600_000).toISOString() });
  });

  it('filters like audit list, and writes JSON lines with --json', async () => {
    const from = T0 + 1_000 * 3_600_000;
    const to = T0 + 11_000 * 3_600_000;
    const csv = await ok(['audit', 'export', '--result', 'denied', '--from', new Date(from).toISOString(), '--to', new Date(to).toISOString()], o);
    const rows = parse(csv, { columns: true }) as Row[];
    expect(rows).toHaveLength(1_000);
    expect(rows.every((row) => row['result'] === 'denied' && Date.parse(row['at'] as string) >= from && Date.parse(row['at'] as string) < to)).toBe(true);

    const lines = (await ok(['audit', 'export', '--user', 'user3', '--json'], o)).trim().split('\n');
    const events = lines.map((l) => JSON.parse(l) as { username: string; id: number });
    expect(events).toHaveLength(Math.ceil((ADDED - 3) / 7));
    expect(events.every((e) => e.username === 'user3')).toBe(true);
    // The same events `audit list` finds (it stops at 10,000; these are fewer).
    const listed = await json<{ id: number }[]>(['audit', 'list', '--user', 'user3', '--limit', '10000'], o);
    expect(events.map((e) => e.id)).toEqual(listed.map((e) => e.id).reverse());
  });

  it('writes a header alone when nothing matches, and refuses to overwrite a file', async () => {
    expect(await ok(['audit', 'export', '--user', 'nobody'], o)).toBe(
      'id,at,kind,action,result,reason,username,userId,displayName,email,phone,device,method,mode,application,serverName,clientIp,actor,authenticationId,details\r\n',
    );
    const out = path.join(dir, 'all.csv');
    const again = await run(['audit', 'export', '--output', out], o);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`error: ${out} already exists: choose another --output file, or remove it\n`);
  });
});
