/**
 * The voice door: Twilio's webhooks for the calls of the phone-call method.
 *
 *   POST /voice/v1/calls/{id}/answer?token=...   the key the user pressed (Gather action: Digits)
 *   POST /voice/v1/calls/{id}/status?token=...   the call ended (StatusCallback: CallStatus)
 *
 * Every request must carry a valid `X-Twilio-Signature` for the URL as configured
 * (`voice.callbackUrl`, never the Host header) and the form parameters: anything else gets 403 and
 * changes nothing. The token in the query is the call's own secret (only its keyed hash is stored);
 * the core resolves the authentication with it. Answers are TwiML.
 */
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Actor, Core, OutOfBandResponse } from '../../core/api.ts';
import { isCoreError } from '../../core/errors.ts';
import { callScript, responseToKeys, sayAndHangUp, twilioSignatureMatches } from '../../delivery/twilio-voice.ts';

export interface VoiceDoorOptions {
  readonly core: Core;
  /** The Twilio auth token that signs the webhooks. */
  readonly authToken: string;
  /** Public base URL Twilio was given (voice.callbackUrl). */
  readonly callbackUrl: string;
}

const ACTOR: Actor = { kind: 'system', name: 'voice call', role: 'self' };
/** Call states that end a call nobody answered with a key. */
const UNANSWERED = new Set(['busy', 'no-answer', 'failed', 'canceled', 'completed']);

interface Hook {
  Params: { id: string };
  Querystring: { token?: string; lang?: string };
  Body: Record<string, string> | undefined;
}

export async function voiceDoor(app: FastifyInstance, opts: VoiceDoorOptions): Promise<void> {
  await app.register(formbody, { bodyLimit: 16 * 1024 });
  const base = opts.callbackUrl.replace(/\/+$/, '');

  /** The form parameters when the request is signed by Twilio for this exact URL; undefined otherwise. */
  function signed(request: FastifyRequest<Hook>): Record<string, string> | undefined {
    const signature = request.headers['x-twilio-signature'];
    const body = request.body;
    if (typeof signature !== 'string' || typeof body !== 'object' || body === null) return undefined;
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(body)) {
      if (typeof v !== 'string') return undefined;
      params[k] = v;
    }
    return twilioSignatureMatches(opts.authToken, base + request.url.slice(request.url.indexOf('/voice/')), params, signature) ? params : undefined;
  }

  function twiml(reply: FastifyReply, body: string): FastifyReply {
    return reply.header('cache-control', 'no-store').type('text/xml; charset=utf-8').send(body);
  }

  async function resolve(request: FastifyRequest<Hook>, response: OutOfBandResponse): Promise<'done' | 'closed'> {
    try {
      await opts.core.authentications.resolve(request.params.id, request.query.token ?? '', response, ACTOR);
      return 'done';
    } catch (e) {
      if (isCoreError(e) && (e.code === 'authentication_closed' || e.code === 'authentication_not_found' || e.code === 'validation_failed')) return 'closed';
      throw e;
    }
  }

  app.post<Hook>('/v1/calls/:id/answer', { schema: { hide: true } }, async (request, reply) => {
    const params = signed(request);
    if (!params) return reply.code(403).type('text/plain').send('forbidden');
    const response = responseToKeys(params['Digits'] ?? '');
    const result = await resolve(request, response);
    const lang = request.query.lang ?? 'en';
    const script = callScript(lang);
    const said = result === 'closed' ? script.closed : response === 'approve' ? script.approved : response === 'fraud' ? script.fraud : script.declined;
    return twiml(reply, sayAndHangUp(said, lang));
  });

  app.post<Hook>('/v1/calls/:id/status', { schema: { hide: true } }, async (request, reply) => {
    const params = signed(request);
    if (!params) return reply.code(403).type('text/plain').send('forbidden');
    // A call that ended without a key (busy, unanswered, hung up) declines; one already answered stays as it is.
    if (UNANSWERED.has(params['CallStatus'] ?? '')) await resolve(request, 'decline');
    return reply.code(204).send();
  });
}
