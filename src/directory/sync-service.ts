/**
 * Runs directory synchronizations: on demand ("synchronize now") and on each target's schedule.
 *
 * Several servers may share one database. Two leases in the store keep them apart: the scheduler
 * lease (only its holder looks at the schedule) and one lease per directory, held for the whole
 * run by whoever runs it (a scheduled run, an API request on any server, the CLI), renewed while
 * the run lasts. A server that loses a run's lease aborts the run. A run left `running` by a
 * server that died is marked `interrupted` by the next run of that directory, which starts over.
 */
import { hostname } from 'node:os';
import type { Actor } from '../core/api.ts';
import type { SyncRun, SyncState } from '../core/ports.ts';
import { decideSyncRun, runDirectorySync, type ApprovalDecision, type SyncDeps, type SyncTarget } from './sync.ts';

/** This server in run records and leases: host:pid. */
export const nodeName = (): string => `${hostname()}:${process.pid}`;

export const SCHEDULER_LEASE = 'directory-sync:scheduler';
export const directoryLease = (name: string): string => `directory-sync:${name}`;

export interface DirectorySyncStatus {
  readonly directory: string;
  readonly scheduled: boolean;
  readonly intervalMinutes: number;
  readonly fullSyncHours: number;
  readonly removal: SyncTarget['policy']['removal'];
  readonly removalThreshold: number;
  readonly items: readonly { readonly name: string; readonly scope: SyncTarget['items'][number]['scope'] }[];
  readonly incremental: { readonly attribute: string } | null;
  readonly state: SyncState | null;
  /** The server running a synchronization of this directory now, if any. */
  readonly runningOn: string | null;
  readonly lastRun: SyncRun | null;
  /** Runs waiting for an administrator's decision. */
  readonly awaitingApproval: readonly string[];
  /** When the schedule will start the next run (epoch ms), or null when not scheduled. */
  readonly nextRunAt: number | null;
}

export class SyncServiceError extends Error {
  readonly code: 'directory_not_found' | 'run_not_found' | 'sync_running';
  constructor(code: SyncServiceError['code'], message: string) {
    super(message);
    this.name = 'SyncServiceError';
    this.code = code;
  }
}

export interface SyncServiceOptions extends Omit<SyncDeps, 'actor'> {
  readonly targets: readonly SyncTarget[];
  /** The scheduler's actor in audit events. */
  readonly systemActor: Actor;
  /** How often the scheduler looks at the schedule (default 15 s). */
  readonly tickMs?: number;
  /** Lease time-to-live (default 60 s); renewed every third of it. */
  readonly leaseMs?: number;
  readonly onError?: (error: unknown, context: string) => void;
  readonly onRunFinished?: (run: SyncRun) => void;
}

export interface StartedSync {
  readonly runId: string;
  readonly done: Promise<SyncRun>;
}

export interface SyncService {
  readonly targets: readonly SyncTarget[];
  status(directory: string): Promise<DirectorySyncStatus>;
  list(): Promise<DirectorySyncStatus[]>;
  /** Starts a run now; resolves once it is recorded. Throws SyncServiceError('sync_running') when one is running anywhere. */
  start(directory: string, mode: 'full' | 'incremental', actor: Actor, progress?: (done: number, estimate: number | null) => void): Promise<StartedSync>;
  runs(directory: string, limit: number): Promise<SyncRun[]>;
  run(directory: string, runId: string): Promise<SyncRun>;
  decide(directory: string, runId: string, decision: ApprovalDecision, actor: Actor): Promise<SyncRun>;
  /** Looks at the schedule every tick until stop(). */
  startScheduler(): void;
  /** Runs one scheduler turn now (tests, and the first turn at start). */
  tick(): Promise<void>;
  /** Stops the scheduler, aborts running runs and waits for them to be recorded. */
  stop(): Promise<void>;
}

