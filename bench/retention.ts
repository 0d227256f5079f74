/**
 * Deleting old audit events: `countersign prune` (core.retention.prune, a batch of rows per
 * statement) beside one plain `DELETE ... WHERE at < ?` statement on a copy of the same database,
 * in the same run. SQLite runs on the server's event loop, so the longest single statement is how
 * long sign-ins wait behind the deletion: the figure that matters besides the total time.
 *
 *   node bench/retention.ts
 *
 * env: BENCH_EVENTS (1,000,000 audit events, spread evenly over the last 730 days, so about half are
 * older than the default retention of 365 days).
 *
 * A fresh installation (`countersign init`); the events are written straight into its SQLite
 * database with the product's schema and indexes; then two copies of the file are made.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import type { Actor } from '../src/core/api.ts';
import { loadConfig } from '../src/config/load.ts';
import { openContext } from '../src/server.ts';

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 1_000_000);
const DAY = 86_400_000;
const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'countersign-bench-retention-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const actor: Actor = { kind: 'cli', name: 'bench', role: 'admin' };

execFileSync(process.execPath, [join(root, 'bin/countersign'), 'init', '--dir', dir, '--json'], { stdio: 'ignore' });
const file = join(dir, 'countersign.db');
const now = Date.now();
const seedStart = performance.now();
{
  const db = new Database(file);
  const insert = db.prepare(
    "insert into audit_events (at, kind, action, result, reason, username, username_lc, application, method, client_ip, actor) values (?, 'authentication', 'authenticate', ?, ?, ?, ?, ?, 'totp', ?, 'radius:vpn')",
  );
  const span = 730 * DAY;
  for (let from = 0; from < EVENTS; from += 100_000) {
    db.transaction(() => {
      for (let i = from; i < Math.min(EVENTS, from + 100_000); i++) {
        const user = `user${(i * 7919) % 50_000}`;
        const denied = i % 20 === 0;
        insert.run(
          now - span + Math.floor((i / EVENTS) * span),
          denied ? 'denied' : 'approved',
          denied ? 'invalid_passcode' : 'passcode_ok',
          user,
          user,
          i % 3 === 0 ? 'vpn' : 'default',
          `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        );
      }
    })();
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}
process.stderr.write(`seeded ${EVENTS} audit events in ${((performance.now() - seedStart) / 1000).toFixed(1)} s\n`);
const cutoff = now - 365 * DAY;

/** Runs `work`, measuring the wall time and the longest stall of the event loop meanwhile. */
async function measure<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number; longestStallMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  // The histogram measures from its first tick on: let it start before the work does.
  await new Promise((resolve) => setTimeout(resolve, 20));
  const start = performance.now();
  const result = await work();
  const seconds = (performance.now() - start) / 1000;
  // A statement that blocked the loop shows up at the next turn: let one come.
  await new Promise((resolve) => setTimeout(resolve, 20));
  histogram.disable();
  return { result, seconds, longestStallMs: histogram.max / 1e6 };
}

// Countersign: the product's retention run on a copy.
const ours = join(dir, 'ours');
execFileSync('mkdir', ['-p', ours]);
copyFileSync(join(dir, 'countersign.yaml'), join(ours, 'countersign.yaml'));
copyFileSync(join(dir, 'countersign.key'), join(ours, 'countersign.key'));
execFileSync('cp', ['-r', join(dir, 'tls'), ours]);
copyFileSync(file, join(ours, 'countersign.db'));
const ctx = await openContext(await loadConfig({ file: join(ours, 'countersign.yaml'), env: {} }));
const product = await measure(() => ctx.core.retention.prune(actor));
await ctx.close();

// The peer: one statement on another copy.
const theirs = join(dir, 'peer.db');
copyFileSync(file, theirs);
const peerDb = new Database(theirs);
peerDb.pragma('journal_mode = WAL');
peerDb.pragma('synchronous = NORMAL');
const peer = await measure(async () => peerDb.prepare('delete from audit_events where at < ?').run(cutoff).changes);
peerDb.close();

const row = (name: string, deleted: number, m: { seconds: number; longestStallMs: number }): string =>
  `| ${name} | ${deleted.toLocaleString('en-US')} | ${m.seconds.toFixed(2)} | ${Math.round(deleted / m.seconds).toLocaleString('en-US')} | ${m.longestStallMs.toFixed(0)} |`;
console.log(`\nDeleting audit events older than 365 days: ${EVENTS.toLocaleString('en-US')} events over 730 days, embedded SQLite\n`);
console.log('| target | rows deleted | seconds | rows/s | longest event-loop stall ms |');
console.log('|---|---|---|---|---|');
console.log(row('countersign prune (batches)', product.result.auditEvents, product));
console.log(row('one DELETE statement (peer)', peer.result, peer));
console.log(
  `\nratio to peer: ${(product.seconds / peer.seconds).toFixed(2)}x the time, ${(product.longestStallMs / peer.longestStallMs).toFixed(2)}x the longest stall`,
);
