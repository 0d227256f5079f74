/** `countersign directory sync|status|runs|run|approve|reject`: scheduled synchronization of directory sources. */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import type { SyncRun } from '../core/ports.ts';
import type { SyncService } from '../directory/sync-service.ts';
import { estimatedProgressBar } from './progress.ts';
import { QuietFailure, UsageError, cliActor, emit, globals, intArg, note, record, table, time, withContext } from './runtime.ts';

async function withService<T>(cmd: CommandUnknownOpts, fn: (service: SyncService) => Promise<T>): Promise<T> {
  return withContext(cmd, async (ctx, config) => {
    const { openDirectorySync } = await import('../server.ts');
    const service = await openDirectorySync(config, ctx, { systemActor: cliActor() });
    try {
      return await fn(service);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'directory_not_found' || code === 'run_not_found') throw new UsageError((e as Error).message);
      throw e;
    }
  });
}

const duration = (run: SyncRun): string => (run.finishedAt === null ? 'running' : `${((run.finishedAt - run.startedAt) / 1000).toFixed(1)} s`);

/** The run's summary as lines, with what to do next. */
function runLines(run: SyncRun): string[] {
  const c = run.counts;
  const lines = [
    record([
      ['run', run.id],
      ['directory', run.directory],
      ['status', run.status],
      ['mode', run.mode],
      ['trigger', run.trigger],
      ['server', run.node],
      ['started', time(run.startedAt)],
      ['duration', duration(run)],
      ['entries', c.seen],
      ['added', c.added],
      ['updated', c.updated],
      ['unchanged', c.unchanged],
      ['disabled', c.disabled],
      ['enabled', c.enabled],
      ['removed', c.removed],
      ['errors', c.errors],
      ...(run.failure ? ([['failure', run.failure]] as const) : []),
      ...(run.decidedBy ? ([['decided by', `${run.decidedBy} at ${time(run.decidedAt)}`]] as const) : []),
    ]),
  ];
  for (const e of run.errors) lines.push(`error: ${e.code}: ${e.username ?? '-'}: ${e.message}${e.dn ? ` (${e.dn})` : ''}`);
  if (run.errors.length < c.errors) lines.push(`... and ${c.errors - run.errors.length} more errors`);
  if (run.status === 'awaiting_approval') {
    lines.push('', `${run.pending.length} changes wait for approval (more than the threshold):`);
    lines.push(
      table(run.pending, [
        ['ACTION', (p) => p.action],
        ['USERNAME', (p) => p.username],
        ['REASON', (p) => (p.reason === 'left_scope' ? 'no longer in any sync item' : 'disabled in the directory')],
      ]),
    );
    lines.push('', `approve: countersign directory approve ${run.directory} ${run.id}`, `reject:  countersign directory reject ${run.directory} ${run.id}`);
  }
  return lines;
}

