/** `countersign token ...`: OATH tokens (authenticator apps and hardware tokens) of users. */
import path from 'node:path';
import { Option, type CommandUnknownOpts } from '@commander-js/extra-typings';
import type { ImportReport, MethodView } from '../core/api.ts';
import { progressBar } from './progress.ts';
import { cliActor, emit, globals, intArg, record, table, time, withContext, write } from './runtime.ts';
import { readInput, reportImport } from './user.ts';

export function methodTable(methods: readonly MethodView[]): string {
  return table(methods, [
    ['ID', (m) => m.id],
    ['TYPE', (m) => m.type],
    ['LABEL', (m) => m.label],
    ['ALGORITHM', (m) => (m.type === 'backup' ? `${m.remaining ?? 0} of 10 left` : `${m.config.algorithm}/${m.config.digits}${m.type === 'totp' ? `/${m.config.period}s` : ''}`)],
    ['SERIAL', (m) => m.config.serial],
    ['ORIGIN', (m) => m.config.origin],
    ['DRIFT', (m) => m.drift],
    ['CREATED', (m) => time(m.createdAt)],
    ['LAST USED', (m) => time(m.lastUsedAt)],
  ]);
}

function methodRecord(m: MethodView): string {
  return record([
    ['id', m.id],
    ['type', m.type],
    ['label', m.label],
    ['algorithm', m.config.algorithm],
    ['digits', m.config.digits],
    ...(m.type === 'totp' ? ([['period', `${m.config.period}s`]] as const) : []),
    ['serial', m.config.serial],
    ['drift', m.drift],
    ['last used', time(m.lastUsedAt)],
  ]);
}

