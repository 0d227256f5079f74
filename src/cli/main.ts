/**
 * The `countersign` command line. Each command group lives in its own file; every command calls
 * the core directly through the same composition root as the server (same database, same keys).
 *
 * Exit status: 0 success, 1 failure (one readable line on stderr), 2 usage error.
 * Set COUNTERSIGN_DEBUG=1 to see stack traces.
 */
import { Command, CommanderError } from '@commander-js/extra-typings';
import pkg from '../../package.json' with { type: 'json' };
import { registerApiKey } from './apikey.ts';
import { enableCompileCache } from './compile-cache.ts';
import { registerApp } from './app.ts';
import { registerAudit } from './audit.ts';
import { registerBypass } from './bypass.ts';
import { registerDirectory } from './directory.ts';
import { registerGateway } from './gateway.ts';
import { registerInit } from './init.ts';
import { registerKeys } from './keys.ts';
import { reportError } from './runtime.ts';
import { registerPrune } from './prune.ts';
import { registerServe } from './serve.ts';
import { registerSettings } from './settings.ts';
import { registerToken } from './token.ts';
import { registerUser } from './user.ts';
import { registerVerify } from './verify.ts';

export function buildProgram(): Command {
  const program = new Command('countersign')
    .description('Countersign: self-hosted multifactor authentication server')
    .version(pkg.version, '-V, --version')
    .option('--config <file>', 'configuration file (default: ./countersign.yaml, or env COUNTERSIGN_CONFIG)')
    .option('--json', 'machine-readable JSON output on stdout')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .addHelpText(
      'after',
      `
Examples:
  $ countersign init                       # config, key file, certificate, database, admin API key
  $ countersign serve
  $ countersign user add alice --email alice@example.com
  $ countersign token add alice            # prints the secret and a QR code to scan
  $ countersign verify alice --code 123456
  $ countersign audit list --csv > audit.csv

Exit status: 0 success, 1 failure, 2 usage error. COUNTERSIGN_DEBUG=1 prints stack traces.`,
    );
  registerInit(program);
  registerServe(program);
  registerUser(program);
  registerToken(program);
  registerVerify(program);
  registerBypass(program);
  registerApiKey(program);
  registerApp(program);
  registerSettings(program);
  registerAudit(program);
  registerPrune(program);
  registerDirectory(program);
  registerGateway(program);
  registerKeys(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    // A command may end with a status of its own (3: a synchronization waits for approval).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed help, the version, or the usage error.
      return e.exitCode === 0 ? 0 : 2;
    }
    return reportError(e);
  }
}

enableCompileCache();
process.exitCode = await main(process.argv);
