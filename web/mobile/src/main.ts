/**
 * Countersign Authenticator: activation, then the device's pending sign-in requests, each
 * answered by picking the number shown where the user signs in, denying it, or reporting fraud.
 * Plain DOM (no framework, no innerHTML); texts in English or French by the browser's language.
 */
import './app.css';
import { activate, answer, ApiError, fetchConfig, forgetDevice, loadDevice, pendingRequests, sendSubscription, serverNow, supported, type Decision, type DeviceRequest, type StoredDevice } from './device.ts';
import { pickLanguage, TEXTS } from './i18n.ts';
import { alreadySent, onNotificationClick, permission, rememberSent, subscription, turnOn, unsubscribe, worker } from './push.ts';

const lang = pickLanguage(navigator.languages.length > 0 ? navigator.languages : [navigator.language]);
const t = TEXTS[lang];
document.documentElement.lang = lang;

const POLL_MS = 2000;
const main = document.getElementById('main') as HTMLElement;

type Child = Node | string | null | undefined | false;

/** An element with attributes (`class`, `id`, aria-*, ...) and children. */
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false) continue;
    el.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

function show(...children: Child[]): void {
  main.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
}

/** The activation code in `#activate=<code>`, read once and removed from the address bar. */
function codeFromFragment(): string {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const code = params.get('activate') ?? '';
  if (location.hash !== '') history.replaceState(null, '', location.pathname + location.search);
  return code.trim();
}

function messageOf(e: unknown): string {
  if (!(e instanceof ApiError)) return t.failed;
  switch (e.code) {
    case 'unreachable':
      return t.unreachable;
    case 'activation_failed':
      return t.activationFailed;
    case 'rate_limited':
      return t.tooManyAttempts;
    case 'authentication_closed':
      return t.closed;
    case 'forbidden':
    case 'unauthenticated':
      return t.deviceRefused;
    default:
      return e.status === 400 && e.message !== '' ? e.message : t.failed;
  }
}

let vapidPublicKey: string | null = null;
let pendingCode = codeFromFragment();

async function start(): Promise<void> {
  void worker();
  try {
    vapidPublicKey = (await fetchConfig()).vapidPublicKey;
  } catch {
    vapidPublicKey = null;
  }
  if (!supported()) {
    show(h('h1', {}, t.appName), h('p', { class: 'error', role: 'alert' }, t.noCrypto));
    return;
  }
  const device = await loadDevice().catch(() => undefined);
  if (device) activated(device, pendingCode !== '' ? t.alreadyActivated : '');
  else activationForm();
}

function activationForm(notice = ''): void {
  const code = h('input', { id: 'code', name: 'code', type: 'text', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'activate-error' });
  code.value = pendingCode;
  const name = h('input', { id: 'name', name: 'name', type: 'text', autocomplete: 'off', maxlength: '64', required: true, 'aria-describedby': 'name-hint activate-error' });
  const error = h('p', { id: 'activate-error', class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary' }, t.activate);
  const form = h(
    'form',
    { novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'code' }, t.activationCode), code),
    h('div', { class: 'field' }, h('label', { for: 'name' }, t.deviceName), h('p', { id: 'name-hint', class: 'hint' }, t.deviceNameHint), name),
    error,
    submit,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const codeValue = code.value.trim();
    const nameValue = name.value.trim();
    if (codeValue === '' || nameValue === '') {
      error.textContent = codeValue === '' ? t.needCode : t.needName;
      (codeValue === '' ? code : name).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = t.activating;
    error.textContent = '';
    void (async () => {
      try {
        // Notifications already allowed for this app (a device activated again): subscribe at once.
        let sub: PushSubscriptionJSON | null = null;
        if (vapidPublicKey !== null && permission() === 'granted') sub = await subscription(vapidPublicKey).catch(() => null);
        const device = await activate(codeValue, nameValue, sub);
        if (sub) rememberSent(sub.endpoint);
        pendingCode = '';
        activated(device);
      } catch (e) {
        error.textContent = messageOf(e);
        submit.disabled = false;
        submit.textContent = t.activate;
        code.focus();
      }
    })();
  });
  show(
    h('h1', { id: 'title', tabindex: '-1' }, t.activateTitle),
    notice !== '' ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    h('p', {}, t.activateIntro),
    form,
  );
  (pendingCode !== '' ? name : code).focus();
}

