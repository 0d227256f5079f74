/**
 * The `countersign` command line. Each command group lives in its own file; every command calls
 * the core directly through the same composition root as the server (same database, same keys).
 *
 * Exit status: 0 success, 1 failure (one readable line on stderr), 2 usage error.
 * Set COUNTERSIGN_DEBUG=1 to see stack traces.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Command, CommanderError } from '@commander-js/extra-typings';
import pkg from '../../package.json' with { type: 'json' };
import { registerApiKey } from './apikey.ts';
import { registerApp } from './app.ts';
import { registerAudit } from './audit.ts';
import { registerBypass } from './bypass.ts';
import { registerInit } from './init.ts';
import { registerKeys } from './keys.ts';
import { reportError } from './runtime.ts';
import { registerServe } from './serve.ts';
import { registerSettings } from './settings.ts';
import { registerToken } from './token.ts';
import { registerUser } from './user.ts';
import { registerVerify } from './verify.ts';

/**
 * Caches compiled code in a folder owned by the user (~/.cache/countersign, mode 0700): later runs
 * start faster. The heavy modules load after this, through dynamic imports in the commands.
 * Code loaded from the cache runs with this process's rights, so the cache is used only when the
 * home folder and every folder below it on the way to the cache belong to this user and nobody
 * else can write to them (never, e.g., root's process in another user's home after `sudo -E`).
 * NODE_DISABLE_COMPILE_CACHE=1 turns it off; NODE_COMPILE_CACHE=DIR chooses another folder.
 */
function enableCompileCache(): void {
  if (process.env['NODE_DISABLE_COMPILE_CACHE'] || process.env['NODE_COMPILE_CACHE'] || typeof module.enableCompileCache !== 'function') return;
  const uid = process.getuid?.();
  if (uid === undefined) return;
  try {
    const base = process.env['XDG_CACHE_HOME'] || path.join(os.homedir(), '.cache');
    const dir = path.join(base, 'countersign', 'compile-cache');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const chain = [path.dirname(base), base, path.dirname(dir), dir];
    const safe = chain.every((d) => {
      const st = lstatSync(d);
      return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0;
    });
    if (safe) module.enableCompileCache(dir);
  } catch {
    // No writable home: run without the cache.
  }
}

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
  registerKeys(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return 0;
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
