/** `countersign user ...`: manage users. */
import { readFile } from 'node:fs/promises';
import { Option, type CommandUnknownOpts } from '@commander-js/extra-typings';
import type { CreateUserInput, ImportReport, PhoneInput, UpdateUserInput, UserView } from '../core/api.ts';
import { CONSOLE_ROLES, METHOD_TYPES, type AuditEvent, type ConsoleRole, type EffectiveStatus, type MethodType } from '../core/types.ts';
import { progressBar } from './progress.ts';
import { confirm, readSecret } from './prompt.ts';
import { QuietFailure, UsageError, cliActor, emit, globals, intArg, record, table, time, withContext } from './runtime.ts';

const STATES = ['enabled', 'disabled', 'blocked', 'locked'] as const satisfies readonly EffectiveStatus[];

export function userRecord(u: UserView): string {
  const phone = (p: UserView['phone']) => (p ? `${p.number}${p.extension ? ` ext. ${p.extension}` : ''}${p.country ? ` (${p.country})` : ''}` : null);
  return record([
    ['username', u.username],
    ['state', u.state],
    ['display name', u.displayName],
    ['email', u.email],
    ['phone', phone(u.phone)],
    ['backup phone', phone(u.backupPhone)],
    ['language', u.language],
    ['status', u.status],
    ['blocked', u.blockedAt === null ? null : `${time(u.blockedAt)} (${u.blockedReason ?? 'no reason'})`],
    ['locked', u.lockedAt === null ? null : time(u.lockedAt)],
    ['failed attempts', u.failedCount],
    ['default method', u.defaultMethod],
    ['PIN', u.hasPin ? 'set' : 'none'],
    ['password', u.hasPassword ? 'set' : 'none'],
    ['console role', u.consoleRole ?? 'none'],
    ['RADIUS reply', u.replyAttributes.length === 0 ? 'none' : u.replyAttributes.map((a) => `${a.name}=${a.value}`).join(', ')],
    ['source', u.source.kind === 'local' ? 'local' : `directory ${u.source.directory} (${u.source.externalId})`],
    ['created', time(u.createdAt)],
    ['updated', time(u.updatedAt)],
  ]);
}

export function userTable(items: readonly UserView[]): string {
  return table(items, [
    ['USERNAME', (u) => u.username],
    ['STATE', (u) => u.state],
    ['DISPLAY NAME', (u) => u.displayName],
    ['EMAIL', (u) => u.email],
    ['PHONE', (u) => u.phone?.number],
    ['METHOD', (u) => u.defaultMethod],
  ]);
}

export function eventTable(events: readonly AuditEvent[]): string {
  return table(events, [
    ['TIME', (e) => time(e.at)],
    ['ACTION', (e) => e.action],
    ['RESULT', (e) => e.result],
    ['REASON', (e) => e.reason],
    ['ACTOR', (e) => e.actor],
  ]);
}

/** Prints an import report; exit status 1 when any row failed. */
export function reportImport(cmd: CommandUnknownOpts, report: ImportReport): void {
  emit(cmd, report, () => [
    `total ${report.total}, created ${report.created}, updated ${report.updated}, skipped ${report.skipped}, errors ${report.errors.length}`,
    ...report.errors.map((e) => `  row ${e.row}${e.field && !e.message.startsWith(`${e.field}:`) ? ` [${e.field}]` : ''}: ${e.message}`),
  ]);
  if (report.errors.length > 0) throw new QuietFailure();
}

interface UserFieldOptions {
  displayName?: string;
  email?: string;
  phone?: string;
  phoneCountry?: string;
  phoneExtension?: string;
  backupPhone?: string;
  backupPhoneCountry?: string;
  backupPhoneExtension?: string;
  language?: string;
  defaultMethod?: MethodType;
}

function phoneOf(number: string | undefined, country: string | undefined, extension: string | undefined, name: string): PhoneInput | null | undefined {
  if (number === undefined) {
    if (country !== undefined || extension !== undefined) throw new UsageError(`--${name}-country and --${name}-extension need --${name}`);
    return undefined;
  }
  if (number === '') return null;
  return { number, country: country ?? null, extension: extension ?? null };
}