export function registerDirectorySync(directory: CommandUnknownOpts): void {
  directory
    .command('sync')
    .description('synchronize a directory source now (its "sync" items), with a progress bar; exit 1 when the run fails, 3 when it waits for approval')
    .argument('<name>', 'directory source name')
    .option('--incremental', 'read only entries changed since the last run (default: a full run, which also finds removed users)')
    .addHelpText(
      'after',
      `
Examples:
  $ countersign directory sync corp-ad
  $ countersign directory sync corp-ad --incremental --json

A run started here holds the directory's lease: a server synchronizing the same directory makes
this command fail with "already running on <server>".`,
    )
    .action(async (name, opts, cmd) => {
      await withService(cmd, async (service) => {
        const bar = await estimatedProgressBar(`synchronizing ${name}`, !globals(cmd).json);
        let run: SyncRun;
        try {
          const started = await service.start(name, opts.incremental ? 'incremental' : 'full', cliActor(), bar.update);
          run = await started.done;
        } catch (e) {
          if ((e as { code?: string }).code === 'sync_running') throw new UsageError((e as Error).message);
          throw e;
        } finally {
          bar.stop();
        }
        emit(cmd, run, () => runLines(run));
        if (run.status === 'failed') throw new QuietFailure();
        if (run.status === 'awaiting_approval') process.exitCode = 3;
      });
    });

  directory
    .command('status')
    .description('synchronization status of each synchronized source: schedule, last run, runs waiting for approval')
    .argument('[name]', 'directory source name (default: all)')
    .addHelpText('after', '\nExamples:\n  $ countersign directory status\n  $ countersign directory status corp-ad --json')
    .action(async (name, _opts, cmd) => {
      await withService(cmd, async (service) => {
        const all = name === undefined ? await service.list() : [await service.status(name)];
        emit(cmd, name === undefined ? all : all[0], () =>
          all.length === 0
            ? 'no directory source has a "sync" block in the configuration'
            : table(all, [
                ['DIRECTORY', (s) => s.directory],
                ['SCHEDULE', (s) => (s.scheduled ? `every ${s.intervalMinutes} min` : 'on demand')],
                ['LAST RUN', (s) => (s.lastRun ? `${time(s.lastRun.startedAt)} ${s.lastRun.status}` : 'never')],
                ['ADDED/UPDATED/DISABLED/REMOVED/ERRORS', (s) => (s.lastRun ? ['added', 'updated', 'disabled', 'removed', 'errors'].map((k) => s.lastRun!.counts[k as 'added']).join('/') : '-')],
                ['RUNNING ON', (s) => s.runningOn],
                ['AWAITING APPROVAL', (s) => s.awaitingApproval.join(' ')],
                ['NEXT RUN', (s) => time(s.nextRunAt)],
              ]),
        );
      });
    });

  directory
    .command('runs')
    .description('recent synchronization runs of a source, newest first')
    .argument('<name>', 'directory source name')
    .option('--limit <n>', 'how many runs (1-100)', intArg(1, 100), 20)
    .addHelpText('after', '\nExample:\n  $ countersign directory runs corp-ad --limit 5')
    .action(async (name, opts, cmd) => {
      await withService(cmd, async (service) => {
        const runs = await service.runs(name, opts.limit);
        emit(cmd, runs, () =>
          runs.length === 0
            ? `no synchronization runs of ${name} yet`
            : table(runs, [
                ['RUN', (r) => r.id],
                ['STARTED', (r) => time(r.startedAt)],
                ['MODE', (r) => r.mode],
                ['STATUS', (r) => r.status],
                ['ADDED', (r) => r.counts.added],
                ['UPDATED', (r) => r.counts.updated],
                ['DISABLED', (r) => r.counts.disabled],
                ['REMOVED', (r) => r.counts.removed],
                ['ERRORS', (r) => r.counts.errors],
                ['PENDING', (r) => (r.status === 'awaiting_approval' ? r.pending.length : '')],
                ['DURATION', (r) => duration(r)],
              ]),
        );
      });
    });

  directory
    .command('run')
    .description('one synchronization run: its summary, errors, and the changes waiting for approval')
    .argument('<name>', 'directory source name')
    .argument('<run-id>', 'run id (from "directory runs")')
    .action(async (name, runId, _opts, cmd) => {
      await withService(cmd, async (service) => {
        const run = await service.run(name, runId);
        emit(cmd, run, () => runLines(run));
      });
    });

  for (const decision of ['approve', 'reject'] as const) {
    directory
      .command(decision)
      .description(
        decision === 'approve'
          ? 'apply the disables and removals a run is holding back (each user is checked again first)'
          : 'refuse the disables and removals a run is holding back; nobody is changed',
      )
      .argument('<name>', 'directory source name')
      .argument('<run-id>', 'run id (from "directory status" or "directory runs")')
      .addHelpText('after', `\nExample:\n  $ countersign directory ${decision} corp-ad 01JD8X2M4Q7R9T3V5W6Y8Z0A1B`)
      .action(async (name, runId, _opts, cmd) => {
        await withService(cmd, async (service) => {
          let run: SyncRun;
          try {
            run = await service.decide(name, runId, decision, cliActor());
          } catch (e) {
            if ((e as { code?: string }).code === 'not_awaiting_approval') throw new UsageError((e as Error).message);
            throw e;
          }
          if (decision === 'approve') note(`approved: ${run.counts.disabled} disabled, ${run.counts.removed} removed`);
          emit(cmd, run, () => runLines(run));
        });
      });
  }
}
