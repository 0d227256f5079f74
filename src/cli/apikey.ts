/** `countersign apikey ...`: API keys of service accounts (REST API, console). */
import { Option, type CommandUnknownOpts } from '@commander-js/extra-typings';
import type { ApiKeyView } from '../core/api.ts';
import { ROLES } from '../core/types.ts';
import { cliActor, emit, note, record, table, time, withContext } from './runtime.ts';

export const API_KEY_NOTICE = 'Store this key now (e.g. in a password manager): it is shown only once and cannot be recovered.';

export function registerApiKey(program: CommandUnknownOpts): void {
  const apikey = program.command('apikey').description('manage API keys (bearer tokens for the REST API)').addHelpText(
    'after',
    `
Roles: admin (everything), helpdesk (users, tokens, bypasses), sdk (authentications only).

Examples:
  $ countersign apikey create --name vpn-portal --role sdk
  $ countersign apikey list
  $ countersign apikey revoke 01HZX3K7Q8`,
  );

  apikey
    .command('create')
    .description('create an API key; the key is printed once')
    .requiredOption('--name <name>', 'who uses it, e.g. the integrating application')
    .addOption(new Option('--role <role>', 'what it may do').choices(ROLES).makeOptionMandatory())
    .addHelpText('after', '\nExample:\n  $ countersign apikey create --name intranet --role sdk')
    .action(async (opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const created = await core.apiKeys.create({ name: opts.name, role: opts.role }, cliActor());
        emit(cmd, created, () => [
          record([
            ['id', created.key.id],
            ['name', created.key.name],
            ['role', created.key.role],
          ]),
          '',
          `API key: ${created.token}`,
        ]);
        note(API_KEY_NOTICE);
      });
    });

  apikey
    .command('list')
    .description('list API keys (never the keys themselves)')
    .addHelpText('after', '\nExample:\n  $ countersign apikey list --json')
    .action(async (_opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const keys = await core.apiKeys.list();
        emit(cmd, keys, () =>
          keys.length === 0
            ? 'no API keys'
            : table<ApiKeyView>(keys, [
                ['ID', (k) => k.id],
                ['NAME', (k) => k.name],
                ['ROLE', (k) => k.role],
                ['PREFIX', (k) => k.prefix],
                ['CREATED', (k) => time(k.createdAt)],
                ['LAST USED', (k) => time(k.lastUsedAt)],
                ['REVOKED', (k) => time(k.revokedAt)],
              ]),
        );
      });
    });

  apikey
    .command('revoke')
    .description('revoke an API key; requests with it fail from now on')
    .argument('<id>', 'key id (see apikey list)')
    .addHelpText('after', '\nExample:\n  $ countersign apikey revoke 01HZX3K7Q8')
    .action(async (id, _opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        await core.apiKeys.revoke(id, cliActor());
        emit(cmd, { revoked: id }, () => `revoked API key ${id}`);
      });
    });
}
