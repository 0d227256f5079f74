/** A progress bar on stderr for long imports, shown only on a terminal (never in --json output). */
import type { ProgressFn } from '../core/api.ts';

export interface Progress {
  readonly update: ProgressFn;
  stop(): void;
}

export async function progressBar(label: string, enabled: boolean): Promise<Progress> {
  if (!enabled || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} | eta {eta_formatted}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/**
 * A progress bar for work whose total is only estimated (a directory synchronization knows how
 * many entries the last run saw, or nothing on a first run).
 */
export async function estimatedProgressBar(label: string, enabled: boolean): Promise<{ update(done: number, estimate: number | null): void; stop(): void }> {
  if (!enabled || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value} of {expected} entries | {duration_formatted}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, estimate) {
      const total = Math.max(done, estimate ?? done * 2);
      const payload = { expected: estimate === null ? '?' : `~${estimate}` };
      if (!started) {
        bar.start(total, done, payload);
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
