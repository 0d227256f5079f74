/** `countersign serve`: run the server with the configured front doors. */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { globals, loadCliConfig, note, printJson } from './runtime.ts';

export function registerServe(program: CommandUnknownOpts): void {
  program
    .command('serve')
    .description('run the server (HTTPS API, console, portal) until SIGINT/SIGTERM')
    .addHelpText(
      'after',
      `
Logs are JSON lines on stdout (log.pretty for a terminal). Stops gracefully on SIGINT or SIGTERM:
in-flight requests finish, then the database is closed.

Examples:
  $ countersign serve
  $ countersign serve --config /etc/countersign/countersign.yaml
  $ COUNTERSIGN_SERVER_PORT=9443 countersign serve`,
    )
    .action(async (_opts, cmd) => {
      const config = await loadCliConfig(cmd);
      const { startServer } = await import('../server.ts');
      const server = await startServer(config, {
        onShutdown: () => {
          // Let pending writes flush; exit even if a stray handle would keep the loop alive.
          setTimeout(() => process.exit(), 2000).unref();
        },
      });
      if (globals(cmd).json) printJson({ url: server.url });
      else note(`Countersign is listening on ${server.url}`);
    });
}
