/**
 * SMS through Twilio's Messages API (calls: ./twilio-voice.ts): `POST {baseUrl}/2010-04-01/Accounts/{accountSid}/Messages.json`
 * with HTTP Basic authentication (account SID : auth token) and a form body (`To`, `From` or
 * `MessagingServiceSid`, `Body`).
 * Twilio answers 201 Created when it accepted the message; any other answer, a network failure or
 * no answer within the timeout throws, naming the status and Twilio's error `code` and `message`.
 */
import type { SmsSender } from '../core/ports.ts';

export interface TwilioOptions {
  readonly accountSid: string;
  readonly authToken: string;
  /** The sending number (E.164) or a messaging service / alphanumeric sender id. */
  readonly from: string;
  /** Default https://api.twilio.com; the test twin's address in tests. */
  readonly baseUrl?: string;
  /** Default 10 000 ms. */
  readonly timeoutMs?: number;
}

export function createTwilioSender(opts: TwilioOptions): SmsSender {
  // A messaging service (MG + 32 hex digits) is named as such; Twilio refuses it as a From number.
  const sender: Record<string, string> = /^MG[0-9a-f]{32}$/i.test(opts.from) ? { MessagingServiceSid: opts.from } : { From: opts.from };
  return {
    async send(message) {
      await postToTwilio(opts, 'Messages.json', { To: message.to, ...sender, Body: message.text }, 'message');
    },
  };
}

/**
 * Creates a Twilio resource (`Messages.json`, `Calls.json`) of the account: resolves on 201
 * Created; throws otherwise, naming the status and Twilio's error code and message.
 */
export async function postToTwilio(opts: TwilioOptions, resource: string, form: Record<string, string>, what: string): Promise<void> {
  const base = (opts.baseUrl ?? 'https://api.twilio.com').replace(/\/+$/, '');
  const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(opts.accountSid)}/${resource}`;
  const authorization = `Basic ${Buffer.from(`${opts.accountSid}:${opts.authToken}`).toString('base64')}`;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const err = e as Error;
    const why = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : err.message;
    throw new Error(`Twilio could not be reached: ${why}`, { cause: e });
  }
  if (res.status === 201) {
    await res.body?.cancel();
    return;
  }
  let detail = '';
  try {
    const body = (await res.json()) as { code?: unknown; message?: unknown };
    const code = typeof body.code === 'number' || typeof body.code === 'string' ? `code ${body.code}` : '';
    const parts = [code, typeof body.message === 'string' ? body.message : ''].filter((p) => p !== '');
    if (parts.length > 0) detail = `: ${parts.join(': ')}`;
  } catch {
    // Not JSON: the status says enough.
  }
  throw new Error(`Twilio refused the ${what} (HTTP ${res.status})${detail}`);
}
