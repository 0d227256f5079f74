/**
 * Group commit. Writes on the authentication hot path (consume a step, count a failure, record
 * the authentication and its audit event) are queued and run together, in arrival order, in one
 * transaction per turn of the event loop. Each caller's promise settles once its write has been
 * committed, so nothing is acknowledged before it is durable; many concurrent authentications
 * share one commit instead of paying one each.
 *
 * Atomic operations keep their meaning: each is still one conditional statement, now evaluated
 * inside a transaction that holds the write lock (SQLite BEGIN IMMEDIATE) or the row lock
 * (PostgreSQL), and its result is what the statement reported.
 *
 * If the shared transaction fails (one bad write, a deadlock between nodes), every write of the
 * batch is retried alone, so one failure never fails the others.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.ts';

type Executor = Kysely<Database> | Transaction<Database>;

interface Pending {
  readonly write: (db: Executor) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export interface WriteBatcher {
  run<T>(write: (db: Executor) => Promise<T>): Promise<T>;
  /** Settles once every write queued so far has been committed or has failed (before closing). */
  drain(): Promise<void>;
}

const MAX_BATCH = 512;

export function createWriteBatcher(db: Kysely<Database>): WriteBatcher {
  let queue: Pending[] = [];
  let scheduled = false;
  let running = false;
  const idle: (() => void)[] = [];

  function schedule(): void {
    if (scheduled || running || queue.length === 0) return;
    scheduled = true;
    setImmediate(() => void flush());
  }

  async function alone(p: Pending): Promise<void> {
    try {
      p.resolve(await p.write(db));
    } catch (e) {
      p.reject(e);
    }
  }

  async function flush(): Promise<void> {
    scheduled = false;
    running = true;
    const batch = queue.length > MAX_BATCH ? queue.splice(0, MAX_BATCH) : queue;
    if (batch === queue) queue = [];
    try {
      if (batch.length === 1) {
        await alone(batch[0] as Pending);
        return;
      }
      let results: unknown[];
      try {
        results = await db.transaction().execute(async (trx) => {
          const out: unknown[] = [];
          for (const p of batch) out.push(await p.write(trx));
          return out;
        });
      } catch {
        for (const p of batch) await alone(p);
        return;
      }
      batch.forEach((p, i) => p.resolve(results[i]));
    } finally {
      running = false;
      schedule();
      if (queue.length === 0) for (const wake of idle.splice(0)) wake();
    }
  }

  return {
    run<T>(write: (db: Executor) => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ write, resolve: resolve as (v: unknown) => void, reject });
        schedule();
      });
    },
    drain(): Promise<void> {
      if (queue.length === 0 && !running) return Promise.resolve();
      return new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}