function fieldsOf(o: UserFieldOptions): UpdateUserInput {
  const phone = phoneOf(o.phone, o.phoneCountry, o.phoneExtension, 'phone');
  const backupPhone = phoneOf(o.backupPhone, o.backupPhoneCountry, o.backupPhoneExtension, 'backup-phone');
  return {
    ...(o.displayName !== undefined ? { displayName: o.displayName } : {}),
    ...(o.email !== undefined ? { email: o.email } : {}),
    ...(phone !== undefined ? { phone } : {}),
    ...(backupPhone !== undefined ? { backupPhone } : {}),
    ...(o.language !== undefined ? { language: o.language } : {}),
    ...(o.defaultMethod !== undefined ? { defaultMethod: o.defaultMethod } : {}),
  };
}

function addFieldOptions<C extends CommandUnknownOpts>(cmd: C): C {
  cmd
    .option('--display-name <name>', 'display name')
    .option('--email <address>', 'email address')
    .option('--phone <number>', 'primary phone, +country format or with --phone-country')
    .option('--phone-country <CC>', 'two-letter country of --phone, e.g. US')
    .option('--phone-extension <digits>', 'extension of --phone')
    .option('--backup-phone <number>', 'backup phone')
    .option('--backup-phone-country <CC>', 'two-letter country of --backup-phone')
    .option('--backup-phone-extension <digits>', 'extension of --backup-phone')
    .option('--language <tag>', 'language tag, e.g. en or fr-CA')
    .addOption(new Option('--default-method <type>', 'method used when none is asked for').choices(METHOD_TYPES));
  return cmd;
}

async function pinFrom(pinStdin: boolean | undefined): Promise<string | undefined> {
  return pinStdin ? readSecret('PIN: ') : undefined;
}

