/** `countersign init`: a new installation in a folder, ready for `countersign serve`. */
import { chmod, lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { isCoreError } from '../core/errors.ts';
import { systemRandom } from '../platform/random.ts';
import { API_KEY_NOTICE } from './apikey.ts';
import { cliActor, emit, note } from './runtime.ts';

const CERT_DAYS = 825;
/** Letters and digits without the look-alikes (0/O, 1/l/I): about 5.8 bits each, 115 bits in 20. */
const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
const PASSWORD_LENGTH = 20;

/** A random password for the first console administrator. */
export function randomPassword(length = PASSWORD_LENGTH): string {
  let out = '';
  for (let i = 0; i < length; i++) out += PASSWORD_ALPHABET[systemRandom.int(PASSWORD_ALPHABET.length)];
  return out;
}

/** A self-signed certificate for localhost (SAN localhost, 127.0.0.1, ::1), valid 825 days. */
export async function selfSignedCertificate(now = new Date()): Promise<{ cert: string; key: string }> {
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: new Date(now.getTime() + CERT_DAYS * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

async function exists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    () => false,
  );
}

export function registerInit(program: CommandUnknownOpts): void {
  program
    .command('init')
    .description('create a new installation: config file, key file, TLS certificate, database, the first admin API key and console administrator')
    .option('--dir <folder>', 'folder to create it in (created if missing)', '.')
    .option('--admin-name <name>', 'name of the first administrator API key', 'admin')
    .option('--console-admin <name>', 'username of the first administrator of the console (/admin)', 'admin')
    .addHelpText(
      'after',
      `
Writes, in the folder:
  countersign.yaml         every option with its default, commented
  countersign.key          the key that seals secrets at rest, and the Web Push key pair (mode 0600;
                           back it up separately)
  tls/cert.pem, key.pem    a self-signed certificate for localhost, valid ${CERT_DAYS} days (key mode 0600)
  countersign.db           the SQLite database (unless COUNTERSIGN_DATABASE_URL points elsewhere)
then creates the "default" application, an administrator API key and a console administrator (a
local user with a random password and the console role admin), both printed once. The console
administrator sets up an authenticator app at their first sign-in to /admin.
Existing files are never overwritten.

Examples:
  $ countersign init
  $ countersign init --dir /etc/countersign --admin-name ops --console-admin alice`,
    )
    .action(async (opts, cmd) => {
      const dir = path.resolve(opts.dir);
      const files = {
        config: path.join(dir, 'countersign.yaml'),
        keyFile: path.join(dir, 'countersign.key'),
        cert: path.join(dir, 'tls', 'cert.pem'),
        tlsKey: path.join(dir, 'tls', 'key.pem'),
        database: path.join(dir, 'countersign.db'),
      };
      const guarded = [...Object.values(files), `${files.database}-wal`, `${files.database}-shm`, `${files.database}-journal`];
      const present: string[] = [];
      for (const f of guarded) if (await exists(f)) present.push(f);
      if (present.length > 0) {
        throw new Error(`refusing to overwrite existing files: ${present.join(', ')} (this folder already has an installation; use another --dir)`);
      }

      const [{ loadConfig }, { renderConfigTemplate }, { createKeyFile }] = await Promise.all([
        import('../config/load.ts'),
        import('../config/render.ts'),
        import('../store/keyring.ts'),
      ]);
      await mkdir(dir, { recursive: true });
      const created: string[] = [];
      let token: string;
      let databaseUrl: string;
      let port: number;
      const password = randomPassword();
      try {
        await writeFile(files.config, renderConfigTemplate(), { flag: 'wx', mode: 0o640 });
        created.push(files.config);

        await createKeyFile(files.keyFile);
        created.push(files.keyFile);
        await chmod(files.keyFile, 0o600);

        const tlsDir = path.dirname(files.cert);
        if (!(await exists(tlsDir))) {
          await mkdir(tlsDir, { mode: 0o755 });
          created.push(tlsDir);
        }
        const pems = await selfSignedCertificate();
        await writeFile(files.tlsKey, pems.key, { flag: 'wx', mode: 0o600 });
        created.push(files.tlsKey);
        await chmod(files.tlsKey, 0o600);
        await writeFile(files.cert, pems.cert, { flag: 'wx', mode: 0o644 });
        created.push(files.cert);

        // The same configuration `serve` will read: the new file plus any COUNTERSIGN_* variables.
        const config = await loadConfig({ file: files.config });
        databaseUrl = config.database.url;
        port = config.server.port;
        created.push(files.database, `${files.database}-wal`, `${files.database}-shm`, `${files.database}-journal`);
        const { openContext } = await import('../server.ts');
        const ctx = await openContext(config, { migrate: true });
        try {
          const actor = cliActor();
          try {
            await ctx.core.applications.get('default');
          } catch (e) {
            if (!isCoreError(e, 'application_not_found')) throw e;
            await ctx.core.applications.create({ name: 'default' }, actor);
          }
          token = (await ctx.core.apiKeys.create({ name: opts.adminName, role: 'admin' }, actor)).token;
          await ctx.core.users.create({ username: opts.consoleAdmin, displayName: 'Console administrator' }, actor);
          await ctx.core.users.setPassword(opts.consoleAdmin, password, actor);
          await ctx.core.users.setConsoleRole(opts.consoleAdmin, 'admin', actor);
        } finally {
          await ctx.close();
        }
        // The database holds personal data and sealed secrets: readable by the service account only.
        for (const f of [files.database, `${files.database}-wal`, `${files.database}-shm`]) {
          if (await exists(f)) await chmod(f, 0o600);
        }
      } catch (e) {
        // Leave nothing half-made behind, so init can simply be run again.
        for (const f of created.reverse()) await rm(f, { recursive: true, force: true }).catch(() => undefined);
        throw e;
      }

      const consoleAdmin = { username: opts.consoleAdmin, password, url: `https://localhost:${port}/admin` };
      emit(cmd, { config: files.config, keyFile: files.keyFile, cert: files.cert, apiKey: token, console: consoleAdmin }, () => [
        `Created a Countersign installation in ${dir}:`,
        `  config file:  ${files.config}`,
        `  key file:     ${files.keyFile}   (back it up separately: without it, stored token secrets are lost)`,
        `  certificate:  ${files.cert}, key ${files.tlsKey}   (self-signed for localhost: replace it for production)`,
        `  database:     ${databaseUrl.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@')}`,
        '',
        `Administrator API key "${opts.adminName}":`,
        '',
        `  ${token}`,
        '',
        `Console administrator "${consoleAdmin.username}" (sign in at ${consoleAdmin.url}; an authenticator app is set up at the first sign-in):`,
        '',
        `  password: ${password}`,
        '',
        'Next: start the server with',
        `  countersign serve --config ${files.config}`,
      ]);
      note(API_KEY_NOTICE);
      note('Store the console password now as well: it is shown only once (reset it with "countersign user password").');
    });
}
