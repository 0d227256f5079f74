/** `countersign bypass ...`: one-time bypasses for users who lost their token. */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import type { BypassView } from '../core/api.ts';
import { cliActor, emit, intArg, record, time, withContext } from './runtime.ts';

function bypassRecord(b: BypassView): string {
  return record([
    ['username', b.username],
    ['reason', b.reason],
    ['issued by', b.createdBy],
    ['issued', time(b.createdAt)],
    ['expires', time(b.expiresAt)],
    ['used', time(b.usedAt)],
  ]);
}

export function registerBypass(program: CommandUnknownOpts): void {
  const bypass = program.command('bypass').description("let a user sign in once without a second factor").addHelpText(
    'after',
    `
Examples:
  $ countersign bypass issue alice --seconds 600 --reason "left phone at home, ticket 4711"
  $ countersign bypass show alice
  $ countersign bypass cancel alice`,
  );

  bypass
    .command('issue')
    .description('issue a one-time bypass (replaces any unused one)')
    .argument('<username>')
    .option('--seconds <n>', 'how long it stays valid (default: the company setting bypass.defaultSeconds)', intArg(1, 31_536_000))
    .requiredOption('--reason <text>', 'why (recorded in the audit trail)')
    .addHelpText('after', '\nExample:\n  $ countersign bypass issue alice --seconds 300 --reason "ticket 4711"')
    .action(async (username, opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const b = await core.bypass.issue(username, { reason: opts.reason, ...(opts.seconds !== undefined ? { seconds: opts.seconds } : {}) }, cliActor());
        emit(cmd, b, () => `issued a bypass for ${b.username}, valid until ${time(b.expiresAt)}`);
      });
    });

  bypass
    .command('show')
    .description("show the user's active bypass, if any")
    .argument('<username>')
    .addHelpText('after', '\nExample:\n  $ countersign bypass show alice')
    .action(async (username, _opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const b = await core.bypass.get(username);
        emit(cmd, b, () => (b ? bypassRecord(b) : `${username} has no active bypass`));
      });
    });

  bypass
    .command('cancel')
    .description("cancel the user's unused bypass")
    .argument('<username>')
    .addHelpText('after', '\nExample:\n  $ countersign bypass cancel alice')
    .action(async (username, _opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        await core.bypass.cancel(username, cliActor());
        emit(cmd, { cancelled: username }, () => `cancelled the bypass of ${username}`);
      });
    });
}
