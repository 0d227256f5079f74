/**
 * Raw HTTP for gateway tests: the request target goes out exactly as written (no URL
 * normalization, unlike fetch), from a chosen loopback address; and a browser-like client that
 * keeps cookies and follows nothing.
 */
import { request as httpRequest } from 'node:http';

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface RawRequest {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Local address to send from (any 127.0.0.0/8 address on Linux). */
  readonly from?: string | undefined;
}

export function sendRaw(port: number, path: string, opts: RawRequest = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host: `127.0.0.1:${port}`, ...opts.headers }, ...(opts.from ? { localAddress: opts.from } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}

/** A browser-like client of one port: keeps cookies (name=value) and follows nothing. */
export class CookieClient {
  readonly cookies = new Map<string, string>();
  readonly port: number;
  readonly from: string | undefined;
  constructor(port: number, from?: string) {
    this.port = port;
    this.from = from;
  }
  async get(path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
    return this.keep(await sendRaw(this.port, path, { headers: { ...this.cookieHeader(), ...headers }, from: this.from }));
  }
  async post(path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<RawResponse> {
    const body = new URLSearchParams(form).toString();
    return this.keep(await sendRaw(this.port, path, { method: 'POST', body, headers: { ...this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded', ...headers }, from: this.from }));
  }
  async send(path: string, opts: RawRequest): Promise<RawResponse> {
    return this.keep(await sendRaw(this.port, path, { ...opts, headers: { ...this.cookieHeader(), ...opts.headers }, from: this.from }));
  }
  private cookieHeader(): Record<string, string> {
    return this.cookies.size ? { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {};
  }
  private keep(res: RawResponse): RawResponse {
    const set = res.headers['set-cookie'] ?? [];
    for (const line of Array.isArray(set) ? set : [set]) {
      const [pair] = line.split(';');
      const eq = (pair ?? '').indexOf('=');
      const name = (pair ?? '').slice(0, eq);
      const value = (pair ?? '').slice(eq + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
}

/** The value of a hidden form field in a page. */
export const hiddenField = (html: string, name: string): string => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1]?.replace(/&amp;/g, '&') ?? '';
