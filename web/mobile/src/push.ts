/**
 * The service worker and the Web Push subscription. A subscription only wakes the app (a
 * notification); requests are always fetched by the app itself, signed. Everything here may be
 * missing (no service worker over an untrusted certificate, no push service): the app then works
 * while it is open.
 */

const SW_URL = '/mobile/app/sw.js';
const SCOPE = '/mobile/app/';
const SENT = 'countersign-push-endpoint';

let registration: Promise<ServiceWorkerRegistration | undefined> | undefined;

/** Registers the service worker once; undefined when the browser will not. */
export function worker(): Promise<ServiceWorkerRegistration | undefined> {
  registration ??= 'serviceWorker' in navigator ? navigator.serviceWorker.register(SW_URL, { scope: SCOPE }).catch(() => undefined) : Promise.resolve(undefined);
  return registration;
}

export const pushSupported = (): boolean => 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

export const permission = (): NotificationPermission | 'unsupported' => (pushSupported() ? Notification.permission : 'unsupported');

function fromB64url(text: string): Uint8Array<ArrayBuffer> {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function sameKey(a: ArrayBuffer | null, b: Uint8Array): boolean {
  if (!a || a.byteLength !== b.length) return false;
  const view = new Uint8Array(a);
  return view.every((x, i) => x === b[i]);
}

/** This browser's subscription for `vapidPublicKey`, made when there is none (permission must be granted). */
export async function subscription(vapidPublicKey: string): Promise<PushSubscriptionJSON> {
  const reg = await worker();
  if (!reg) throw new Error('no service worker');
  // Subscribing needs the worker active; a worker that never activates is a failure, not a wait forever.
  await Promise.race([navigator.serviceWorker.ready, new Promise((_, reject) => setTimeout(() => reject(new Error('service worker not active')), 10_000))]);
  const key = fromB64url(vapidPublicKey);
  let current = await reg.pushManager.getSubscription();
  if (current && !sameKey(current.options.applicationServerKey, key)) {
    // Made for another server key: replace it.
    await current.unsubscribe();
    current = null;
  }
  current ??= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  return current.toJSON();
}

/** Asks for permission (on a user's tap) and subscribes. */
export async function turnOn(vapidPublicKey: string): Promise<PushSubscriptionJSON | 'denied'> {
  const answer = await Notification.requestPermission();
  if (answer !== 'granted') return 'denied';
  return subscription(vapidPublicKey);
}

/** Whether the server was last sent this endpoint (kept so it is sent again only when it changes). */
export const alreadySent = (endpoint: string | undefined): boolean => endpoint !== undefined && localStorage.getItem(SENT) === endpoint;
export const rememberSent = (endpoint: string | undefined): void => {
  if (endpoint === undefined) localStorage.removeItem(SENT);
  else localStorage.setItem(SENT, endpoint);
};

/** Drops this browser's subscription (when the device is removed from the app). */
export async function unsubscribe(): Promise<void> {
  rememberSent(undefined);
  const reg = await worker();
  const current = await reg?.pushManager.getSubscription().catch(() => null);
  await current?.unsubscribe().catch(() => false);
}

/** Calls `wake` when a notification is tapped while the app is open. */
export function onNotificationClick(wake: () => void): void {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('message', (event: MessageEvent) => {
    const data = event.data as { type?: unknown } | null;
    if (data?.type === 'sign-in-request') wake();
  });
}
