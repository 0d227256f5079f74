/**
 * Retention: deletes what the company settings no longer keep. Audit events older than
 * `retention.auditDays` (never, with 0), authentication records older than
 * `retention.authenticationDays` (open ones only once expired), and ended sign-in sessions. The
 * server runs it every 10 minutes; `countersign prune` runs it at once.
 *
 * A run started by someone (`countersign prune`) is audited as retention.prune with what it
 * deleted; the server's periodic runs (a system actor) are not, as they only apply the settings,
 * whose changes are audited.
 *
 * Rows go a batch at a time, oldest first, each batch its own statement: a first run over years of
 * records never holds the database's write lock (nor, with SQLite, the event loop) for long, and
 * sign-ins go on between batches. bench/retention.ts: a 50 ms longest wait where one statement
 * held everything for 2.3 s, at about 7 times the total time.
 * Several servers on one database may prune at the same time; a row is deleted once.
 */
import type { Actor, RetentionResult } from '../api.ts';
import type { Audit } from '../audit.ts';
import type { Clock, Store } from '../ports.ts';
import type { PolicyCache } from '../policy-cache.ts';

const DAY_MS = 86_400_000;
/** Rows per statement. */
export const PRUNE_BATCH = 1_000;

export interface RetentionDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly policy: PolicyCache;
  readonly audit: Audit;
  readonly pruneSessions: () => Promise<number>;
}

/** What has been deleted so far, after each batch. */
export type PruneProgress = (done: { readonly authentications: number; readonly auditEvents: number }) => void;

export function createRetentionService({ store, clock, policy, audit, pruneSessions }: RetentionDeps) {
  /** Deletes with `prune` a batch at a time until a batch comes back short; how many went. */
  async function inBatches(prune: (limit: number) => Promise<number>, progress: (n: number) => void): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await prune(PRUNE_BATCH);
      total += n;
      progress(total);
      if (n < PRUNE_BATCH) return total;
      // Let waiting requests run between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  return {
    async prune(actor: Actor, onProgress?: PruneProgress): Promise<RetentionResult> {
      const settings = await policy.settings();
      const now = clock.now();
      const { auditDays, authenticationDays } = settings.retention;
      const auditBefore = auditDays === 0 ? null : now - auditDays * DAY_MS;
      const authenticationsBefore = now - authenticationDays * DAY_MS;
      const authentications = await inBatches(
        (limit) => store.authentications.prune(authenticationsBefore, limit),
        (n) => onProgress?.({ authentications: n, auditEvents: 0 }),
      );
      const auditEvents =
        auditBefore === null
          ? 0
          : await inBatches(
              (limit) => store.audit.prune(auditBefore, limit),
              (n) => onProgress?.({ authentications, auditEvents: n }),
            );
      const sessions = await pruneSessions();
      const result: RetentionResult = { authentications, auditEvents, sessions, auditBefore, authenticationsBefore };
      // A run someone started is audited (the event is newer than anything deleted); the server's
      // own runs every 10 minutes follow the audited settings and only log what they deleted.
      if (actor.kind !== 'system' && (authentications > 0 || auditEvents > 0)) {
        await audit.admin({ action: 'retention.prune', actor, now: clock.now(), details: { ...result } });
      }
      return result;
    },
  };
}
