/**
 * Counts the core calls still running, so a shutdown can let them finish (and their writes
 * commit) before the store closes. A front door may have given up on a request (the client
 * disconnected) while the core is still deciding it.
 */
import type { Core } from './api.ts';

export interface InFlight {
  readonly core: Core;
  /** Settles when no call is running, or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<void>;
}

export function trackInFlight(core: Core): InFlight {
  let running = 0;
  let waiters: (() => void)[] = [];
  const settle = (): void => {
    running--;
    if (running === 0) for (const wake of waiters.splice(0)) wake();
  };
  const wrapGroup = <G extends object>(group: G): G => {
    const out: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(group)) {
      out[name] =
        typeof fn === 'function'
          ? (...args: unknown[]): unknown => {
              running++;
              let result: unknown;
              try {
                result = (fn as (...a: unknown[]) => unknown)(...args);
              } catch (e) {
                settle();
                throw e;
              }
              if (result instanceof Promise) return result.finally(settle);
              settle();
              return result;
            }
          : fn;
    }
    return out as G;
  };
  const wrapped = Object.fromEntries(Object.entries(core).map(([k, g]) => [k, wrapGroup(g as object)])) as unknown as Core;
  return {
    core: wrapped,
    idle(timeoutMs) {
      if (running === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== done);
          resolve();
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        waiters.push(done);
      });
    },
  };
}
