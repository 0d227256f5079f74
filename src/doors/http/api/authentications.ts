/**
 * Authentications (sign-in attempts): the hot path of the API.
 *
 * The caller only ever sees the state (`approved`, `denied`, `challenge`, ...) and one message; the
 * precise reason goes to the audit trail. Every failure looks the same: an unknown user is a
 * `denied` authentication like any other, never a 404.
 */
import type { Core } from '../../../core/api.ts';
import { ANY_READER, ANY_ROLE, actorOf } from '../auth.ts';
import { AuthenticationViewSchema, CreateAuthenticationBody, IdParams, PasscodeBody } from '../schemas.ts';
import type { Api } from '../schemas.ts';

const tags = ['authentications'];

export async function authenticationsRoutes(app: Api, opts: { core: Core }): Promise<void> {
  const { core } = opts;

  app.post(
    '/authentications',
    {
      config: { roles: ANY_ROLE },
      schema: {
        tags,
        summary: 'Start an authentication, optionally with the passcode',
        description:
          'State `approved` or `denied` when decided at once (passcode given, trusted address, bypass, cached approval), ' +
          '`challenge` when a passcode is needed: answer with POST /authentications/{id}/passcode; ' +
          '`pending` for a phone call or a push request (show `match`, the number the user picks in the app), then poll GET /authentications/{id}. ' +
          "clientIp is the end user's address, used for trusted networks and the approval cache; when omitted, neither applies " +
          "(the calling application's own address is never taken for the user's).",
        body: CreateAuthenticationBody,
        response: { 201: AuthenticationViewSchema },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const outcome = await core.authentications.create(
        { username: b.username, application: b.application, clientIp: b.clientIp ?? null, passcode: b.passcode, method: b.method },
        actorOf(request),
      );
      reply.code(201);
      return { ...outcome.view, ...(outcome.match !== undefined ? { match: outcome.match } : {}), ...(outcome.sentTo !== undefined ? { sentTo: outcome.sentTo } : {}) };
    },
  );

  app.get(
    '/authentications/:id',
    {
      config: { roles: ANY_READER },
      schema: { tags, summary: 'Poll an authentication', params: IdParams, response: { 200: AuthenticationViewSchema } },
    },
    async (request) => core.authentications.get(request.params.id),
  );

  app.post(
    '/authentications/:id/passcode',
    {
      config: { roles: ANY_ROLE },
      schema: { tags, summary: 'Answer a challenge with the passcode', params: IdParams, body: PasscodeBody, response: { 200: AuthenticationViewSchema } },
    },
    async (request) => (await core.authentications.answer(request.params.id, request.body.passcode, actorOf(request))).view,
  );
}
