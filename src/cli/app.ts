/** `countersign app ...`: applications (what Countersign protects) and their policy. */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import type { Application, ApplicationPatch, MethodType } from '../core/types.ts';
import { METHOD_TYPES } from '../core/types.ts';
import { UsageError, cliActor, collect, emit, record, table, time, withContext } from './runtime.ts';

function appRecord(a: Application): string {
  return record([
    ['name', a.name],
    ['require user match', a.requireUserMatch ? 'yes (unknown users are denied)' : 'no (unknown users pass without a second factor)'],
    ['trusted IPs', a.trustedIps.length === 0 ? 'none' : a.trustedIps.join(', ')],
    ['cache seconds', a.cacheSeconds === null ? 'company setting' : a.cacheSeconds],
    ['methods', a.allowedMethods === null ? 'all' : a.allowedMethods.join(', ')],
    ['created', time(a.createdAt)],
    ['updated', time(a.updatedAt)],
  ]);
}

function cacheSecondsArg(value: string): number | null {
  if (value === 'default') return null;
  if (!/^\d+$/.test(value)) throw new UsageError(`--cache-seconds: "${value}" is not allowed: an integer of seconds (0 = off) or "default"`);
  return Number(value);
}

function methodsArg(value: string): MethodType[] | null {
  if (value === 'all') return null;
  const list = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const m of list) {
    if (!(METHOD_TYPES as readonly string[]).includes(m)) throw new UsageError(`--methods: "${m}" is not allowed: a comma-separated list of ${METHOD_TYPES.join(', ')}, or "all"`);
  }
  return list as MethodType[];
}

interface PolicyOptions {
  requireUserMatch?: boolean;
  trustedIp?: string[];
  clearTrustedIps?: boolean;
  cacheSeconds?: string;
  methods?: string;
}

function policyOf(o: PolicyOptions): ApplicationPatch {
  if (o.trustedIp && o.clearTrustedIps) throw new UsageError('--trusted-ip and --clear-trusted-ips cannot be used together');
  return {
    ...(o.requireUserMatch !== undefined ? { requireUserMatch: o.requireUserMatch } : {}),
    ...(o.trustedIp !== undefined ? { trustedIps: o.trustedIp } : {}),
    ...(o.clearTrustedIps ? { trustedIps: [] } : {}),
    ...(o.cacheSeconds !== undefined ? { cacheSeconds: cacheSecondsArg(o.cacheSeconds) } : {}),
    ...(o.methods !== undefined ? { allowedMethods: methodsArg(o.methods) } : {}),
  };
}

function addPolicyOptions<C extends CommandUnknownOpts>(cmd: C): C {
  cmd
    .option('--require-user-match', 'deny users unknown to Countersign (the default for new applications)')
    .option('--no-require-user-match', 'let users unknown to Countersign pass without a second factor')
    .option('--trusted-ip <network>', 'trusted address, range a-b or CIDR (repeat, or comma-separate); replaces the list', collect)
    .option('--cache-seconds <n>', 'seconds an approval is remembered for the same user and address; 0 = off; "default" = company setting')
    .option('--methods <list>', `allowed method types (${METHOD_TYPES.join(', ')}), comma-separated, or "all"`);
  return cmd;
}

export function registerApp(program: CommandUnknownOpts): void {
  const app = program.command('app').description('manage applications (RADIUS clients, web apps, API clients) and their policy').addHelpText(
    'after',
    `
Examples:
  $ countersign app add vpn --trusted-ip 10.0.0.0/8 --cache-seconds 300
  $ countersign app update vpn --no-require-user-match
  $ countersign app list`,
  );

  app
    .command('list')
    .description('list applications')
    .addHelpText('after', '\nExample:\n  $ countersign app list --json')
    .action(async (_opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const apps = await core.applications.list();
        emit(cmd, apps, () =>
          table(apps, [
            ['NAME', (a) => a.name],
            ['USER MATCH', (a) => (a.requireUserMatch ? 'required' : 'pass-through')],
            ['TRUSTED IPS', (a) => (a.trustedIps.length === 0 ? '-' : a.trustedIps.join(','))],
            ['CACHE', (a) => (a.cacheSeconds === null ? 'default' : `${a.cacheSeconds}s`)],
            ['METHODS', (a) => (a.allowedMethods === null ? 'all' : a.allowedMethods.join(','))],
          ]),
        );
      });
    });

  const add = app.command('add').description('add an application').argument('<name>', 'name shown in messages and the audit trail');
  addPolicyOptions(add)
    .addHelpText('after', '\nExamples:\n  $ countersign app add vpn --trusted-ip 10.1.0.0/16,10.2.0.0/16\n  $ countersign app add intranet --methods totp --cache-seconds 600')
    .action(async (name, opts, cmd) => {
      const policy = policyOf(opts);
      await withContext(cmd, async ({ core }) => {
        const created = await core.applications.create({ name, ...policy }, cliActor());
        emit(cmd, created, () => `added application ${created.name}\n${appRecord(created)}`);
      });
    });

  const update = app.command('update').description("change an application's policy").argument('<name>');
  addPolicyOptions(update)
    .option('--clear-trusted-ips', 'remove every trusted address')
    .option('--rename <new-name>', 'change the name')
    .addHelpText('after', '\nExamples:\n  $ countersign app update vpn --cache-seconds default\n  $ countersign app update vpn --clear-trusted-ips')
    .action(async (name, opts, cmd) => {
      const o = opts as PolicyOptions & { rename?: string };
      const patch: ApplicationPatch = { ...policyOf(o), ...(o.rename !== undefined ? { name: o.rename } : {}) };
      if (Object.keys(patch).length === 0) throw new UsageError('nothing to change: give at least one option (see --help)');
      await withContext(cmd, async ({ core }) => {
        const updated = await core.applications.update(name, patch, cliActor());
        emit(cmd, updated, () => `updated application ${updated.name}\n${appRecord(updated)}`);
      });
    });

  app
    .command('remove')
    .description('remove an application (not the default one)')
    .argument('<name>')
    .addHelpText('after', '\nExample:\n  $ countersign app remove old-vpn')
    .action(async (name, _opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        await core.applications.delete(name, cliActor());
        emit(cmd, { removed: name }, () => `removed application ${name}`);
      });
    });

  app
    .command('show')
    .description('show an application')
    .argument('<name>')
    .addHelpText('after', '\nExample:\n  $ countersign app show default')
    .action(async (name, _opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const a = await core.applications.get(name);
        emit(cmd, a, () => appRecord(a));
      });
    });
}
