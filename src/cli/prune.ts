/** `countersign prune`: deletes what the retention settings no longer keep, now. */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { estimatedProgressBar } from './progress.ts';
import { cliActor, emit, globals, time, withContext } from './runtime.ts';

export function registerPrune(program: CommandUnknownOpts): void {
  program
    .command('prune')
    .description('delete records older than the retention settings (the server does it every 10 minutes)')
    .addHelpText(
      'after',
      `
Deletes audit events and authentication records older than the retention settings, and
ended sign-in sessions. The settings (countersign settings show):
  retention.auditDays           audit events, in days; 0 keeps them forever (default 365)
  retention.authenticationDays  authentication records, in days (default 30)

Examples:
  $ countersign settings set retention.auditDays 730
  $ countersign prune
  $ countersign prune --json`,
    )
    .action(async (_opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const bar = await estimatedProgressBar('Deleting old records', !globals(cmd).json);
        let result;
        try {
          result = await core.retention.prune(cliActor(), (done) => bar.update(done.authentications + done.auditEvents, null));
        } finally {
          bar.stop();
        }
        emit(cmd, result, () => [
          `Deleted ${result.auditEvents} audit events ${result.auditBefore === null ? '(audit events are kept forever: retention.auditDays is 0)' : `from before ${time(result.auditBefore)}`},`,
          `${result.authentications} authentication records from before ${time(result.authenticationsBefore)}, and ${result.sessions} ended sign-in sessions.`,
        ]);
      });
    });
}
