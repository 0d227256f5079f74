/** `countersign directory ...`: LDAP directory sources from the configuration: test, search, import. */
import { Option, type Command, type CommandUnknownOpts } from '@commander-js/extra-typings';
import type { Core } from '../core/api.ts';
import { METHOD_TYPES, type MethodType } from '../core/types.ts';
import type { Config, DirectoryConfig } from '../config/schema.ts';
import type { DirectoryImportReport, DirectorySource, DirectoryUser, SearchScope } from '../directory/index.ts';
import type { DirectoryService, ImportResult } from '../directory/directory-service.ts';
import type { Context } from '../server.ts';
import { registerDirectorySync } from './directory-sync.ts';
import { progressBar } from './progress.ts';
import { QuietFailure, UsageError, cliActor, emit, globals, intArg, loadCliConfig, note, table, withContext } from './runtime.ts';

/** The configured source by name, or a usage error listing the names there are. */
function findSource(config: Config, name: string): DirectoryConfig {
  const found = config.directories.find((d) => d.name === name);
  if (!found) {
    const names = config.directories.map((d) => d.name);
    throw new UsageError(
      `no directory source named "${name}" in the configuration` + (names.length ? ` (configured: ${names.join(', ')})` : ' (none is configured: add one under "directories")'),
    );
  }
  return found;
}

async function sourceOf(d: DirectoryConfig): Promise<DirectorySource> {
  const { sourceFromConfig } = await import('../directory/config.ts');
  return sourceFromConfig(d);
}

interface ScopeOptions {
  ou?: string;
  group?: string;
  name?: string;
}

function scopeOf(opts: ScopeOptions): SearchScope {
  const given = [opts.ou !== undefined, opts.group !== undefined, opts.name !== undefined].filter(Boolean).length;
  if (given !== 1) throw new UsageError('give exactly one of --ou DN, --group DN or --name TEXT');
  if (opts.ou !== undefined) return { kind: 'ou', dn: opts.ou };
  if (opts.group !== undefined) return { kind: 'group', dn: opts.group };
  return { kind: 'name', query: opts.name ?? '' };
}

function withScopeOptions<T extends CommandUnknownOpts>(cmd: T): T {
  cmd.option('--ou <dn>', 'every user in the subtree of this DN (organizational unit)');
  cmd.option('--group <dn>', 'members of this group (nested groups included)');
  cmd.option('--name <text>', 'users whose login or display name contains TEXT');
  return cmd;
}

async function serviceFor(d: DirectoryConfig, ctx?: Context): Promise<DirectoryService> {
  const [{ configuredSources }, { createDirectoryService }] = await Promise.all([import('../directory/config.ts'), import('../directory/directory-service.ts')]);
  const sources = await configuredSources({ directories: [d] } as Config);
  return createDirectoryService({ core: ctx?.core as Core, store: ctx?.store as Context['store'], sources });
}

async function search(d: DirectoryConfig, scope: SearchScope, maxUsers?: number): Promise<{ users: DirectoryUser[]; skipped: { dn: string; message: string }[] }> {
  return (await serviceFor(d)).search(d.name, scope, maxUsers);
}

function importLines(report: DirectoryImportReport, skipped: readonly { dn: string; message: string }[], dryRun: boolean): string[] {
  const lines = [
    `${dryRun ? 'dry run, nothing written: ' : ''}${report.total} found, ${report.created} ${dryRun ? 'to create' : 'created'}, ${report.updated} ${dryRun ? 'to update' : 'updated'}, ${report.unchanged} unchanged, ${report.disabled} ${dryRun ? 'to disable' : 'disabled'}, ${report.errors.length} errors`,
  ];
  for (const e of report.errors) lines.push(`error: ${e.username} (${e.dn}): ${e.code}: ${e.message}`);
  for (const w of report.warnings) lines.push(`warning: ${w.dn}: ${w.message}`);
  for (const s of skipped) lines.push(`skipped: ${s.dn}: ${s.message}`);
  return lines;
}

