/**
 * A mobile device of the push method as the app is one: an ECDSA P-256 key pair made with
 * WebCrypto (the private key not extractable), activated through the mobile API, signing its
 * requests as the app does.
 */
import { webcrypto } from 'node:crypto';

export interface TestDevice {
  readonly id: string;
  readonly username: string;
  /** A signed request to the mobile API; resolves with the status, the parsed JSON (or null) and the Authorization header it sent. */
  request(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, opts?: SignOptions): Promise<{ status: number; json: unknown; authorization: string }>;
  /** The Authorization header of a signed request, without sending it. */
  authorization(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, opts?: SignOptions): Promise<string>;
}

export interface SignOptions {
  readonly time?: number;
  readonly tamper?: boolean;
}

const b64url = (bytes: ArrayBuffer | Uint8Array): string => Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('base64url');

/** `baseUrl` e.g. https://127.0.0.1:8443 (trusted by `fetchFn`). */
export async function activateDevice(
  fetchFn: (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<{ status: number; text(): Promise<string> }>,
  baseUrl: string,
  activationCode: string,
  opts: { name?: string; subscription?: unknown; clock?: () => number } = {},
): Promise<TestDevice> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const publicKey = b64url(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  const res = await fetchFn(`${baseUrl}/mobile/v1/devices`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ activationCode, publicKey, name: opts.name ?? 'Test phone', ...(opts.subscription !== undefined ? { subscription: opts.subscription } : {}) }),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`activation failed: ${res.status} ${text}`);
  const { deviceId, username } = JSON.parse(text) as { deviceId: string; username: string };
  const now = opts.clock ?? Date.now;
  async function authorization(method: string, path: string, body: unknown, o: SignOptions = {}): Promise<string> {
    const sent = body === undefined ? '' : JSON.stringify(body);
    const time = String(o.time ?? now());
    const digest = b64url(await webcrypto.subtle.digest('SHA-256', new TextEncoder().encode(sent)));
    const signature = await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, new TextEncoder().encode(`${method}\n${path}\n${time}\n${digest}`));
    const sig = new Uint8Array(signature);
    if (o.tamper) sig[0] = (sig[0] as number) ^ 1;
    return `CS-Device ${deviceId}.${time}.${b64url(sig)}`;
  }
  return {
    id: deviceId,
    username,
    authorization: (method, path, body, o) => authorization(method, path, body, o),
    async request(method, path, body, o = {}) {
      const sent = body === undefined ? '' : JSON.stringify(body);
      const header = await authorization(method, path, body, o);
      const r = await fetchFn(`${baseUrl}${path}`, {
        method,
        headers: { authorization: header, ...(sent === '' ? {} : { 'content-type': 'application/json' }) },
        ...(sent === '' ? {} : { body: sent }),
      });
      const t = await r.text();
      return { status: r.status, json: t === '' ? null : (JSON.parse(t) as unknown), authorization: header };
    },
  };
}

/** A small fetch over node:https trusting `ca` (the server's self-signed certificate). */
export function httpsFetch(ca: string): (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<{ status: number; text(): Promise<string> }> {
  return async (url, init) => {
    const { request } = await import('node:https');
    return new Promise((resolve, reject) => {
      const headers = { ...init.headers, ...(init.body !== undefined ? { 'content-length': String(Buffer.byteLength(init.body)) } : {}) };
      const req = request(new URL(url), { method: init.method, headers, ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, text: async () => body });
        });
      });
      req.on('error', reject);
      req.end(init.body);
    });
  };
}
