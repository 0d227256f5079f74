/** `countersign audit ...`: the audit trail (every decision and administrative change). */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Writable } from 'node:stream';
import { Option, type Command, type CommandUnknownOpts, type OptionValues } from '@commander-js/extra-typings';
import type { AuditEvent, AuditKind, AuditQuery } from '../core/types.ts';
import { actionFilter, auditCsv, auditExport, type ExportFilters } from '../doors/audit-csv.ts';
import { estimatedProgressBar } from './progress.ts';
import { UsageError, emit, globals, intArg, table, time, timeArg, withContext, write } from './runtime.ts';

/** The filter options of `audit list` and `audit export`. */
function withFilters<Args extends unknown[], Opts extends OptionValues>(command: Command<Args, Opts>) {
  return command
    .option('--user <username>', 'only events of this user')
    .option('--application <name>', 'only events of this application')
    .option('--result <result>', 'approved, denied, challenge, expired (authentications) or success, failure (changes)')
    .addOption(
      new Option('--kind <kind>', 'authentication decisions, administrative changes, or RADIUS accounting').choices([
        'authentication',
        'admin',
        'accounting',
      ] as const),
    )
    .option('--action <action>', 'e.g. authenticate, user.block, settings.update; several separated by commas')
    .option('--from <time>', 'from this time, inclusive (ISO 8601 or epoch ms)', timeArg)
    .option('--to <time>', 'until this time, exclusive (ISO 8601 or epoch ms)', timeArg);
}

/** The audit query's filters for the options given. */
function filtersOf(opts: {
  user?: string;
  application?: string;
  result?: string;
  kind?: AuditKind;
  action?: string;
  from?: number;
  to?: number;
}): ExportFilters {
  return {
    ...(opts.user !== undefined ? { username: opts.user } : {}),
    ...(opts.application !== undefined ? { application: opts.application } : {}),
    ...(opts.result !== undefined ? { result: opts.result } : {}),
    ...(opts.kind !== undefined ? { kind: opts.kind } : {}),
    ...(opts.action !== undefined ? { action: actionFilter(opts.action) } : {}),
    ...(opts.from !== undefined ? { from: opts.from } : {}),
    ...(opts.to !== undefined ? { to: opts.to } : {}),
  };
}

