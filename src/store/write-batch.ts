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
 * On SQLite, a batch made only of prepared queries (`runPrepared`) runs on the connection
 * directly, BEGIN IMMEDIATE to COMMIT in one synchronous stretch (see SqliteLane in prepared.ts):
 * nothing else can run on the connection in between, and the batch costs no promise per
 * statement. While a Kysely transaction is open on the connection, batches go through Kysely and
 * wait for it.
 *
 * If the shared transaction fails (one bad write, a deadlock between nodes), every write of the
 * batch is retried alone, so one failure never fails the others.
 */
import type { Kysely, QueryResult, Transaction } from 'kysely';
import type { PreparedQuery, SqliteLane } from './prepared.ts';
import type { Database } from './schema.ts';

type Executor = Kysely<Database> | Transaction<Database>;

/**
 * Prepared queries that run in order inside one batch: `next` picks the queries that follow from
 * the first one's result (write the authentication only if its code was consumed), so a decision
 * and what it depends on share one commit.
 */
export interface PreparedChain {
  readonly query: PreparedQuery<never, unknown>;
  readonly args: unknown;
  readonly next?: (result: QueryResult<unknown>) => readonly PreparedChain[];
}

interface Pending {
  readonly write: (db: Executor) => Promise<unknown>;
  /** Prepared queries and their arguments: can run on the SQLite lane. */
  readonly prepared?: PreparedChain;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export interface WriteBatcher {
  run<T>(write: (db: Executor) => Promise<T>): Promise<T>;
  /** One prepared query, with its arguments (on SQLite, run on the connection directly). */
  runPrepared<A, R>(query: PreparedQuery<A, R>, args: A): Promise<QueryResult<R>>;
  /** A chain of prepared queries in one transaction; resolves with the first one's result. */
  runChain(chain: PreparedChain): Promise<QueryResult<unknown>>;
  /** Settles once every write queued so far has been committed or has failed (before closing). */
  drain(): Promise<void>;
}

const MAX_BATCH = 512;

export function createWriteBatcher(db: Kysely<Database>, lane: SqliteLane | null = null): WriteBatcher {
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
      // A chain of several queries stays one transaction when it runs alone.
      p.resolve(p.prepared?.next ? await db.transaction().execute((trx) => p.write(trx)) : await p.write(db));
    } catch (e) {
      p.reject(e);
    }
  }

  function chainOn(l: SqliteLane, chain: PreparedChain): QueryResult<unknown> {
    const result = chain.query.executeOn(l, chain.args as never);
    for (const next of chain.next?.(result) ?? []) chainOn(l, next);
    return result;
  }

  async function chainThrough(w: Executor, chain: PreparedChain): Promise<QueryResult<unknown>> {
    const result = await chain.query.execute(w, chain.args as never);
    for (const next of chain.next?.(result) ?? []) await chainThrough(w, next);
    return result;
  }

  function runOn(l: SqliteLane, p: Pending): unknown {
    return chainOn(l, p.prepared as PreparedChain);
  }

  /** The batch on the SQLite connection, synchronously; false when it must go through Kysely. */
  function flushOnLane(batch: Pending[]): boolean {
    if (lane === null || lane.inTransaction || !batch.every((p) => p.prepared !== undefined)) return false;
    if (batch.length === 1 && (batch[0] as Pending).prepared?.next === undefined) {
      const p = batch[0] as Pending;
      try {
        p.resolve(runOn(lane, p));
      } catch (e) {
        p.reject(e);
      }
      return true;
    }
    let results: unknown[];
    try {
      lane.prepare('begin immediate').run([]);
      try {
        results = batch.map((p) => runOn(lane, p));
        lane.prepare('commit').run([]);
      } catch (e) {
        if (lane.inTransaction) lane.prepare('rollback').run([]);
        throw e;
      }
    } catch {
      for (const p of batch) {
        try {
          p.resolve(alonePrepared(lane, p));
        } catch (e) {
          p.reject(e);
        }
      }
      return true;
    }
    batch.forEach((p, i) => p.resolve(results[i]));
    return true;
  }

  /** One pending write on the lane by itself; a chain of several queries in its own transaction. */
  function alonePrepared(l: SqliteLane, p: Pending): unknown {
    if (p.prepared?.next === undefined) return runOn(l, p);
    l.prepare('begin immediate').run([]);
    try {
      const result = runOn(l, p);
      l.prepare('commit').run([]);
      return result;
    } catch (e) {
      if (l.inTransaction) l.prepare('rollback').run([]);
      throw e;
    }
  }

  async function flush(): Promise<void> {
    scheduled = false;
    running = true;
    const batch = queue.length > MAX_BATCH ? queue.splice(0, MAX_BATCH) : queue;
    if (batch === queue) queue = [];
    try {
      if (flushOnLane(batch)) return;
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

  function enqueue<T>(write: (db: Executor) => Promise<T>, prepared?: Pending['prepared']): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      queue.push({ write, ...(prepared ? { prepared } : {}), resolve: resolve as (v: unknown) => void, reject });
      schedule();
    });
  }

  return {
    run: (write) => enqueue(write),
    runPrepared: (query, args) => enqueue((w) => query.execute(w, args), { query: query as PreparedQuery<never, unknown>, args }),
    runChain: (chain) => enqueue((w) => chainThrough(w, chain), chain),
    drain(): Promise<void> {
      if (queue.length === 0 && !running) return Promise.resolve();
      return new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}
