/** What the benchmarks read about processes and servers: CPU time, peak memory, readiness. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';

/** Clock ticks per second of /proc/<pid>/stat times. */
export const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** User + system CPU ticks of a process, every thread included. */
export function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
}

/** Peak resident set size of a running process, in MB. */
export function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Polls https://127.0.0.1:<port><path> until it answers 200; resolves with the milliseconds waited. */
export async function waitHttps(port: number, path: string, timeoutMs: number): Promise<number> {
  const agent = new Agent({ rejectUnauthorized: false, keepAlive: false });
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.end();
    });
    if (ok) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`nothing answered on port ${port} within ${timeoutMs} ms`);
}
