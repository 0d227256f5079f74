/**
 * One-time bypass: lets a user sign in once without a second factor, for a limited time.
 */
import type { Core } from '../../../core/api.ts';
import { CoreError } from '../../../core/errors.ts';
import { HELPDESK, HELPDESK_READ, actorOf } from '../auth.ts';
import { BypassViewSchema, IssueBypassBody, NoContent, UsernameParams } from '../schemas.ts';
import type { Api } from '../schemas.ts';

const tags = ['bypass'];

export async function bypassRoutes(app: Api, opts: { core: Core }): Promise<void> {
  const { core } = opts;

  app.get(
    '/users/:username/bypass',
    {
      config: { roles: HELPDESK_READ },
      schema: { tags, summary: "The user's active bypass (404 not_found when none)", params: UsernameParams, response: { 200: BypassViewSchema } },
    },
    async (request) => {
      const bypass = await core.bypass.get(request.params.username);
      if (bypass === null) throw new CoreError('not_found', 'The user has no active bypass.');
      return bypass;
    },
  );

  app.post(
    '/users/:username/bypass',
    {
      config: { roles: HELPDESK },
      schema: { tags, summary: 'Issue a one-time bypass (replaces any unused one)', params: UsernameParams, body: IssueBypassBody, response: { 201: BypassViewSchema } },
    },
    async (request, reply) => {
      const bypass = await core.bypass.issue(request.params.username, request.body, actorOf(request));
      reply.code(201);
      return bypass;
    },
  );

  app.delete(
    '/users/:username/bypass',
    {
      config: { roles: HELPDESK },
      schema: { tags, summary: "Cancel the user's bypass", params: UsernameParams, response: { 204: NoContent } },
    },
    async (request, reply) => {
      await core.bypass.cancel(request.params.username, actorOf(request));
      return reply.code(204).send(null);
    },
  );
}