export function createSyncService(opts: SyncServiceOptions): SyncService {
  const { store, clock, node, targets } = opts;
  const tickMs = opts.tickMs ?? 15_000;
  const leaseMs = opts.leaseMs ?? 60_000;
  const running = new Map<string, { controller: AbortController; done: Promise<SyncRun> }>();
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  let stopped = false;

  const targetOf = (name: string): SyncTarget => {
    const t = targets.find((x) => x.name === name);
    if (!t) {
      const names = targets.map((x) => x.name);
      throw new SyncServiceError(
        'directory_not_found',
        `no synchronized directory named "${name}"` + (names.length ? ` (synchronized: ${names.join(', ')})` : ' (none has a "sync" block in the configuration)'),
      );
    }
    return t;
  };

  const report = (e: unknown, context: string): void => opts.onError?.(e, context);

  function modeFor(target: SyncTarget, state: SyncState | undefined, now: number): 'full' | 'incremental' {
    if (!target.changeMarker || !state?.cursor || state.lastFullAt === null) return 'full';
    return now - state.lastFullAt >= target.policy.fullSyncHours * 3_600_000 ? 'full' : 'incremental';
  }

  async function start(directory: string, mode: 'full' | 'incremental', actor: Actor, progress?: (done: number, estimate: number | null) => void, trigger: SyncRun['trigger'] = 'manual'): Promise<StartedSync> {
    const target = targetOf(directory);
    const lease = directoryLease(directory);
    if (running.has(directory) || !(await store.leases.acquire(lease, node, leaseMs, clock.now()))) {
      const holder = await store.leases.holder(lease, clock.now());
      throw new SyncServiceError('sync_running', `a synchronization of ${directory} is already running${holder ? ` on ${holder}` : ''}`);
    }
    const controller = new AbortController();
    const renew = setInterval(() => {
      store.leases.acquire(lease, node, leaseMs, clock.now()).then(
        (held) => {
          if (!held) controller.abort(new Error(`lost the lease on ${directory} to another server`));
        },
        (e: unknown) => report(e, `renewing the lease on ${directory}`),
      );
    }, Math.max(50, Math.floor(leaseMs / 3)));
    renew.unref();
    let started!: (id: string) => void;
    const recorded = new Promise<string>((resolve) => (started = resolve));
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      clearInterval(renew);
      running.delete(directory);
      await store.leases.release(lease, node).catch((e: unknown) => report(e, `releasing the lease on ${directory}`));
    };
    const done = runDirectorySync({ ...opts, actor }, target, {
      mode,
      trigger,
      signal: controller.signal,
      onStart: started,
      beforeFinish: release,
      ...(progress ? { progress } : {}),
    }).finally(release);
    running.set(directory, { controller, done });
    done.then(
      (run) => opts.onRunFinished?.(run),
      (e: unknown) => report(e, `synchronizing ${directory}`),
    );
    // A failure before the run is recorded (the store is down) rejects here.
    const runId = await Promise.race([recorded, done.then((r) => r.id)]);
    return { runId, done };
  }

  async function status(directory: string): Promise<DirectorySyncStatus> {
    const target = targetOf(directory);
    const now = clock.now();
    const [state, last, awaiting, holder] = await Promise.all([
      store.directorySync.getState(directory),
      store.directorySync.listRuns({ directory, limit: 1 }),
      store.directorySync.listRuns({ directory, status: 'awaiting_approval', limit: 100 }),
      store.leases.holder(directoryLease(directory), now),
    ]);
    const p = target.policy;
    return {
      directory,
      scheduled: p.scheduled,
      intervalMinutes: p.intervalMinutes,
      fullSyncHours: p.fullSyncHours,
      removal: p.removal,
      removalThreshold: p.removalThreshold,
      items: target.items.map((i) => ({ name: i.name, scope: i.scope })),
      incremental: target.changeMarker ? { attribute: target.changeMarker.attribute } : null,
      state: state ?? null,
      runningOn: holder ?? null,
      lastRun: last[0] ?? null,
      awaitingApproval: awaiting.map((r) => r.id),
      // Never run: the scheduler starts it at its next turn.
      nextRunAt: p.scheduled ? Math.max(now, state?.lastRunAt == null ? now : state.lastRunAt + p.intervalMinutes * 60_000) : null,
    };
  }

  async function tick(): Promise<void> {
    if (stopped || targets.every((t) => !t.policy.scheduled)) return;
    const now = clock.now();
    if (!(await store.leases.acquire(SCHEDULER_LEASE, node, Math.max(leaseMs, tickMs * 3), now))) return;
    for (const target of targets) {
      if (stopped || !target.policy.scheduled || running.has(target.name)) continue;
      const state = await store.directorySync.getState(target.name);
      if (state?.lastRunAt != null && now - state.lastRunAt < target.policy.intervalMinutes * 60_000) continue;
      try {
        await start(target.name, modeFor(target, state, now), opts.systemActor, undefined, 'schedule');
      } catch (e) {
        // Running elsewhere (a manual run on another server): the schedule waits for it.
        if (!(e instanceof SyncServiceError && e.code === 'sync_running')) report(e, `scheduling ${target.name}`);
      }
    }
  }

  return {
    targets,
    status,
    list: () => Promise.all(targets.map((t) => status(t.name))),
    start: (directory, mode, actor, progress) => start(directory, mode, actor, progress),
    async runs(directory, limit) {
      targetOf(directory);
      return store.directorySync.listRuns({ directory, limit });
    },
    async run(directory, runId) {
      targetOf(directory);
      const run = await store.directorySync.getRun(runId);
      if (!run || run.directory !== directory) throw new SyncServiceError('run_not_found', `no synchronization run ${runId} of directory ${directory}`);
      return run;
    },
    decide: (directory, runId, decision, actor) => decideSyncRun({ ...opts, actor }, targetOf(directory), runId, decision),
    startScheduler() {
      if (timer || stopped) return;
      const turn = (): void => {
        ticking ??= tick()
          .catch((e: unknown) => report(e, 'directory sync scheduler'))
          .finally(() => (ticking = undefined));
      };
      turn();
      timer = setInterval(turn, tickMs);
      timer.unref();
    },
    tick,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await ticking;
      for (const r of running.values()) r.controller.abort(new Error('the server is shutting down'));
      await Promise.allSettled([...running.values()].map((r) => r.done));
      await store.leases.release(SCHEDULER_LEASE, node).catch((e: unknown) => report(e, 'releasing the scheduler lease'));
    },
  };
}
