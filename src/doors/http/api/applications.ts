/**
 * Applications: what Countersign protects, each with its policy.
 */
import type { Core } from '../../../core/api.ts';
import { ADMIN_ONLY, HELPDESK_READ, actorOf } from '../auth.ts';
import { ApplicationList, ApplicationParams, ApplicationSchema, CreateApplicationBody, NoContent, UpdateApplicationBody } from '../schemas.ts';
import type { Api } from '../schemas.ts';

const tags = ['applications'];

export async function applicationsRoutes(app: Api, opts: { core: Core }): Promise<void> {
  const { core } = opts;

  app.get(
    '/applications',
    {
      config: { roles: HELPDESK_READ },
      schema: { tags, summary: 'List applications', response: { 200: ApplicationList } },
    },
    async () => ({ items: await core.applications.list() }),
  );

  app.post(
    '/applications',
    {
      config: { roles: ADMIN_ONLY },
      schema: { tags, summary: 'Create an application', body: CreateApplicationBody, response: { 201: ApplicationSchema } },
    },
    async (request, reply) => {
      const created = await core.applications.create(request.body, actorOf(request));
      reply.code(201).header('location', `/api/v1/applications/${encodeURIComponent(created.name)}`);
      return created;
    },
  );

  app.get(
    '/applications/:name',
    {
      config: { roles: HELPDESK_READ },
      schema: { tags, summary: 'Read an application', params: ApplicationParams, response: { 200: ApplicationSchema } },
    },
    async (request) => core.applications.get(request.params.name),
  );

  app.patch(
    '/applications/:name',
    {
      config: { roles: ADMIN_ONLY },
      schema: { tags, summary: 'Update an application (only the fields given)', params: ApplicationParams, body: UpdateApplicationBody, response: { 200: ApplicationSchema } },
    },
    async (request) => core.applications.update(request.params.name, request.body, actorOf(request)),
  );

  app.delete(
    '/applications/:name',
    {
      config: { roles: ADMIN_ONLY },
      schema: { tags, summary: 'Delete an application', params: ApplicationParams, response: { 204: NoContent } },
    },
    async (request, reply) => {
      await core.applications.delete(request.params.name, actorOf(request));
      return reply.code(204).send(null);
    },
  );
}