export function registerToken(program: CommandUnknownOpts): void {
  const token = program.command('token').description('manage OATH tokens (authenticator apps, hardware tokens)').addHelpText(
    'after',
    `
Examples:
  $ countersign token add alice
  $ countersign token list alice
  $ countersign token import tokens.xml --format pskc`,
  );

  token
    .command('add')
    .description('enroll a new authenticator-app token; prints its secret, otpauth URI and QR code once')
    .argument('<username>')
    .addOption(new Option('--type <type>', 'token type').choices(['totp'] as const).default('totp' as const))
    .option('--label <text>', 'label shown to administrators and the user', 'Authenticator app')
    .addOption(new Option('--algorithm <alg>', 'HMAC algorithm (SHA1 works with every app)').choices(['SHA1', 'SHA256', 'SHA512'] as const))
    .addOption(new Option('--digits <n>', 'code length').choices(['6', '7', '8'] as const))
    .option('--period <seconds>', 'time step', intArg(10, 300))
    .addHelpText(
      'after',
      `
The secret is shown once: scan the QR code with an authenticator app now.

Examples:
  $ countersign token add alice
  $ countersign token add alice --label "Alice's phone" --json`,
    )
    .action(async (username, opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const result = await core.methods.enrollTotp(
          username,
          {
            label: opts.label,
            ...(opts.algorithm ? { algorithm: opts.algorithm } : {}),
            ...(opts.digits ? { digits: Number(opts.digits) as 6 | 7 | 8 } : {}),
            ...(opts.period !== undefined ? { period: opts.period } : {}),
          },
          cliActor(),
        );
        if (globals(cmd).json) {
          emit(cmd, result, () => '');
          return;
        }
        const { default: QRCode } = await import('qrcode');
        const qr = await QRCode.toString(result.otpauthUri, { type: 'terminal', small: true, errorCorrectionLevel: 'M' });
        write(
          [
            `enrolled a TOTP token for ${username}`,
            methodRecord(result.method),
            '',
            `secret: ${result.secret}`,
            `uri:    ${result.otpauthUri}`,
            '',
            qr,
            'Scan the QR code (or type the secret) in an authenticator app now: the secret is not shown again.',
          ].join('\n'),
        );
      });
    });

  token
    .command('backup-codes')
    .description('make ten single-use backup codes for a user, replacing any earlier set; prints them once')
    .argument('<username>')
    .addHelpText(
      'after',
      `
Each code signs the user in once wherever a code is asked for (portal, RADIUS, API). Give them to
the user by a trusted channel; they are not shown again.

Example:
  $ countersign token backup-codes alice`,
    )
    .action(async (username, _opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const result = await core.methods.createBackupCodes(username, cliActor());
        emit(cmd, result, () => [`backup codes for ${username} (each works once; not shown again):`, '', ...result.codes.map((c, i) => `  ${String(i + 1).padStart(2)}. ${c}`)].join('\n'));
      });
    });

  token
    .command('add-phone')
    .description("add a text-message (sms) or phone-call (voice) method on one of a user's phones")
    .argument('<username>')
    .addOption(new Option('--type <type>', 'sms: a code texted at each sign-in; voice: a call answered with # (0 reports fraud)').choices(['sms', 'voice']).makeOptionMandatory())
    .addOption(new Option('--phone <which>', "which of the user's phones").choices(['phone', 'backupPhone']).default('phone'))
    .option('--label <label>', 'label shown to the user and in reports')
    .addHelpText(
      'after',
      `
The number is the user's own (countersign user update alice --phone +14155550100); a later change
of number is followed. Text messages need sms.provider, calls voice.provider in the configuration.

Examples:
  $ countersign token add-phone alice --type voice
  $ countersign token add-phone alice --type sms --phone backupPhone`,
    )
    .action(async (username, opts: { type: 'sms' | 'voice'; phone: 'phone' | 'backupPhone'; label?: string }, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const method = await core.methods.addPhoneMethod(username, { type: opts.type, phone: opts.phone, ...(opts.label !== undefined ? { label: opts.label } : {}) }, cliActor());
        emit(cmd, method, () => `added ${method.label} for ${username} (id ${method.id})`);
      });
    });

  token
    .command('add-push')
    .description("start activating Countersign Authenticator (the push method) on a user's phone; prints the activation code once")
    .argument('<username>')
    .addHelpText(
      'after',
      `
The user opens https://<this server>/mobile/app/ on the phone and enters the code, or opens
https://<this server>/mobile/app/#activate=<code> directly. The code works once, for 10 minutes;
a new one replaces it. Users can also do this themselves in the portal (account page).

Example:
  $ countersign token add-push alice`,
    )
    .action(async (username, _opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const activation = await core.devices.startActivation(username, cliActor());
        emit(cmd, activation, () =>
          [`activation code for ${username} (works once, until ${time(activation.expiresAt)}):`, '', `  ${activation.activationCode}`, '', `on the phone: https://<this server>/mobile/app/#activate=${activation.activationCode}`].join('\n'),
        );
      });
    });

  token
    .command('list')
    .description("list a user's tokens")
    .argument('<username>')
    .addHelpText('after', '\nExample:\n  $ countersign token list alice')
    .action(async (username, _opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const methods = await core.methods.list(username);
        emit(cmd, methods, () => (methods.length === 0 ? `${username} has no tokens` : methodTable(methods)));
      });
    });

  token
    .command('remove')
    .description('remove a token from a user')
    .argument('<username>')
    .argument('<id>', 'token id (see token list)')
    .addHelpText('after', '\nExample:\n  $ countersign token remove alice 01HZX3K7Q8')
    .action(async (username, id, _opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        await core.methods.remove(username, id, cliActor());
        emit(cmd, { removed: id, username }, () => `removed token ${id} of ${username}`);
      });
    });

  token
    .command('import')
    .description('import third-party or hardware OATH tokens with their secrets')
    .argument('<file>', 'CSV or PSKC (RFC 6030) file; "-" reads standard input')
    .addOption(new Option('--format <format>', 'file format (default: from the extension, .xml/.pskc = pskc)').choices(['csv', 'pskc'] as const))
    .addHelpText(
      'after',
      `
CSV columns: username, type (totp|hotp), secret (base32, or hex with 0x prefix), digits, period,
algorithm, counter, serial, label. PSKC: a KeyContainer with plaintext secrets; each KeyPackage's
UserId names the user. Exit status is 1 when any token was rejected.

Examples:
  $ countersign token import tokens.csv
  $ countersign token import vendor-export.xml --format pskc`,
    )
    .action(async (file, opts, cmd) => {
      const format = opts.format ?? (['.xml', '.pskc'].includes(path.extname(file).toLowerCase()) ? 'pskc' : 'csv');
      const content = await readInput(file);
      await withContext(cmd, async ({ core }) => {
        const bar = await progressBar('tokens', !globals(cmd).json);
        let report: ImportReport;
        try {
          report = await core.methods.importTokens(format, content, cliActor(), bar.update);
        } finally {
          bar.stop();
        }
        reportImport(cmd, report);
      });
    });

  token
    .command('resync')
    .description('resynchronize an HOTP token from two consecutive codes')
    .argument('<username>')
    .argument('<id>', 'token id (see token list)')
    .argument('<code1>', 'a code from the token')
    .argument('<code2>', 'the next code')
    .addHelpText('after', '\nExample:\n  $ countersign token resync alice 01HZX3K7Q8 755224 287082')
    .action(async (username, id, code1, code2, _opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const m = await core.methods.resync(username, id, code1, code2, cliActor());
        emit(cmd, m, () => `resynchronized token ${m.id} of ${username}`);
      });
    });
}
