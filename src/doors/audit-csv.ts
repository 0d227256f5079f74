/** The audit trail as CSV, the same for every front door (API export, CLI). */
import { stringify } from 'csv-stringify/sync';
import type { AuditEvent, AuditQuery } from '../core/types.ts';

export const AUDIT_CSV_COLUMNS = [
  'id',
  'at',
  'kind',
  'action',
  'result',
  'reason',
  'username',
  'userId',
  'displayName',
  'email',
  'phone',
  'device',
  'method',
  'mode',
  'application',
  'serverName',
  'clientIp',
  'actor',
  'authenticationId',
  'details',
] as const satisfies readonly (keyof AuditEvent)[];

const NUMBER = /^[+-]?\d+(\.\d+)?$/;

/**
 * Text a spreadsheet would run as a formula (= + - @ TAB CR first) is prefixed with a quote (CSV
 * injection); plain numbers such as E.164 phone numbers are left alone.
 */
function cell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) && !NUMBER.test(value) ? `'${value}` : value;
}

/**
 * Header row, then one event per row; times in ISO 8601 (UTC); CRLF line ends. Without the header
 * with `header: false` (the pages after the first of a long export).
 */
export function auditCsv(events: readonly AuditEvent[], opts: { readonly header?: boolean } = {}): string {
  const rows = events.map((e) =>
    AUDIT_CSV_COLUMNS.map((col) => {
      const v = e[col];
      if (v === null || v === undefined) return '';
      if (col === 'at') return new Date(v as number).toISOString();
      if (col === 'details') return cell(JSON.stringify(v));
      return typeof v === 'string' ? cell(v) : typeof v === 'number' ? String(v) : cell(JSON.stringify(v));
    }),
  );
  return stringify(rows, { header: opts.header ?? true, columns: [...AUDIT_CSV_COLUMNS], eof: true, record_delimiter: 'windows' });
}

/** Events read per query by an export. */
export const EXPORT_PAGE = 5_000;

/** What an export selects: the filters of a list, without paging. */
export type ExportFilters = Omit<AuditQuery, 'limit' | 'before' | 'after'>;

/**
 * Every event `filters` select, oldest first, as CSV (one header, then rows) or JSON lines, a page
 * at a time: each chunk with the number of events written so far. Pages follow ascending ids, so
 * events appended meanwhile are included and none is written twice.
 */
export async function* auditExport(
  query: (q: AuditQuery) => Promise<AuditEvent[]>,
  filters: ExportFilters,
  format: 'csv' | 'jsonl',
): AsyncGenerator<{ readonly chunk: string; readonly written: number }> {
  let written = 0;
  for (let after = 0; ;) {
    const page = await query({ ...filters, after, limit: EXPORT_PAGE });
    const first = after === 0;
    const chunk = format === 'jsonl' ? page.map((e) => `${JSON.stringify(e)}\n`).join('') : first || page.length > 0 ? auditCsv(page, { header: first }) : '';
    written += page.length;
    yield { chunk, written };
    if (page.length < EXPORT_PAGE) return;
    after = (page.at(-1) as AuditEvent).id;
  }
}

/** An action filter as typed: one action, or several separated by commas (`user.block,user.unblock`). */
export function actionFilter(text: string): string | string[] {
  return text.includes(',')
    ? text
        .split(',')
        .map((a) => a.trim())
        .filter((a) => a !== '')
    : text;
}
