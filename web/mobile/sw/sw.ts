/**
 * The app's service worker (served as /mobile/app/sw.js, scope /mobile/app/). A Web Push message
 * only wakes the device: it shows a notification (`{ title, body, authenticationId }`), and a tap
 * on it opens or focuses the app, which then fetches its requests itself, signed. Nothing is
 * cached: the app needs the server to answer anyway.
 */
declare const self: ServiceWorkerGlobalScope;
export {};

interface PushMessage {
  readonly title?: unknown;
  readonly body?: unknown;
  readonly authenticationId?: unknown;
}

const APP = new URL('./', self.location.href).href;

self.addEventListener('install', () => {
  void self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener('push', (event) => {
  let message: PushMessage = {};
  try {
    message = (event.data?.json() ?? {}) as PushMessage;
  } catch {
    message = {};
  }
  const french = self.navigator.language.toLowerCase().startsWith('fr');
  const title = typeof message.title === 'string' ? message.title : french ? 'Demande de connexion' : 'Sign-in request';
  const body = typeof message.body === 'string' ? message.body : french ? "Ouvrez l'application pour approuver ou refuser." : 'Open the app to approve or deny.';
  const id = typeof message.authenticationId === 'string' ? message.authenticationId : '';
  event.waitUntil(
    self.registration.showNotification(title, {
      body,
      icon: `${APP}icon.svg`,
      tag: id === '' ? 'sign-in' : `sign-in-${id}`,
      requireInteraction: true,
      data: { authenticationId: id },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const data = event.notification.data as { authenticationId?: string } | null;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((w) => w.url.startsWith(APP));
      if (open) {
        open.postMessage({ type: 'sign-in-request', authenticationId: data?.authenticationId ?? '' });
        await open.focus();
        return;
      }
      await self.clients.openWindow(APP);
    })(),
  );
});
