/**
 * API keys (service accounts): the bearer tokens of the REST API, each with one role.
 */
import type { Core } from '../../../core/api.ts';
import { ADMIN_ONLY, ADMIN_READ, actorOf } from '../auth.ts';
import { ApiKeyList, CreateApiKeyBody, CreatedApiKeySchema, IdParams, NoContent } from '../schemas.ts';
import type { Api } from '../schemas.ts';

const tags = ['api-keys'];

export async function apiKeysRoutes(app: Api, opts: { core: Core }): Promise<void> {
  const { core } = opts;

  app.get(
    '/api-keys',
    {
      config: { roles: ADMIN_READ },
      schema: { tags, summary: 'List API keys (never their secrets)', response: { 200: ApiKeyList } },
    },
    async () => ({ items: await core.apiKeys.list() }),
  );

  app.post(
    '/api-keys',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        tags,
        summary: 'Create an API key',
        description: 'The token is returned once and cannot be recovered: store it now.',
        body: CreateApiKeyBody,
        response: { 201: CreatedApiKeySchema },
      },
    },
    async (request, reply) => {
      const created = await core.apiKeys.create(request.body, actorOf(request));
      reply.code(201);
      return created;
    },
  );

  app.delete(
    '/api-keys/:id',
    {
      config: { roles: ADMIN_ONLY },
      schema: { tags, summary: 'Revoke an API key (takes effect at once)', params: IdParams, response: { 204: NoContent } },
    },
    async (request, reply) => {
      await core.apiKeys.revoke(request.params.id, actorOf(request));
      return reply.code(204).send(null);
    },
  );
}
