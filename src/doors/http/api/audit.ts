/**
 * The audit trail: every decision and every administrative change, newest first.
 * JSON by default; CSV (header row, ISO 8601 times) with `Accept: text/csv` or `?format=csv`.
 * `/audit-events/export` streams everything the filters select, oldest first, without a limit.
 */
import { Readable } from 'node:stream';
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { Core } from '../../../core/api.ts';
import { CoreError } from '../../../core/errors.ts';
import type { AuditKind, AuditQuery } from '../../../core/types.ts';
import { actionFilter, auditCsv, auditExport, type ExportFilters } from '../../audit-csv.ts';
import { HELPDESK_READ } from '../auth.ts';
import { AuditPage } from '../schemas.ts';
import type { Api } from '../schemas.ts';

const DEFAULT_LIMIT = 100;
const DEFAULT_CSV_LIMIT = 10_000;

const Time = (description: string) => Type.String({ minLength: 1, maxLength: 40, description });

const AuditQuerySchema = Type.Object(
  {
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    application: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    result: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: 'approved, denied, challenge, expired, success, failure' })),
    kind: Type.Optional(Type.Enum(['authentication', 'admin', 'accounting'])),
    action: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1320,
        description: 'An action (e.g. authenticate, user.create, user.block), or several separated by commas (at most 20)',
      }),
    ),
    from: Type.Optional(Time('Inclusive lower bound: ISO 8601 date or date-time, or epoch milliseconds')),
    to: Type.Optional(Time('Exclusive upper bound: ISO 8601 date or date-time, or epoch milliseconds')),
    before: Type.Optional(Type.Integer({ minimum: 0, description: 'Events with id < before (paging, newest first)' })),
    after: Type.Optional(Type.Integer({ minimum: 0, description: 'Events with id > after (tailing, oldest first)' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: `Default ${DEFAULT_LIMIT} (JSON) or ${DEFAULT_CSV_LIMIT} (CSV)` })),
    format: Type.Optional(Type.Enum(['json', 'csv'])),
  },
  { additionalProperties: false },
);

const { before: _before, after: _after, limit: _limit, format: _format, ...filterFields } = AuditQuerySchema.properties;
const ExportQuerySchema = Type.Object(
  { ...filterFields, format: Type.Optional(Type.Enum(['csv', 'jsonl'], { description: 'csv (default) or jsonl (one JSON event per line)' })) },
  { additionalProperties: false },
);

const EPOCH_MS = /^\d{1,15}$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:?\d{2})?)?$/;

/** ISO 8601 or epoch milliseconds to epoch milliseconds; a validation error naming the field otherwise. */
export function parseTime(field: string, value: string): number {
  if (EPOCH_MS.test(value)) return Number(value);
  const ms = ISO_8601.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new CoreError('validation_failed', `${field} must be an ISO 8601 date-time or epoch milliseconds.`, {
      [field]: 'must be an ISO 8601 date-time or epoch milliseconds',
    });
  }
  return ms;
}

/** The filters of a list or an export query, times parsed. */
function filtersOf(q: {
  username?: string;
  application?: string;
  result?: string;
  kind?: AuditKind;
  action?: string;
  from?: string;
  to?: string;
}): ExportFilters {
  return {
    username: q.username,
    application: q.application,
    result: q.result,
    kind: q.kind,
    action: q.action === undefined ? undefined : actionFilter(q.action),
    from: q.from === undefined ? undefined : parseTime('from', q.from),
    to: q.to === undefined ? undefined : parseTime('to', q.to),
  };
}

function wantsCsv(request: FastifyRequest, format: 'json' | 'csv' | undefined): boolean {
  if (format !== undefined) return format === 'csv';
  const accept = request.headers.accept;
  return accept !== undefined && accept.includes('text/csv');
}

export async function auditRoutes(app: Api, opts: { core: Core }): Promise<void> {
  const { core } = opts;

  app.get(
    '/audit-events',
    {
      config: { roles: HELPDESK_READ },
      schema: {
        tags: ['audit'],
        summary: 'Query the audit trail (JSON or CSV)',
        description: 'Newest first, paged with `before` (or tail oldest first with `after`). CSV with `Accept: text/csv` or `format=csv`.',
        querystring: AuditQuerySchema,
        response: {
          200: {
            description: 'Audit events',
            content: {
              'application/json': { schema: AuditPage },
              'text/csv': { schema: Type.String({ description: 'Header row then one event per row; times in ISO 8601' }) },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const csv = wantsCsv(request, q.format);
      const query: AuditQuery = {
        ...filtersOf(q),
        before: q.before,
        after: q.after,
        limit: q.limit ?? (csv ? DEFAULT_CSV_LIMIT : DEFAULT_LIMIT),
      };
      const events = await core.audit.query(query);
      if (csv) {
        return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="audit-events.csv"').send(auditCsv(events));
      }
      const last = events.at(-1);
      return reply.type('application/json; charset=utf-8').send({ items: events, next: events.length === query.limit && last ? last.id : null });
    },
  );

  app.get(
    '/audit-events/export',
    {
      config: { roles: HELPDESK_READ },
      schema: {
        tags: ['audit'],
        summary: 'Export the audit trail, oldest first, without a limit (CSV or JSON lines)',
        description:
          'Every event the filters select, oldest first, streamed as it is read (5,000 events at a time): CSV with one header row, or JSON lines with `format=jsonl`. Sent as an attachment named audit-events-YYYY-MM-DD.csv (or .jsonl).',
        querystring: ExportQuerySchema,
        response: {
          200: {
            description: 'The events',
            content: {
              'text/csv': { schema: Type.String({ description: 'Header row then one event per row, oldest first' }) },
              'application/x-ndjson': { schema: Type.String({ description: 'One JSON event per line, oldest first' }) },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const format = q.format ?? 'csv';
      const pages = auditExport((query) => core.audit.query(query), filtersOf(q), format);
      // The first page before the headers: a failure still gets a problem response.
      const first = await pages.next();
      const chunks = async function* (): AsyncGenerator<string> {
        if (!first.done && first.value.chunk !== '') yield first.value.chunk;
        for await (const page of pages) if (page.chunk !== '') yield page.chunk;
      };
      return (
        reply
          .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
          .header('content-disposition', `attachment; filename="audit-events-${new Date().toISOString().slice(0, 10)}.${format === 'csv' ? 'csv' : 'jsonl'}"`)
          // A stream is sent as it is read (the schema describes what it carries).
          .send(Readable.from(chunks()) as unknown as string)
      );
    },
  );
}
