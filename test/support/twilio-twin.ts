/**
 * Test twin of Twilio's Messages and Calls APIs on loopback HTTP: the same paths, Basic
 * authentication and form bodies as `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` and
 * `.../Calls.json`, answering like Twilio (201 with the resource; 401 code 20003 for bad
 * credentials; 400 code 21604/21603/21602 for a missing To, From or Body, 21205 for a call without
 * Url or Twiml; 404 code 20404 elsewhere). Accepted messages and calls are recorded for tests to read.
 *
 * A call then plays the part of the person who answers it, as Twilio does: `press(call, keys)`
 * posts the keys to the call's `<Gather action>` URL, and `end(call, status)` posts the call's end
 * to its StatusCallback, each request signed with `X-Twilio-Signature` (HMAC-SHA1 under the auth
 * token, of the URL and the sorted parameters) over HTTPS, trusting the CA given.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { startLoopbackServer } from './loopback-server.ts';

export interface TwinMessage {
  readonly sid: string;
  readonly to: string;
  readonly from: string;
  readonly body: string;
}

export interface TwinCall {
  readonly sid: string;
  readonly to: string;
  readonly from: string;
  readonly twiml: string;
  readonly statusCallback: string | null;
  readonly sendDigits: string | null;
  readonly timeout: string | null;
}

export interface TwilioTwin {
  /** http://127.0.0.1:<port>, the sender's baseUrl. */
  readonly url: string;
  readonly accountSid: string;
  readonly authToken: string;
  /** Accepted messages, oldest first. */
  readonly messages: TwinMessage[];
  /** Accepted calls, oldest first. */
  readonly calls: TwinCall[];
  /**
   * The person on the call presses `keys`: posts them (Digits) to the call's Gather action, signed;
   * resolves with the status and the TwiML answered.
   */
  press(call: TwinCall, keys: string, opts?: { signature?: string }): Promise<{ status: number; body: string }>;
  /** The call ends with `status` (completed, busy, no-answer...): posts it to the StatusCallback, signed. */
  end(call: TwinCall, status: string): Promise<{ status: number; body: string }>;
  /** Delay every answer by this many milliseconds (to test timeouts). */
  delayMs: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function error(res: ServerResponse, status: number, code: number, message: string): void {
  send(res, status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Twilio's request signature (see the header). */
export function twilioSignature(authToken: string, url: string, params: Readonly<Record<string, string>>): string {
  const data =
    url +
    Object.keys(params)
      .sort()
      .map((k) => k + params[k])
      .join('');
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/** The action URL of the first `<Gather>` of a TwiML document, entities decoded. */
export function gatherAction(twiml: string): string {
  const match = /<Gather\b[^>]*\baction="([^"]*)"/.exec(twiml);
  if (!match) throw new Error(`no Gather action in ${twiml}`);
  return (match[1] as string).replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&');
}

export async function startTwilioTwin(opts: { accountSid?: string; authToken?: string; ca?: string } = {}): Promise<TwilioTwin> {
  const accountSid = opts.accountSid ?? `AC${randomBytes(16).toString('hex')}`;
  const authToken = opts.authToken ?? randomBytes(16).toString('hex');
  const messages: TwinMessage[] = [];
  const calls: TwinCall[] = [];

  /** A signed webhook request as Twilio sends it, over HTTPS (trusting `opts.ca`) or HTTP. */
  function webhook(url: string, params: Record<string, string>, signature?: string): Promise<{ status: number; body: string }> {
    const body = new URLSearchParams(params).toString();
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': String(Buffer.byteLength(body)),
      'x-twilio-signature': signature ?? twilioSignature(authToken, url, params),
      'user-agent': 'TwilioProxy/1.1',
    };
    return new Promise((resolve, reject) => {
      const target = new URL(url);
      const options = { method: 'POST', headers, ...(opts.ca ? { ca: opts.ca } : {}) };
      const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }
  const callParams = (call: TwinCall, status: string): Record<string, string> => ({
    AccountSid: accountSid,
    ApiVersion: '2010-04-01',
    CallSid: call.sid,
    CallStatus: status,
    Called: call.to,
    Caller: call.from,
    Direction: 'outbound-api',
    From: call.from,
    To: call.to,
  });
  const expected = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const text = await readBody(req);
    const path = (req.url ?? '').split('?')[0];
    const match = /^\/2010-04-01\/Accounts\/([^/]+)\/(Messages|Calls)\.json$/.exec(path ?? '');
    if (req.method !== 'POST' || !match) return error(res, 404, 20404, 'The requested resource was not found');
    if (req.headers.authorization !== expected || decodeURIComponent(match[1] ?? '') !== accountSid) {
      res.setHeader('www-authenticate', 'Basic realm="Twilio API"');
      return error(res, 401, 20003, 'Authenticate');
    }
    const form = new URLSearchParams(text);
    if (match[2] === 'Calls') return createCall(form, res);
    const to = form.get('To') ?? '';
    const service = form.get('MessagingServiceSid') ?? '';
    const from = form.get('From') ?? service;
    const body = form.get('Body') ?? '';
    if (to === '') return error(res, 400, 21604, "A 'To' phone number is required.");
    if (from === '') return error(res, 400, 21603, "A 'From' phone number is required.");
    if (form.has('From') && from.startsWith('MG'))
      return error(res, 400, 21212, `The 'From' number ${from} is not a valid phone number, shortcode, or alphanumeric sender ID.`);
    if (body === '') return error(res, 400, 21602, 'Message body is required.');
    if (!/^\+[1-9][0-9]{6,14}$/.test(to)) return error(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    const sid = `SM${randomBytes(16).toString('hex')}`;
    messages.push({ sid, to, from, body });
    const now = new Date().toUTCString();
    send(res, 201, {
      sid,
      account_sid: accountSid,
      to,
      from,
      body,
      status: 'queued',
      num_segments: '1',
      direction: 'outbound-api',
      api_version: '2010-04-01',
      date_created: now,
      date_updated: now,
      date_sent: null,
      error_code: null,
      error_message: null,
      price: null,
      uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
    });
  };

  function createCall(form: URLSearchParams, res: ServerResponse): void {
    const to = form.get('To') ?? '';
    const from = form.get('From') ?? '';
    const twiml = form.get('Twiml') ?? '';
    if (to === '') return error(res, 400, 21201, "No 'To' number is specified");
    if (from === '') return error(res, 400, 21213, "No 'From' number is specified");
    if (twiml === '' && !form.has('Url')) return error(res, 400, 21205, 'Url parameter is required.');
    if (!/^\+[1-9][0-9]{6,14}$/.test(to)) return error(res, 400, 21217, `Phone number ${to} is not a valid phone number`);
    const sid = `CA${randomBytes(16).toString('hex')}`;
    calls.push({ sid, to, from, twiml, statusCallback: form.get('StatusCallback'), sendDigits: form.get('SendDigits'), timeout: form.get('Timeout') });
    const now = new Date().toUTCString();
    send(res, 201, {
      sid,
      account_sid: accountSid,
      to,
      from,
      status: 'queued',
      direction: 'outbound-api',
      api_version: '2010-04-01',
      date_created: now,
      date_updated: now,
      uri: `/2010-04-01/Accounts/${accountSid}/Calls/${sid}.json`,
    });
  }

  const twin: TwilioTwin = {
    url: '',
    accountSid,
    authToken,
    messages,
    calls,
    press: (call, keys, o = {}) => webhook(gatherAction(call.twiml), { ...callParams(call, 'in-progress'), Digits: keys, FinishedOnKey: '' }, o.signature),
    end: (call, status) => {
      if (!call.statusCallback) throw new Error('the call has no StatusCallback');
      return webhook(call.statusCallback, { ...callParams(call, status), CallDuration: '12' });
    },
    delayMs: 0,
    close: () => http.close(),
  };

  const http = await startLoopbackServer(
    (req, res) => {
      handle(req, res).catch(() => error(res, 500, 20500, 'Internal Server Error'));
    },
    () => twin.delayMs,
  );
  (twin as { url: string }).url = http.url;
  return twin;
}
