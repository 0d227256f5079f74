/**
 * The audit trail: every decision and every administrative change, newest first.
 * JSON by default; CSV (header row, ISO 8601 times) with `Accept: text/csv` or `?format=csv`.
 */
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { Core } from '../../../core/api.ts';
import { CoreError } from '../../../core/errors.ts';
import type { AuditQuery } from '../../../core/types.ts';
import { auditCsv } from '../../audit-csv.ts';
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
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'e.g. authenticate, user.create, user.block' })),
    from: Type.Optional(Time('Inclusive lower bound: ISO 8601 date or date-time, or epoch milliseconds')),
    to: Type.Optional(Time('Exclusive upper bound: ISO 8601 date or date-time, or epoch milliseconds')),
    before: Type.Optional(Type.Integer({ minimum: 0, description: 'Events with id < before (paging, newest first)' })),
    after: Type.Optional(Type.Integer({ minimum: 0, description: 'Events with id > after (tailing, oldest first)' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: `Default ${DEFAULT_LIMIT} (JSON) or ${DEFAULT_CSV_LIMIT} (CSV)` })),
    format: Type.Optional(Type.Enum(['json', 'csv'])),
  },
  { additionalProperties: false },
);

const EPOCH_MS = /^\d{1,15}$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:?\d{2})?)?$/;

/** ISO 8601 or epoch milliseconds to epoch milliseconds; a validation error naming the field otherwise. */
export function parseTime(field: string, value: string): number {
  if (EPOCH_MS.test(value)) return Number(value);
  const ms = ISO_8601.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new CoreError('validation_failed', `${field} must be an ISO 8601 date-time or epoch milliseconds.`, { [field]: 'must be an ISO 8601 date-time or epoch milliseconds' });
  }
  return ms;
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
        username: q.username,
        application: q.application,
        result: q.result,
        kind: q.kind,
        action: q.action,
        from: q.from === undefined ? undefined : parseTime('from', q.from),
        to: q.to === undefined ? undefined : parseTime('to', q.to),
        before: q.before,
        after: q.after,
        limit: q.limit ?? (csv ? DEFAULT_CSV_LIMIT : DEFAULT_LIMIT),
      };
      const events = await core.audit.query(query);
      if (csv) {
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', 'attachment; filename="audit-events.csv"')
          .send(auditCsv(events));
      }
      const last = events.at(-1);
      return reply.type('application/json; charset=utf-8').send({ items: events, next: events.length === query.limit && last ? last.id : null });
    },
  );
}