export function registerDirectory(program: Command): void {
  const directory = program
    .command('directory')
    .description('LDAP directory sources (Active Directory, OpenLDAP): test, search, import and synchronize users')
    .addHelpText(
      'after',
      `
Sources are configured under "directories" in countersign.yaml (see docs/directory.md).

Examples:
  $ countersign directory list
  $ countersign directory test corp-ad
  $ countersign directory search corp-ad --group "CN=VPN Users,OU=Groups,DC=example,DC=com"
  $ countersign directory import corp-ad --ou "OU=Staff,DC=example,DC=com" --dry-run
  $ countersign directory import corp-ad --ou "OU=Staff,DC=example,DC=com" --default-method totp
  $ countersign directory sync corp-ad
  $ countersign directory status
  $ countersign directory approve corp-ad RUN-ID`,
    );
  registerDirectorySync(directory);

  directory
    .command('list')
    .description('list the configured directory sources (never shows passwords)')
    .addHelpText('after', '\nExample:\n  $ countersign directory list --json')
    .action(async (_opts, cmd) => {
      const config = await loadCliConfig(cmd);
      const rows = config.directories.map((d) => ({
        name: d.name,
        preset: d.preset,
        urls: d.urls,
        baseDn: d.baseDn,
        bindDn: d.bindDn,
        startTls: d.startTls,
        caFile: d.caFile ?? null,
        rejectUnauthorized: d.rejectUnauthorized,
      }));
      emit(cmd, rows, () =>
        rows.length === 0
          ? 'no directory sources configured (add them under "directories" in the configuration)'
          : table(rows, [
              ['NAME', (r) => r.name],
              ['PRESET', (r) => r.preset],
              ['URLS', (r) => r.urls.join(' ')],
              ['BASE DN', (r) => r.baseDn],
              ['TLS', (r) => (r.urls.every((u) => u.startsWith('ldaps:')) ? 'ldaps' : r.startTls ? 'starttls' : 'NONE')],
            ]),
      );
    });

  directory
    .command('test')
    .description('connect, run StartTLS, bind as the service account and read the base DN, on each URL in order; exit 1 when none works')
    .argument('<name>', 'directory source name')
    .addHelpText('after', '\nExamples:\n  $ countersign directory test corp-ad\n  $ countersign directory test corp-ad --json')
    .action(async (name, _opts, cmd) => {
      const config = await loadCliConfig(cmd);
      const { testConnection } = await import('../directory/index.ts');
      const report = await testConnection(await sourceOf(findSource(config, name)));
      emit(cmd, report, () => [
        ...report.attempts.map((a) =>
          a.ok ? `ok      ${a.url}` : `FAILED  ${a.url}  stage: ${a.stage ?? '-'}  code: ${a.code ?? '-'}  ${a.message ?? ''}`.trimEnd(),
        ),
        report.ok ? `directory ${name}: ok (${report.url ?? ''})` : `directory ${name}: FAILED`,
      ]);
      if (!report.ok) throw new QuietFailure();
    });

  withScopeOptions(
    directory
      .command('search')
      .description('show the directory users an import would take (nothing is written)')
      .argument('<name>', 'directory source name'),
  )
    .option('--limit <n>', 'stop after N users', intArg(1, 100_000))
    .addHelpText(
      'after',
      `
Exactly one of --ou, --group or --name.

Examples:
  $ countersign directory search corp-ad --ou "OU=Staff,DC=example,DC=com"
  $ countersign directory search corp-ad --group "CN=VPN Users,OU=Groups,DC=example,DC=com" --json
  $ countersign directory search ldap --name smith --limit 20`,
    )
    .action(async (name, opts, cmd) => {
      const o = opts as ScopeOptions & { limit?: number };
      const scope = scopeOf(o);
      const config = await loadCliConfig(cmd);
      const found = await search(findSource(config, name), scope, o.limit);
      const { userRow } = await import('../directory/directory-service.ts');
      const rows = found.users.map(userRow);
      emit(cmd, { users: rows, skipped: found.skipped }, () => [
        rows.length === 0
          ? 'no users found'
          : table(rows, [
              ['USERNAME', (r) => r.username],
              ['DISPLAY NAME', (r) => r.displayName],
              ['EMAIL', (r) => r.email],
              ['DISABLED', (r) => (r.disabled ? 'yes' : '')],
              ['DN', (r) => r.dn],
            ]),
        ...found.skipped.map((s) => `skipped: ${s.dn}: ${s.message}`),
      ]);
    });

  withScopeOptions(
    directory
      .command('import')
      .description('create or update Countersign users from directory accounts (matched by their stable directory id)')
      .argument('<name>', 'directory source name'),
  )
    .option('--language <tag>', 'language of new users whose directory entry has none (en, de, ...)')
    .addOption(new Option('--default-method <method>', 'default second factor of new users').choices(METHOD_TYPES))
    .option('--dry-run', 'report what would change, write nothing')
    .addHelpText(
      'after',
      `
Exactly one of --ou, --group or --name. Existing users are found by their directory id, never by
name: a local user with the same name is reported as source_conflict and left alone. A disabled
directory account disables the user; re-enabling is up to an administrator. Exit status 1 when any
user failed.

Examples:
  $ countersign directory import corp-ad --ou "OU=Staff,DC=example,DC=com" --dry-run
  $ countersign directory import corp-ad --group "CN=VPN Users,OU=Groups,DC=example,DC=com" --language en --default-method totp
  $ countersign directory import ldap --ou ou=people,dc=example,dc=com --json`,
    )
    .action(async (name, opts, cmd) => {
      const o = opts as ScopeOptions & { language?: string; defaultMethod?: MethodType; dryRun?: boolean };
      const scope = scopeOf(o);
      const dryRun = o.dryRun === true;
      await withContext(cmd, async (ctx, config) => {
        const d = findSource(config, name);
        const service = await serviceFor(d, ctx);
        const bar = await progressBar(dryRun ? 'checking' : 'importing', !globals(cmd).json);
        let report: ImportResult;
        try {
          report = await service.import(
            d.name,
            scope,
            {
              dryRun,
              defaults: { ...(o.language !== undefined ? { language: o.language } : {}), ...(o.defaultMethod !== undefined ? { defaultMethod: o.defaultMethod } : {}) },
            },
            cliActor(),
            bar.update,
          );
        } finally {
          bar.stop();
        }
        emit(cmd, report, () => importLines(report, report.skipped, dryRun));
        if (report.errors.length > 0) {
          if (!globals(cmd).json) note(`${report.errors.length} users were not imported`);
          throw new QuietFailure();
        }
      });
    });
}
