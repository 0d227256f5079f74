/**
 * One directory synchronization, for bench/directory-sync.ts: loads the configuration, opens the
 * store and core as every entry point does, runs a full synchronization of one directory, closes,
 * and prints one JSON line: the run's summary, the synchronization's wall time and CPU time
 * (Node's startup, opening and closing the store excluded; closing is timed apart) and the
 * process's peak RSS.
 *
 *   node bench/directory-sync-worker.ts <countersign.yaml> <directory name>
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../src/config/load.ts';
import type { Actor } from '../src/core/api.ts';
import type { SyncRun } from '../src/core/ports.ts';
import { syncTargetFromConfig } from '../src/directory/config.ts';
import { nodeName } from '../src/directory/sync-service.ts';
import { runDirectorySync } from '../src/directory/sync.ts';
import { systemClock } from '../src/platform/clock.ts';
import { systemRandom } from '../src/platform/random.ts';
import { openContext } from '../src/server.ts';

const [file, name] = process.argv.slice(2);
if (file === undefined || name === undefined) throw new Error('usage: directory-sync-worker.ts <countersign.yaml> <directory name>');
const configFile = resolve(file);
const config = await loadConfig({ file: configFile, env: {} });
const directory = config.directories.find((d) => d.name === name);
if (!directory) throw new Error(`no directory named ${name} in ${configFile}`);
const target = await syncTargetFromConfig(directory);
if (!target) throw new Error(`directory ${name} has no sync block in ${configFile}`);
const ctx = await openContext(config);
const actor: Actor = { kind: 'cli', name: 'bench', role: 'admin' };

let shown = 0;
const progress = (done: number, total: number | null): void => {
  if (done - shown < 20_000) return;
  shown = done;
  process.stderr.write(`sync: ${done}${total === null ? '' : `/${total}`}\n`);
};

/** Bytes this process has passed to write(2) so far (the database file and its write-ahead log). */
const writtenBytes = (): number => Number(/^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1]);

// What the process holds before the synchronization starts (modules, store, core), and the
// largest JavaScript heap seen while it runs (sampled), to tell live data from garbage.
const rssBeforeKiB = Math.round(process.memoryUsage().rss / 1024);
let peakHeapUsed = 0;
const sample = (): void => void (peakHeapUsed = Math.max(peakHeapUsed, process.memoryUsage().heapUsed));
const sampler = setInterval(sample, 250);
const writtenBefore = writtenBytes();
const cpuBefore = process.cpuUsage();
const start = performance.now();
let run: SyncRun;
let syncMs: number;
let cpu: NodeJS.CpuUsage;
try {
  run = await runDirectorySync({ core: ctx.core, store: ctx.store, clock: systemClock, random: systemRandom, node: nodeName(), actor }, target, {
    mode: 'full',
    trigger: 'manual',
    progress,
  });
  syncMs = performance.now() - start;
  cpu = process.cpuUsage(cpuBefore);
  sample();
} finally {
  await ctx.close();
}
// Closing checkpoints the SQLite write-ahead log into the database file: timed on its own.
const closeMs = performance.now() - start - syncMs;
clearInterval(sampler);
const writtenMiB = (writtenBytes() - writtenBefore) / 1048576;
const summary = {
  status: run.status,
  ...run.counts,
  durationMs: (run.finishedAt ?? run.startedAt) - run.startedAt,
  failure: run.failure,
  firstErrors: run.errors.slice(0, 5),
};
console.log(
  JSON.stringify({
    summary,
    syncMs,
    closeMs,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    rssBeforeKiB,
    maxRssKiB: process.resourceUsage().maxRSS,
    peakHeapUsedMiB: peakHeapUsed / 1048576,
    writtenMiB,
  }),
);
