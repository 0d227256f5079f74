/**
 * Test twin of Twilio's Messages API on loopback HTTP: the same path, Basic authentication and form
 * body as `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, answering like Twilio (201 with a
 * message resource; 401 code 20003 for bad credentials; 400 code 21604/21603/21602 for a missing To,
 * From or Body; 404 code 20404 elsewhere). Accepted messages are recorded for tests to read.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TwinMessage {
  readonly sid: string;
  readonly to: string;
  readonly from: string;
  readonly body: string;
}

export interface TwilioTwin {
  /** http://127.0.0.1:<port>, the sender's baseUrl. */
  readonly url: string;
  readonly accountSid: string;
  readonly authToken: string;
  /** Accepted messages, oldest first. */
  readonly messages: TwinMessage[];
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

export async function startTwilioTwin(opts: { accountSid?: string; authToken?: string } = {}): Promise<TwilioTwin> {
  const accountSid = opts.accountSid ?? `AC${randomBytes(16).toString('hex')}`;
  const authToken = opts.authToken ?? randomBytes(16).toString('hex');
  const messages: TwinMessage[] = [];
  const expected = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
  const timers = new Set<NodeJS.Timeout>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const text = await readBody(req);
    const path = (req.url ?? '').split('?')[0];
    const match = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(path ?? '');
    if (req.method !== 'POST' || !match) return error(res, 404, 20404, 'The requested resource was not found');
    if (req.headers.authorization !== expected || decodeURIComponent(match[1] ?? '') !== accountSid) {
      res.setHeader('www-authenticate', 'Basic realm="Twilio API"');
      return error(res, 401, 20003, 'Authenticate');
    }
    const form = new URLSearchParams(text);
    const to = form.get('To') ?? '';
    const service = form.get('MessagingServiceSid') ?? '';
    const from = form.get('From') ?? service;
    const body = form.get('Body') ?? '';
    if (to === '') return error(res, 400, 21604, "A 'To' phone number is required.");
    if (from === '') return error(res, 400, 21603, "A 'From' phone number is required.");
    if (form.has('From') && from.startsWith('MG')) return error(res, 400, 21212, `The 'From' number ${from} is not a valid phone number, shortcode, or alphanumeric sender ID.`);
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

  const twin: TwilioTwin = {
    url: '',
    accountSid,
    authToken,
    messages,
    delayMs: 0,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server: Server = createServer((req, res) => {
    const run = (): void => {
      handle(req, res).catch(() => error(res, 500, 20500, 'Internal Server Error'));
    };
    if (twin.delayMs <= 0) return run();
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, twin.delayMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  (twin as { url: string }).url = `http://127.0.0.1:${port}`;
  return twin;
}