/** What the app shows once activated; its timers stop when the device is removed from the app. */
function activated(device: StoredDevice, notice = ''): void {
  const cards = new Map<string, { card: HTMLElement; request: DeviceRequest; time: HTMLElement }>();
  const answered = new Set<string>();
  const list = h('div', { class: 'requests' });
  const empty = h('p', { class: 'empty' }, t.noRequests);
  const problem = h('p', { class: 'error', role: 'alert' });
  const result = h('div', { class: 'result', role: 'status', tabindex: '-1' });
  let stopped = false;
  let timer: number | undefined;
  let polling = false;

  function timeLeft(request: DeviceRequest): string {
    const left = Math.max(0, Math.ceil((request.expiresAt - serverNow()) / 1000));
    if (left === 0) return t.expired;
    return t.timeLeft(`${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`);
  }

  function showResult(state: 'approved' | 'denied', detail: string): void {
    result.className = `result ${state}`;
    result.replaceChildren(h('strong', { class: 'result-title' }, state === 'approved' ? t.approved : t.denied), h('span', {}, detail));
    result.focus();
  }

  function card(request: DeviceRequest): { card: HTMLElement; request: DeviceRequest; time: HTMLElement } {
    const base = `r-${request.id.replace(/[^A-Za-z0-9_-]/g, '')}`;
    const time = h('p', { class: 'time' }, timeLeft(request));
    const buttons: HTMLButtonElement[] = [];
    const numbers = h(
      'div',
      { class: 'numbers', role: 'group', 'aria-labelledby': `${base}-instruction` },
      ...request.numbers.map((n) => {
        const b = h('button', { type: 'button', class: 'number' }, String(n));
        b.addEventListener('click', () => send({ decision: 'approve', number: n }));
        buttons.push(b);
        return b;
      }),
    );
    const deny = h('button', { type: 'button', class: 'secondary' }, t.deny);
    const fraud = h('button', { type: 'button', class: 'danger-link', 'aria-expanded': 'false', 'aria-controls': `${base}-confirm` }, t.fraud);
    const fraudYes = h('button', { type: 'button', class: 'danger' }, t.fraudYes);
    const fraudNo = h('button', { type: 'button', class: 'secondary' }, t.cancel);
    const confirm = h('div', { class: 'confirm', id: `${base}-confirm`, hidden: true }, h('p', {}, t.fraudConfirm), h('div', { class: 'actions' }, fraudYes, fraudNo));
    buttons.push(deny, fraud, fraudYes, fraudNo);
    deny.addEventListener('click', () => send({ decision: 'deny' }));
    fraud.addEventListener('click', () => {
      confirm.hidden = false;
      fraud.setAttribute('aria-expanded', 'true');
      fraudYes.focus();
    });
    fraudNo.addEventListener('click', () => {
      confirm.hidden = true;
      fraud.setAttribute('aria-expanded', 'false');
      fraud.focus();
    });
    fraudYes.addEventListener('click', () => send({ decision: 'fraud' }));

    const element = h(
      'article',
      { class: 'request', 'aria-labelledby': `${base}-title` },
      h('h3', { id: `${base}-title` }, t.application(request.application)),
      request.clientIp ? h('p', { class: 'meta' }, t.from(request.clientIp)) : null,
      time,
      h('p', { class: 'instruction', id: `${base}-instruction` }, t.instruction),
      numbers,
      h('div', { class: 'actions' }, deny, fraud),
      confirm,
    );

    function send(decision: Decision): void {
      for (const b of buttons) b.disabled = true;
      problem.textContent = '';
      answered.add(request.id);
      void answer(device, request.id, decision).then(
        (state) => {
          remove(request.id);
          const detail = state === 'approved' ? t.approvedDetail(request.application) : decision.decision === 'fraud' ? t.fraudDetail(request.application) : t.deniedDetail(request.application);
          showResult(state, detail);
        },
        (e: unknown) => {
          remove(request.id);
          problem.textContent = messageOf(e);
        },
      );
    }
    return { card: element, request, time };
  }

  function remove(id: string): void {
    cards.get(id)?.card.remove();
    cards.delete(id);
    empty.hidden = cards.size > 0;
  }

  function render(items: DeviceRequest[]): void {
    const ids = new Set(items.map((r) => r.id));
    for (const id of [...cards.keys()]) if (!ids.has(id)) remove(id);
    for (const request of items) {
      if (cards.has(request.id) || answered.has(request.id)) continue;
      const c = card(request);
      cards.set(request.id, c);
      list.append(c.card);
    }
    empty.hidden = cards.size > 0;
  }

  function schedule(): void {
    window.clearTimeout(timer);
    if (!stopped && document.visibilityState === 'visible') timer = window.setTimeout(() => void poll(), POLL_MS);
  }

  async function poll(): Promise<void> {
    if (polling || stopped) return;
    polling = true;
    try {
      render(await pendingRequests(device));
      if (problem.textContent !== t.closed) problem.textContent = '';
    } catch (e) {
      problem.textContent = messageOf(e);
    } finally {
      polling = false;
      schedule();
    }
  }

  const ticker = window.setInterval(() => {
    for (const c of cards.values()) {
      const text = timeLeft(c.request);
      if (c.time.textContent !== text) c.time.textContent = text;
    }
  }, 1000);

  const onVisible = (): void => {
    if (document.visibilityState === 'visible') void poll();
    else window.clearTimeout(timer);
  };
  document.addEventListener('visibilitychange', onVisible);
  wakeApp = () => void poll();

  // Notifications: offered when the server has a VAPID key and the browser a push service.
  const notifications = h('section', { class: 'panel', 'aria-labelledby': 'notifications-title' }, h('h2', { id: 'notifications-title' }, t.notificationsTitle));
  const notificationStatus = h('p', { class: 'hint', role: 'status' });
  function renderNotifications(): void {
    const state = permission();
    if (vapidPublicKey === null || state === 'unsupported') {
      notifications.hidden = true;
      return;
    }
    if (state === 'denied') {
      notifications.replaceChildren(notifications.firstChild as Node, h('p', {}, t.notificationsDenied));
      return;
    }
    if (state === 'granted') {
      notifications.replaceChildren(notifications.firstChild as Node, notificationStatus);
      return;
    }
    const on = h('button', { type: 'button', class: 'secondary' }, t.turnOnNotifications);
    on.addEventListener('click', () => {
      on.disabled = true;
      void (async () => {
        try {
          const sub = await turnOn(vapidPublicKey as string);
          if (sub === 'denied') {
            renderNotifications();
            return;
          }
          await sendSubscription(device, sub);
          rememberSent(sub.endpoint);
          renderNotifications();
          notificationStatus.textContent = t.notificationsOn;
        } catch (e) {
          on.disabled = false;
          notificationStatus.textContent = e instanceof ApiError ? messageOf(e) : t.notificationsFailed;
        }
      })();
    });
    notifications.replaceChildren(notifications.firstChild as Node, h('p', {}, t.notificationsIntro), on, notificationStatus);
  }
  renderNotifications();
  // Allowed earlier: make sure the server has this browser's current subscription.
  if (vapidPublicKey !== null && permission() === 'granted') {
    void subscription(vapidPublicKey)
      .then(async (sub) => {
        if (!alreadySent(sub.endpoint)) {
          await sendSubscription(device, sub);
          rememberSent(sub.endpoint);
        }
        notificationStatus.textContent = t.notificationsOn;
      })
      .catch(() => {
        notificationStatus.textContent = t.notificationsFailed;
      });
  }

  // Removing the device from the app forgets its key here.
  const removeButton = h('button', { type: 'button', class: 'danger-link', 'aria-expanded': 'false', 'aria-controls': 'remove-confirm' }, t.remove);
  const removeYes = h('button', { type: 'button', class: 'danger' }, t.removeYes);
  const removeNo = h('button', { type: 'button', class: 'secondary' }, t.cancel);
  const removeConfirm = h('div', { class: 'confirm', id: 'remove-confirm', hidden: true }, h('p', {}, t.removeConfirm), h('div', { class: 'actions' }, removeYes, removeNo));
  removeButton.addEventListener('click', () => {
    removeConfirm.hidden = false;
    removeButton.setAttribute('aria-expanded', 'true');
    removeYes.focus();
  });
  removeNo.addEventListener('click', () => {
    removeConfirm.hidden = true;
    removeButton.setAttribute('aria-expanded', 'false');
    removeButton.focus();
  });
  removeYes.addEventListener('click', () => {
    removeYes.disabled = true;
    void (async () => {
      stopped = true;
      window.clearTimeout(timer);
      window.clearInterval(ticker);
      document.removeEventListener('visibilitychange', onVisible);
      wakeApp = () => undefined;
      // Best effort: the server stops waking a device that is gone.
      await sendSubscription(device, null).catch(() => undefined);
      await unsubscribe().catch(() => undefined);
      await forgetDevice();
      activationForm(t.removed);
    })();
  });

  show(
    h('h1', { id: 'title', tabindex: '-1' }, t.activatedFor(device.username)),
    h('p', { class: 'device' }, t.deviceLabel(device.name)),
    notice !== '' ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    result,
    problem,
    h('section', { class: 'panel', 'aria-labelledby': 'requests-title' }, h('h2', { id: 'requests-title' }, t.requestsTitle), empty, list),
    notifications,
    h('section', { class: 'panel', 'aria-labelledby': 'device-title' }, h('h2', { id: 'device-title' }, t.removeTitle), removeButton, removeConfirm),
  );
  (document.getElementById('title') as HTMLElement).focus();
  void poll();
}

let wakeApp: () => void = () => undefined;
onNotificationClick(() => wakeApp());

void start();
