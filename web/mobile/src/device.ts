/**
 * The device's identity and its calls to the mobile API (/mobile/v1).
 *
 * The key pair is ECDSA P-256, made here with WebCrypto; the private key is not extractable and
 * is kept, as a CryptoKey, in IndexedDB with the device id: it never leaves the browser. Every
 * request after activation is signed as the server checks it (src/core/services/devices.ts):
 * `Authorization: CS-Device <device id>.<time ms>.<signature>`, the signature (IEEE P1363 r||s,
 * base64url) over `METHOD \n path \n time \n base64url(SHA-256(body))`, the body being the exact
 * JSON text sent ('' without one).
 */

import type { DeviceRequest } from '../../../src/core/types.ts';

export interface StoredDevice {
  readonly deviceId: string;
  readonly username: string;
  readonly name: string;
  readonly privateKey: CryptoKey;
}

export type { DeviceRequest };

export type Decision = { readonly decision: 'approve'; readonly number: number } | { readonly decision: 'deny' } | { readonly decision: 'fraud' };

/** A problem+json answer (or a network failure: status 0, code 'unreachable'). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, detail: string) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

const API = '/mobile/v1';
const DB_NAME = 'countersign-authenticator';
const STORE = 'device';
const KEY = 'current';

const b64url = (bytes: ArrayBuffer | Uint8Array): string => {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let text = '';
  for (const b of view) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};

export const supported = (): boolean => typeof indexedDB !== 'undefined' && typeof crypto !== 'undefined' && crypto.subtle !== undefined;

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB_NAME, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error ?? new Error('IndexedDB is not available'));
  });
}

async function withStore<T>(mode: IDBTransactionMode, run: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = run(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

export const loadDevice = async (): Promise<StoredDevice | undefined> => (await withStore<StoredDevice | undefined>('readonly', (s) => s.get(KEY) as IDBRequest<StoredDevice | undefined>)) ?? undefined;
const saveDevice = (device: StoredDevice): Promise<IDBValidKey> => withStore('readwrite', (s) => s.put(device, KEY));
/** Forgets the device: its key is gone from this browser for good. */
export const forgetDevice = (): Promise<undefined> => withStore('readwrite', (s) => s.delete(KEY));

/**
 * The server's clock minus this device's, from the Date header of the last answer (to the second):
 * signatures are dated and time left is counted on the server's clock, so a phone whose clock is
 * off still works.
 */
let skew = 0;
export const serverNow = (): number => Date.now() + skew;

async function call(method: string, path: string, init: { body?: string; authorization?: string } = {}): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.authorization !== undefined) headers['authorization'] = init.authorization;
  const sent = Date.now();
  let res: Response;
  try {
    res = await fetch(path, { method, headers, cache: 'no-store', credentials: 'omit', ...(init.body !== undefined ? { body: init.body } : {}) });
  } catch {
    throw new ApiError(0, 'unreachable', 'the server cannot be reached');
  }
  const date = Date.parse(res.headers.get('date') ?? '');
  if (Number.isFinite(date)) skew = date + 500 - (sent + Date.now()) / 2;
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text === '' ? null : (JSON.parse(text) as unknown);
  } catch {
    json = null;
  }
  if (!res.ok) {
    const p = (json ?? {}) as { code?: unknown; detail?: unknown };
    throw new ApiError(res.status, typeof p.code === 'string' ? p.code : 'failed', typeof p.detail === 'string' ? p.detail : res.statusText);
  }
  return json;
}

async function signed(device: StoredDevice, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<unknown> {
  const text = body === undefined ? '' : JSON.stringify(body);
  const time = String(Math.round(serverNow()));
  const encoder = new TextEncoder();
  const digest = b64url(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, device.privateKey, encoder.encode(`${method}\n${path}\n${time}\n${digest}`));
  return call(method, path, { authorization: `CS-Device ${device.deviceId}.${time}.${b64url(signature)}`, ...(body === undefined ? {} : { body: text }) });
}

export async function fetchConfig(): Promise<{ vapidPublicKey: string | null }> {
  const config = (await call('GET', `${API}/config`)) as { vapidPublicKey?: unknown } | null;
  return { vapidPublicKey: typeof config?.vapidPublicKey === 'string' && config.vapidPublicKey !== '' ? config.vapidPublicKey : null };
}

/** Makes the key pair, registers its public half with the activation code, and keeps the device. */
export async function activate(activationCode: string, name: string, subscription: PushSubscriptionJSON | null): Promise<StoredDevice> {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const publicKey = b64url(await crypto.subtle.exportKey('spki', keys.publicKey));
  const body = JSON.stringify({ activationCode, publicKey, name, ...(subscription ? { subscription } : {}) });
  const result = (await call('POST', `${API}/devices`, { body })) as { deviceId: string; username: string; name: string };
  const device: StoredDevice = { deviceId: result.deviceId, username: result.username, name: result.name, privateKey: keys.privateKey };
  await saveDevice(device);
  return device;
}

export async function pendingRequests(device: StoredDevice): Promise<DeviceRequest[]> {
  const result = (await signed(device, 'GET', `${API}/requests`)) as { items?: DeviceRequest[] } | null;
  return result?.items ?? [];
}

export async function answer(device: StoredDevice, id: string, decision: Decision): Promise<'approved' | 'denied'> {
  const result = (await signed(device, 'POST', `${API}/requests/${encodeURIComponent(id)}`, decision)) as { state?: string } | null;
  return result?.state === 'approved' ? 'approved' : 'denied';
}

export async function sendSubscription(device: StoredDevice, subscription: PushSubscriptionJSON | null): Promise<void> {
  await signed(device, 'PUT', `${API}/subscription`, { subscription });
}