export function registerUser(program: CommandUnknownOpts): void {
  const user = program.command('user').description('manage users').addHelpText(
    'after',
    `
Examples:
  $ countersign user add alice --email alice@example.com --phone "+1 415 555 0100"
  $ countersign user list --state locked
  $ countersign user block alice --reason "reported lost phone"
  $ countersign user role alice helpdesk
  $ countersign user reply-attributes alice Class=vpn-admins Filter-Id=admin-acl
  $ countersign user import users.csv`,
  );

  const add = user
    .command('add')
    .description('create a user')
    .argument('<username>', 'unique user name (case-insensitive), e.g. alice or CORP\\alice');
  addFieldOptions(add)
    .option('--disabled', 'create the user disabled')
    .option('--pin-stdin', 'read a PIN (4-16 digits) from standard input, or ask for it on a terminal')
    .addHelpText(
      'after',
      `
Examples:
  $ countersign user add alice --display-name "Alice Martin" --email alice@example.com
  $ countersign user add bob --phone 4155550100 --phone-country US --default-method totp
  $ echo 2468 | countersign user add carol --pin-stdin`,
    )
    .action(async (username, opts, cmd) => {
      const o = opts as UserFieldOptions & { disabled?: boolean; pinStdin?: boolean };
      const pin = await pinFrom(o.pinStdin);
      const input: CreateUserInput = {
        username,
        ...fieldsOf(o),
        ...(o.disabled ? { status: 'disabled' as const } : {}),
        ...(pin !== undefined ? { pin } : {}),
      };
      await withContext(cmd, async ({ core }) => {
        const created = await core.users.create(input, cliActor());
        emit(cmd, created, () => `created user ${created.username}\n${userRecord(created)}`);
      });
    });

  user
    .command('show')
    .description('show a user')
    .argument('<username>')
    .addHelpText('after', '\nExample:\n  $ countersign user show alice --json')
    .action(async (username, _opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const u = await core.users.get(username);
        const methods = await core.methods.list(u.username);
        emit(cmd, { ...u, methods }, () => [
          userRecord(u),
          `tokens:          ${methods.length === 0 ? 'none' : methods.map((m) => `${m.type} "${m.label}" (${m.id})`).join(', ')}`,
        ]);
      });
    });

  user
    .command('list')
    .description('list users, sorted by username, one page at a time')
    .option('--search <text>', 'part of the username, display name or email')
    .addOption(new Option('--state <state>', 'only users in this state').choices(STATES))
    .option('--limit <n>', 'users per page (1-1000)', intArg(1, 1000), 50)
    .option('--after <username>', 'start after this username (the "next" cursor of the previous page)')
    .addHelpText('after', '\nExamples:\n  $ countersign user list --search smith\n  $ countersign user list --limit 100 --after bob --json')
    .action(async (opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const page = await core.users.list({
          limit: opts.limit,
          ...(opts.search !== undefined ? { search: opts.search } : {}),
          ...(opts.state !== undefined ? { state: opts.state } : {}),
          ...(opts.after !== undefined ? { after: opts.after } : {}),
        });
        emit(cmd, page, () => [
          page.items.length === 0 ? 'no users' : userTable(page.items),
          ...(page.next !== null ? [`(more: --after ${String(page.next)})`] : []),
        ]);
      });
    });

  const update = user
    .command('update')
    .description('change a user; an empty value ("") clears a field')
    .argument('<username>');
  addFieldOptions(update)
    .option('--rename <new-username>', 'change the username')
    .option('--pin-stdin', 'set a new PIN read from standard input (or asked for on a terminal)')
    .option('--clear-pin', 'remove the PIN')
    .addHelpText('after', '\nExamples:\n  $ countersign user update alice --email alice@corp.example --phone ""\n  $ countersign user update alice --rename alice.martin')
    .action(async (username, opts, cmd) => {
      const o = opts as UserFieldOptions & { rename?: string; pinStdin?: boolean; clearPin?: boolean };
      if (o.pinStdin && o.clearPin) throw new UsageError('--pin-stdin and --clear-pin cannot be used together');
      const pin = o.clearPin ? null : await pinFrom(o.pinStdin);
      const patch: UpdateUserInput = {
        ...fieldsOf(o),
        ...(o.rename !== undefined ? { username: o.rename } : {}),
        ...(pin !== undefined ? { pin } : {}),
      };
      if (Object.keys(patch).length === 0) throw new UsageError('nothing to change: give at least one option (see --help)');
      await withContext(cmd, async ({ core }) => {
        const updated = await core.users.update(username, patch, cliActor());
        emit(cmd, updated, () => `updated user ${updated.username}\n${userRecord(updated)}`);
      });
    });

  for (const [name, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    user
      .command(name)
      .description(enabled ? 'allow the user to authenticate again' : 'refuse every authentication of the user')
      .argument('<username>')
      .addHelpText('after', `\nExample:\n  $ countersign user ${name} alice`)
      .action(async (username, _opts, cmd) => {
        await withContext(cmd, async ({ core }) => {
          const u = await core.users.setEnabled(username, enabled, cliActor());
          emit(cmd, u, () => `${u.username}: ${u.state}`);
        });
      });
  }

  for (const [name, what] of [
    ['block', 'block the user (e.g. a lost or stolen device); every authentication is denied'],
    ['unblock', 'lift a block'],
  ] as const) {
    user
      .command(name)
      .description(what)
      .argument('<username>')
      .requiredOption('--reason <text>', 'why (recorded in the audit trail)')
      .addHelpText('after', `\nExample:\n  $ countersign user ${name} alice --reason "ticket 4711"`)
      .action(async (username, opts, cmd) => {
        await withContext(cmd, async ({ core }) => {
          const u = name === 'block' ? await core.users.block(username, opts.reason, cliActor()) : await core.users.unblock(username, opts.reason, cliActor());
          emit(cmd, u, () => `${u.username}: ${u.state}`);
        });
      });
  }

  user
    .command('unlock')
    .description('clear a lockout after too many wrong passcodes')
    .argument('<username>')
    .addHelpText('after', '\nExample:\n  $ countersign user unlock alice')
    .action(async (username, _opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const u = await core.users.unlock(username, cliActor());
        emit(cmd, u, () => `${u.username}: ${u.state}`);
      });
    });

  user
    .command('sign-out')
    .description('end every sign-in session of the user: portal, console and web gateway sites')
    .argument('<username>')
    .addHelpText('after', '\nFor a lost or shared device. Gateway decisions follow within gateway.decisionCacheMs.\n\nExample:\n  $ countersign user sign-out alice')
    .action(async (username, _opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const r = await core.users.signOut(username, cliActor());
        emit(cmd, r, () => `${username}: ${r.ended} session${r.ended === 1 ? '' : 's'} ended`);
      });
    });

  user
    .command('password')
    .description("set or clear a local user's password (the first factor of local users)")
    .argument('<username>')
    .option('--stdin', 'read the new password from standard input (its first line, exactly), or ask twice on a terminal')
    .option('--clear', 'remove the password')
    .addHelpText(
      'after',
      `
The password is never taken from the command line, where other users could read it.
Policy: 12 to 1024 characters, not the username.

Examples:
  $ countersign user password alice --stdin
  $ printf '%s\n' "$NEW_PASSWORD" | countersign user password alice --stdin
  $ countersign user password alice --clear`,
    )
    .action(async (username, opts, cmd) => {
      if (opts.stdin && opts.clear) throw new UsageError('--stdin and --clear cannot be used together');
      if (!opts.stdin && !opts.clear) throw new UsageError('give --stdin to set the password or --clear to remove it');
      const password = opts.clear ? null : await readPassword();
      await withContext(cmd, async ({ core }) => {
        const u = await core.users.setPassword(username, password, cliActor());
        emit(cmd, u, () => `${u.username}: password ${u.hasPassword ? 'set' : 'cleared'}`);
      });
    });

  user
    .command('role')
    .description('give the user a role in the admin console (/admin), or take it away with "none"')
    .argument('<username>')
    .argument('<role>', `${CONSOLE_ROLES.join(', ')} or none`)
    .addHelpText(
      'after',
      `
Roles:
  admin      everything
  helpdesk   find users, unlock, block, bypass, reset authenticators, test sign-ins
  auditor    read only: users, audit trail, settings, reports
A console user signs in at /admin with their password (local or directory) and a second factor;
one without an authenticator sets one up at their first sign-in. "none" ends their console sessions.

Examples:
  $ countersign user role alice admin
  $ countersign user role bob helpdesk --json
  $ countersign user role bob none`,
    )
    .action(async (username, roleArg, _opts, cmd) => {
      const role = roleArg === 'none' ? null : roleArg;
      if (role !== null && !(CONSOLE_ROLES as readonly string[]).includes(role)) {
        throw new UsageError(`role must be one of ${CONSOLE_ROLES.join(', ')} or none, not "${roleArg}"`);
      }
      await withContext(cmd, async ({ core }) => {
        const u = await core.users.setConsoleRole(username, role as ConsoleRole | null, cliActor());
        emit(cmd, u, () => `${u.username}: console role ${u.consoleRole ?? 'none'}`);
      });
    });

  user
    .command('reply-attributes')
    .description("show, set or clear the RADIUS attributes added to the user's Access-Accepts (VPN policy)")
    .argument('<username>')
    .argument('[attributes...]', 'Name=Value pairs, in order, replacing the current list; none: show the list')
    .option('--clear', 'remove every attribute of the user')
    .addHelpText(
      'after',
      `
Names come from the RADIUS dictionary (Class, Filter-Id, Framed-IP-Address, Framed-Pool,
Session-Timeout, Idle-Timeout, Reply-Message...); values are text, an address or an integer as the
attribute needs. A name may repeat. At most 32 attributes. In each Access-Accept of the user they
come last and replace every attribute of the same name from the RADIUS client's replyAttributes,
its groupReplyAttributes and an upstream server's Accept.

Examples:
  $ countersign user reply-attributes alice
  $ countersign user reply-attributes alice Class=vpn-admins Filter-Id=admin-acl Framed-IP-Address=10.8.0.12
  $ countersign user reply-attributes alice --clear --json`,
    )
    .action(async (username, pairs, opts, cmd) => {
      if (opts.clear && pairs.length > 0) throw new UsageError('--clear and Name=Value pairs cannot be used together');
      const attributes = pairs.map((pair) => {
        const at = pair.indexOf('=');
        if (at < 1) throw new UsageError(`"${pair}" is not Name=Value (e.g. Class=vpn-admins)`);
        return { name: pair.slice(0, at), value: pair.slice(at + 1) };
      });
      await withContext(cmd, async ({ core }) => {
        const change = opts.clear || attributes.length > 0;
        const u = change ? await core.users.setReplyAttributes(username, attributes, cliActor()) : await core.users.get(username);
        emit(cmd, u, () =>
          u.replyAttributes.length === 0
            ? `${u.username}: no RADIUS reply attributes${change ? ' (cleared)' : ''}`
            : table(u.replyAttributes, [
                ['NAME', (a) => a.name],
                ['VALUE', (a) => a.value],
              ]),
        );
      });
    });

  user
    .command('delete')
    .description('delete a user with all their tokens and bypasses')
    .argument('<username>')
    .option('--yes', 'do not ask for confirmation (required when not on a terminal)')
    .addHelpText('after', '\nExample:\n  $ countersign user delete alice --yes')
    .action(async (username, opts, cmd) => {
      if (!opts.yes) {
        if (!process.stdin.isTTY) throw new UsageError('refusing to delete without --yes when not on a terminal');
        const ok = await confirm(`Delete user ${username} and all their tokens? Type the username to confirm: `, username);
        if (!ok) throw new UsageError('not confirmed; nothing deleted');
      }
      await withContext(cmd, async ({ core }) => {
        await core.users.delete(username, cliActor());
        emit(cmd, { deleted: username }, () => `deleted user ${username}`);
      });
    });

  user
    .command('history')
    .description('block, unblock, lock, unlock, enable, disable and bypass events of the user, newest first')
    .argument('<username>')
    .option('--limit <n>', 'number of events (1-1000)', intArg(1, 1000), 50)
    .addHelpText('after', '\nExample:\n  $ countersign user history alice')
    .action(async (username, opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const events = await core.users.history(username, opts.limit);
        emit(cmd, events, () => (events.length === 0 ? 'no events' : eventTable(events)));
      });
    });

  user
    .command('import')
    .description('create or update users from a CSV file; bad rows are reported and never stop good ones')
    .argument('<file.csv>', 'CSV with a header row')
    .addHelpText(
      'after',
      `
Columns (header row, any order; only username is required):
  username, display_name, email, phone, phone_country, phone_extension, backup_phone,
  backup_phone_country, backup_phone_extension, language, status (enabled|disabled), default_method
Existing users are updated. Exit status is 1 when any row was rejected.

Example:
  $ countersign user import users.csv`,
    )
    .action(async (file, _opts, cmd) => {
      const csv = await readInput(file);
      await withContext(cmd, async ({ core }) => {
        const bar = await progressBar('users', !globals(cmd).json);
        let report: ImportReport;
        try {
          report = await core.users.importCsv(csv, cliActor(), bar.update);
        } finally {
          bar.stop();
        }
        reportImport(cmd, report);
      });
    });
}

/**
 * A new password: asked twice without echo on a terminal, else the first line of standard input
 * exactly as given (only the line ending removed: spaces may be part of a password).
 */
async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    const first = await readSecret('New password: ');
    const again = await readSecret('Repeat the password: ');
    if (first !== again) throw new UsageError('the passwords do not match; nothing changed');
    return first;
  }
  const text = await readInput('-');
  const line = text.split(/\r?\n/)[0] ?? '';
  if (line === '') throw new UsageError('no password on standard input');
  return line;
}

/** Reads a file, or standard input for "-". */
export async function readInput(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
