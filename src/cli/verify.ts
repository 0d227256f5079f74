/** `countersign verify`: run one authentication as a front door would (the console's Test button). */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { QuietFailure, cliActor, emit, withContext } from './runtime.ts';

export function registerVerify(program: CommandUnknownOpts): void {
  program
    .command('verify')
    .description('authenticate a user with a passcode, through the same policy as every front door')
    .argument('<username>')
    .option('--code <passcode>', 'the code shown by the user\'s token (without it, only trusted IPs, bypasses and cached approvals can approve)')
    .option('--application <name>', 'application whose policy applies', 'default')
    .option('--client-ip <address>', 'client address, for trusted networks and approval caching')
    .addHelpText(
      'after',
      `
Prints the resulting state (approved, denied, challenge) and the internal reason. The exit status
is 0 only when approved. Each attempt counts toward lockout and is recorded in the audit trail.

Examples:
  $ countersign verify alice --code 287082
  $ countersign verify alice --code 287082 --application vpn --client-ip 10.1.2.3`,
    )
    .action(async (username, opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const outcome = await core.authentications.create(
          {
            username,
            application: opts.application,
            ...(opts.clientIp !== undefined ? { clientIp: opts.clientIp } : {}),
            ...(opts.code !== undefined ? { passcode: opts.code } : {}),
          },
          cliActor(),
        );
        const { view, reason } = outcome;
        emit(cmd, { ...view, reason }, () => `${view.state} (${reason})`);
        if (view.state !== 'approved') throw new QuietFailure();
      });
    });
}
