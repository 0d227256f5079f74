/**
 * CPU per TOTP verification through the core alone, without a front door: what every door's
 * passcode check costs (user and token lookups, seed decryption, TOTP check, replay guard,
 * authentication record, audit event, group commit). Run it pinned to one core:
 *
 *   taskset -c 0 node bench/core-auth.ts
 *
 * env: BENCH_USERS (100000), BENCH_COUNT (30000 authentications per run), BENCH_INFLIGHT (64),
 * BENCH_RUNS (3).
 *
 * A fresh installation (`countersign init`) is seeded once with BENCH_USERS users, each with a
 * TOTP token (the secrets of bench/radius-users.ts), and an application. Each run opens a copy of
 * that installation (so every code is a first use) and calls `core.authentications.create` with
 * the user's current code, BENCH_INFLIGHT at a time, every call a different user; it prints the
 * process's CPU time per authentication (user + system, over the calls only) and the
 * authentications per second of wall time. Every authentication must be approved.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Actor } from '../src/core/api.ts';
import { loadConfig } from '../src/config/load.ts';
import { openContext } from '../src/server.ts';
import { totpCode, totpSecretOf, userName } from './radius-users.ts';

const USERS = Number(process.env['BENCH_USERS'] ?? 100_000);
const COUNT = Math.min(Number(process.env['BENCH_COUNT'] ?? 30_000), USERS);
const INFLIGHT = Number(process.env['BENCH_INFLIGHT'] ?? 64);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const APPLICATION = 'bench-core';
const root = new URL('..', import.meta.url).pathname;
const admin: Actor = { kind: 'cli', name: 'bench', role: 'admin' };
const actor: Actor = { kind: 'system', name: 'bench', role: 'sdk' };
const seeded = mkdtempSync(join(tmpdir(), 'countersign-bench-core-'));
process.on('exit', () => rmSync(seeded, { recursive: true, force: true }));

async function open(dir: string) {
  return openContext(await loadConfig({ file: join(dir, 'countersign.yaml'), env: {} }));
}

execFileSync(process.execPath, [join(root, 'bin/countersign'), 'init', '--dir', seeded, '--json'], { stdio: 'ignore' });
const seedStart = performance.now();
const seed = await open(seeded);
for (let from = 0; from < USERS; from += 5_000) {
  const names = Array.from({ length: Math.min(5_000, USERS - from) }, (_, k) => userName(from + k));
  await seed.core.users.createMany(
    names.map((username) => ({ username })),
    admin,
  );
  const csv = ['username,type,secret,digits,period,algorithm', ...names.map((n) => `${n},totp,0x${totpSecretOf(n).toString('hex')},6,30,SHA1`)].join('\n');
  await seed.core.methods.importTokens('csv', csv, admin);
}
await seed.core.applications.create({ name: APPLICATION }, admin);
await seed.close();
process.stderr.write(`seeded ${USERS} users and tokens in ${((performance.now() - seedStart) / 1000).toFixed(1)} s\n`);

for (let run = 1; run <= RUNS; run++) {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-bench-core-run-'));
  cpSync(seeded, dir, { recursive: true });
  const config = join(dir, 'countersign.yaml');
  writeFileSync(config, readFileSync(config, 'utf8').replaceAll(seeded, dir));
  const ctx = await open(dir);
  let next = 0;
  let approved = 0;
  const lane = async (): Promise<void> => {
    while (next < COUNT) {
      const i = next++;
      const username = userName(i);
      const outcome = await ctx.core.authentications.create(
        { username, application: APPLICATION, clientIp: `198.51.100.${i % 250}`, passcode: totpCode(totpSecretOf(username), Date.now()) },
        actor,
      );
      if (outcome.view.state === 'approved') approved++;
      else process.stderr.write(`${username}: ${outcome.reason}\n`);
    }
  };
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  await Promise.all(Array.from({ length: INFLIGHT }, lane));
  const cpu = process.cpuUsage(cpuStart);
  const seconds = (performance.now() - start) / 1000;
  await ctx.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(
    `run ${run}: ${COUNT} authentications, ${((cpu.user + cpu.system) / COUNT).toFixed(1)} µs CPU each (user ${(cpu.user / COUNT).toFixed(1)}, system ${(cpu.system / COUNT).toFixed(1)}), ${Math.round(COUNT / seconds)}/s wall, ${approved} approved`,
  );
  if (approved !== COUNT) process.exitCode = 1;
}
