/**
 * Reports for the admin console's dashboard: sign-ins over time, by method and by application, and
 * a summary of users, recent failures, fraud reports and this server.
 */
import { Type } from 'typebox';
import type { Core } from '../../../core/api.ts';
import { HELPDESK_READ } from '../auth.ts';
import { DashboardSummarySchema, SignInReportSchema } from '../schemas.ts';
import type { Api } from '../schemas.ts';
import { parseTime } from './audit.ts';

const tags = ['reports'];

const Time = (description: string) => Type.String({ minLength: 1, maxLength: 40, description });

const SignInsQuery = Type.Object(
  {
    from: Type.Optional(Time('Inclusive start: epoch milliseconds or ISO 8601; default 24 buckets before `to`')),
    to: Type.Optional(Time('Exclusive end: epoch milliseconds or ISO 8601; default now')),
    bucket: Type.Optional(Type.Enum(['hour', 'day'], { description: 'UTC hours (default) or days' })),
  },
  { additionalProperties: false },
);

export async function reportsRoutes(app: Api, opts: { core: Core }): Promise<void> {
  const { core } = opts;

  app.get(
    '/reports/sign-ins',
    {
      config: { roles: HELPDESK_READ },
      schema: {
        tags,
        summary: 'Approved, denied and expired authentications per hour or day, by method and by application',
        description:
          'Counts the final result of each authentication (a challenge is not counted until answered or expired) from every front door. ' +
          'At most 400 buckets per request (400 days, or 16 days of hours): a longer range is 400 validation_failed.',
        querystring: SignInsQuery,
        response: { 200: SignInReportSchema },
      },
    },
    async (request) => {
      const q = request.query;
      return core.reports.signIns({
        ...(q.from !== undefined ? { from: parseTime('from', q.from) } : {}),
        ...(q.to !== undefined ? { to: parseTime('to', q.to) } : {}),
        ...(q.bucket !== undefined ? { bucket: q.bucket } : {}),
      });
    },
  );

  app.get(
    '/reports/summary',
    {
      config: { roles: HELPDESK_READ },
      schema: {
        tags,
        summary: 'Users by state, the last denied authentications and fraud reports, and this server',
        response: { 200: DashboardSummarySchema },
      },
    },
    async () => core.reports.summary(),
  );
}