/** Writes `text`, waiting while the stream's buffer is full. */
async function put(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

/** One event as a readable line (for `audit tail`). */
export function auditLine(e: AuditEvent): string {
  const parts = [
    time(e.at),
    e.action,
    e.result,
    e.reason ? `reason=${e.reason}` : '',
    e.username ? `user=${e.username}` : '',
    e.application ? `app=${e.application}` : '',
    e.method ? `method=${e.method}` : '',
    e.clientIp ? `ip=${e.clientIp}` : '',
    e.actor ? `actor=${e.actor}` : '',
  ];
  return parts.filter((p) => p !== '').join(' ');
}

function auditTable(events: readonly AuditEvent[]): string {
  return table(events, [
    ['ID', (e) => e.id],
    ['TIME', (e) => time(e.at)],
    ['ACTION', (e) => e.action],
    ['RESULT', (e) => e.result],
    ['REASON', (e) => e.reason],
    ['USER', (e) => e.username],
    ['APPLICATION', (e) => e.application],
    ['METHOD', (e) => e.method],
    ['CLIENT IP', (e) => e.clientIp],
    ['ACTOR', (e) => e.actor],
  ]);
}

export function registerAudit(program: CommandUnknownOpts): void {
  const audit = program
    .command('audit')
    .description('read the audit trail')
    .addHelpText(
      'after',
      `
Examples:
  $ countersign audit list --user alice --result denied
  $ countersign audit list --from 2026-01-01 --to 2026-02-01 --csv > january.csv
  $ countersign audit tail --follow`,
    );

  withFilters(audit.command('list').description('list events, newest first'))
    .option('--before <id>', 'events with an id lower than this (paging)', intArg(1, Number.MAX_SAFE_INTEGER))
    .option('--limit <n>', 'number of events (1-10000)', intArg(1, 10_000), 100)
    .option('--csv', 'CSV with a header row on stdout (for spreadsheets and reports)')
    .addHelpText(
      'after',
      `
Examples:
  $ countersign audit list --user alice
  $ countersign audit list --result denied --from 2026-03-01T00:00:00Z --limit 1000
  $ countersign audit list --csv > audit.csv`,
    )
    .action(async (opts, cmd) => {
      if (opts.csv && globals(cmd).json) throw new UsageError('--csv and --json cannot be used together');
      const query: AuditQuery = { ...filtersOf(opts), limit: opts.limit, ...(opts.before !== undefined ? { before: opts.before } : {}) };
      await withContext(cmd, async ({ core }) => {
        const events = await core.audit.query(query);
        if (opts.csv) {
          process.stdout.write(auditCsv(events));
          return;
        }
        emit(cmd, events, () => (events.length === 0 ? 'no events' : auditTable(events)));
      });
    });

  withFilters(audit.command('export').description('write every event that matches, oldest first, as CSV (or JSON lines with --json): no limit, read in pages'))
    .option('-o, --output <file>', 'write to this file instead of standard output (refused if it exists)')
    .addHelpText(
      'after',
      `
Before lowering retention.auditDays, export what must be kept longer.

Examples:
  $ countersign audit export --from 2025-01-01 --to 2026-01-01 --output audit-2025.csv
  $ countersign audit export --user alice --json | jq .action`,
    )
    .action(async (opts, cmd) => {
      const json = globals(cmd).json;
      const filters = filtersOf(opts);
      await withContext(cmd, async ({ core }) => {
        const file = opts.output === undefined ? null : createWriteStream(opts.output, { flags: 'wx' });
        if (file) {
          await once(file, 'open').catch((e: unknown) => {
            const code = (e as { code?: string }).code;
            throw new Error(
              code === 'EEXIST'
                ? `${opts.output as string} already exists: choose another --output file, or remove it`
                : `cannot write ${opts.output as string}: ${(e as Error).message}`,
            );
          });
        }
        const out: Writable = file ?? process.stdout;
        const bar = await estimatedProgressBar('Exporting', file !== null);
        let written = 0;
        try {
          for await (const page of auditExport((q) => core.audit.query(q), filters, json ? 'jsonl' : 'csv')) {
            if (page.chunk !== '') await put(out, page.chunk);
            written = page.written;
            bar.update(written, null);
          }
        } finally {
          bar.stop();
          if (file) {
            file.end();
            await once(file, 'close');
          }
        }
        if (file) process.stderr.write(`Exported ${written} events to ${opts.output as string}\n`);
      });
    });

  audit
    .command('tail')
    .description('print the latest events, oldest first; with --follow, keep printing new ones')
    .option('--limit <n>', 'how many recent events to print first (0-1000)', intArg(0, 1000), 20)
    .option('-f, --follow', 'keep running and print events as they arrive (Ctrl-C to stop)')
    .option('--interval <ms>', 'polling interval with --follow', intArg(100, 60_000), 1000)
    .addHelpText('after', '\nExamples:\n  $ countersign audit tail\n  $ countersign audit tail --follow --json   # one JSON object per line')
    .action(async (opts, cmd) => {
      const json = globals(cmd).json;
      const print = (e: AuditEvent): void => write(json ? JSON.stringify(e) : auditLine(e));
      await withContext(cmd, async ({ core }) => {
        let last = 0;
        const recent = opts.limit > 0 ? await core.audit.query({ limit: opts.limit }) : await core.audit.query({ limit: 1 });
        for (const e of recent) last = Math.max(last, e.id);
        if (opts.limit > 0) for (const e of [...recent].reverse()) print(e);
        if (!opts.follow) return;

        let stop = false;
        const onSignal = (): void => {
          stop = true;
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          while (!stop) {
            const batch = await core.audit.query({ after: last, limit: 500 });
            const ordered = [...batch].sort((a, b) => a.id - b.id);
            for (const e of ordered) {
              print(e);
              last = Math.max(last, e.id);
            }
            if (batch.length < 500) {
              // Sleep in small slices so a signal stops the loop promptly.
              for (let waited = 0; waited < opts.interval && !stop; waited += 100) await sleep(Math.min(100, opts.interval - waited));
            }
          }
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      });
    });
}
