/**
 * The atomic operations raced by several OS processes at once (plus many calls in flight in each),
 * on one SQLite file and on PostgreSQL: exactly one consume wins; N failures count as N.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/core/ports.ts';
import { openStore } from '../../src/store/index.ts';
import { createKeyFile, loadKeyring } from '../../src/store/keyring.ts';
import type { WorkerOp } from './concurrency-worker.ts';
import { probePostgres, tempDatabaseHooks } from './pg.ts';
import { tempDirHooks } from './temp-dir.ts';
import { Worker } from './worker-client.ts';

const PROCESSES = 3;
const CALLS_PER_PROCESS = 20;
const ROUNDS = 5;
const T0 = Date.UTC(2026, 0, 1);

const dir = tempDirHooks('countersign-race-');
const keyFile = (): string => dir.path('keys.json');
beforeAll(() => createKeyFile(keyFile()));
const pg = await probePostgres();

function describeRaces(name: string, url: () => string): void {
  describe(`concurrent processes: ${name}`, () => {
    let store: Store;
    let workers: Worker[] = [];
    let nextId = 0;

    beforeAll(async () => {
      store = await openStore({ url: url(), keyring: await loadKeyring(keyFile()) });
      workers = Array.from({ length: PROCESSES }, () => new Worker(url(), keyFile()));
      await Promise.all(workers.map((w) => w.ready));
    }, 60_000);
    afterAll(async () => {
      await Promise.all(workers.map((w) => w.exit()));
      await store?.close();
    });

    /** Every worker fires its calls at the same instant; returns all results, worker by worker. */
    async function race(task: WorkerOp) {
      const startAt = Date.now() + 100;
      const id = ++nextId;
      const perWorker = await Promise.all(workers.map((w, i) => w.run({ kind: 'run', id, task, calls: CALLS_PER_PROCESS, startAt, nowBase: T0 + i * 1000 })));
      return perWorker.flat();
    }

    /** A new user with a TOTP token. */
    async function userWithToken() {
      const user = await store.users.create({ username: `race-${randomUUID()}` }, randomUUID(), T0);
      const config = { algorithm: 'SHA1', digits: 6, period: 30, serial: null, origin: 'software' } as const;
      const method = await store.methods.add({ userId: user.id, type: 'totp', label: 'x', secret: new Uint8Array(20), config }, randomUUID(), T0);
      return { user, method };
    }

    it('consumeStep: exactly one caller wins each step', async () => {
      const { method } = await userWithToken();
      for (let round = 1; round <= ROUNDS; round++) {
        const results = await race({ op: 'consumeStep', methodId: method.id, step: round * 10 });
        expect(results).toHaveLength(PROCESSES * CALLS_PER_PROCESS);
        expect(results.filter((r) => r === true)).toHaveLength(1);
        expect((await store.methods.get(method.id))?.lastStep).toBe(round * 10);
      }
      // A lower step than the last one consumed loses everywhere.
      expect((await race({ op: 'consumeStep', methodId: method.id, step: 5 })).filter((r) => r === true)).toHaveLength(0);
    });

    it('createIfConsumed: exactly one caller consumes each step, and only its record and event are written', async () => {
      const { user, method } = await userWithToken();
      for (let round = 1; round <= ROUNDS; round++) {
        const results = await race({ op: 'createIfConsumed', methodId: method.id, userId: user.id, step: round * 10 });
        expect(results.filter((r) => r === true)).toHaveLength(1);
      }
      const events = await store.audit.query({ username: 'racer', limit: 10_000 });
      const mine = events.filter((e) => e.userId === user.id);
      expect(mine).toHaveLength(ROUNDS);
      for (const e of mine) expect((await store.authentications.get(e.authenticationId as string))?.methodId).toBe(method.id);
    });

    it('recordFailure: N concurrent failures count as N and lock once', async () => {
      const total = PROCESSES * CALLS_PER_PROCESS;
      const threshold = Math.floor(total / 2);
      const user = await store.users.create({ username: `race-${randomUUID()}` }, randomUUID(), T0);
      const results = (await race({ op: 'recordFailure', userId: user.id, threshold })) as Array<{ failedCount: number; lockedAt: number | null }>;
      expect(results.map((r) => r.failedCount).sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      const lockTimes = new Set(results.filter((r) => r.failedCount >= threshold).map((r) => r.lockedAt));
      expect(lockTimes.size).toBe(1);
      expect([...lockTimes][0]).not.toBeNull();
      expect(results.filter((r) => r.failedCount < threshold).every((r) => r.lockedAt === null)).toBe(true);
      expect(await store.users.getById(user.id)).toMatchObject({ failedCount: total, lockedAt: [...lockTimes][0] });

      // A second round keeps counting from where the first ended.
      await race({ op: 'recordFailure', userId: user.id, threshold });
      expect((await store.users.getById(user.id))?.failedCount).toBe(2 * total);
    });

    it('bypasses.consume: exactly one caller uses each bypass', async () => {
      const user = await store.users.create({ username: `race-${randomUUID()}` }, randomUUID(), T0);
      for (let round = 1; round <= ROUNDS; round++) {
        await store.bypasses.issue({ id: randomUUID(), userId: user.id, reason: `round ${round}`, createdBy: 'cli:test', createdAt: T0, expiresAt: T0 + 3_600_000 });
        const results = await race({ op: 'consumeBypass', userId: user.id });
        expect(results.filter((r) => r === true)).toHaveLength(1);
      }
      expect((await store.bypasses.history(user.id, 100)).filter((b) => b.usedAt !== null)).toHaveLength(ROUNDS);
    });
  });
}

describeRaces('sqlite file', () => `sqlite:${dir.path('race.db')}`);
if (pg.ok) {
  describe('postgres', () => {
    const db = tempDatabaseHooks();
    describeRaces('postgres', () => `${db.url()}?pool=8`);
  });
} else {
  describe.skip(`concurrent processes: postgres (${pg.reason})`, () => {
    it('needs PostgreSQL', () => undefined);
  });
}
