/**
 * RADIUS load generator for bench/radius.ts. `inflight` slots, each its own UDP socket (as many
 * NAS ports), each with exactly one Access-Request outstanding: when the answer comes, the slot
 * sends its next request. Slot k sends for users k, k + inflight, k + 2 * inflight, ... of the
 * range, so every request is a different user until the range is used up. The password is the
 * user's cleartext password (`pap`), the user's current TOTP code (`passcode`) or the local
 * password followed by the code (`append`). Every request carries a Message-Authenticator; every
 * response is verified with the codec's verifyResponse (Response Authenticator, and a
 * Message-Authenticator that must be there) and the Message-Authenticator must be the first
 * attribute, before the response counts.
 *
 * TOTP requests are built when sent, with the code of that moment. PAP requests do not depend on
 * the time, so the first `precompute` are built before the clock starts (fresh random Request
 * Authenticators all the same): the generator must not be what limits a fast server.
 *
 * A request unanswered after `retransmitMs` is sent again once, with the same octets (a
 * retransmission, as a NAS sends it); unanswered `giveUpMs` after the first send, it is lost and
 * the slot moves on.
 *
 *   node bench/radius-load.ts '<json options>'      (see LoadOptions; the harness passes them)
 *
 * Prints `window-start` after the warm-up and `window-end` when the measured window closes (the
 * harness reads the server's CPU time at both), then drains and prints `result <json>`.
 */
import { randomFillSync } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { attribute, encodePacket, encryptUserPassword, RadiusSecret, verifyResponse, type RadiusAttribute } from '../src/doors/radius/codec.ts';
import { LOCAL_PASSWORD, papPasswordOf, totpCode, totpSecretOf, userName } from './radius-users.ts';

export type LoadMode = 'pap' | 'passcode' | 'append';

export interface LoadOptions {
  host: string;
  port: number;
  /** Source address (a loopback address: the server tells clients apart by it). */
  bind: string;
  secret: string;
  mode: LoadMode;
  /** Users `first` .. `first + count - 1`. */
  first: number;
  count: number;
  seconds: number;
  warmupSeconds: number;
  inflight: number;
  retransmitMs: number;
  giveUpMs: number;
  /** PAP only: how many requests to build before the clock starts (the rest are built when sent). */
  precompute: number;
}

export interface LoadResult {
  mode: LoadMode;
  /** Requests sent (first transmissions), over the whole run. */
  sent: number;
  /** Requests answered inside the measured window. */
  windowAnswered: number;
  windowSeconds: number;
  /** windowAnswered / windowSeconds. */
  rps: number;
  accepts: number;
  rejects: number;
  challenges: number;
  /** Requests sent a second time (no answer within retransmitMs). */
  retransmitted: number;
  /** Requests never answered (giveUpMs after the first send). */
  lost: number;
  /** Responses that failed verification (authenticators, Message-Authenticator missing or not first). */
  badResponses: number;
  /** Second answers to a retransmitted request, and answers after giving up. */
  extraResponses: number;
  /** Latency from the first send to the answer, of requests sent in the window, in ms. */
  p50: number;
  p99: number;
  max: number;
  /** The generator's own CPU time in the window, as a share of the window (1 = one core saturated). */
  generatorCpu: number;
  /** Users reached a second time in one 30-second step (their code would be a replay). */
  reusedInStep: number;
  /** PAP requests that were built before the clock started, of those sent. */
  precomputedSent: number;
}

interface Request {
  readonly id: number;
  readonly bytes: Buffer;
  readonly authenticator: Uint8Array;
}

interface Slot {
  readonly socket: Socket;
  /** How many requests this slot has sent. */
  sent: number;
  current: (Request & { firstSentAt: number; inWindow: boolean; retransmitted: boolean }) | null;
  readonly prebuilt: Request[];
}

const opts = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
const secret = new RadiusSecret(opts.secret);
const stats = {
  sent: 0,
  windowAnswered: 0,
  accepts: 0,
  rejects: 0,
  challenges: 0,
  retransmitted: 0,
  lost: 0,
  badResponses: 0,
  extraResponses: 0,
  reusedInStep: 0,
  precomputedSent: 0,
};
const latencies: number[] = [];
const slots: Slot[] = [];
const lastStep = new Float64Array(opts.count).fill(-1);
let phase: 'warmup' | 'window' | 'drain' = 'warmup';

// The same for every request.
const fixed: RadiusAttribute[] = [attribute('NAS-IP-Address', opts.bind), attribute('NAS-Identifier', 'bench-nas'), attribute('NAS-Port-Type', 5)];

// Random Request Authenticators, drawn from a pool refilled in bulk.
const pool = Buffer.alloc(16 * 4096);
let poolAt = pool.length;
function randomAuthenticator(): Uint8Array {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  poolAt += 16;
  return new Uint8Array(pool.subarray(poolAt - 16, poolAt));
}

/** The n-th request of slot k, built now. */
function build(k: number, n: number): Request {
  const index = (k + n * opts.inflight) % opts.count;
  const name = userName(opts.first + index);
  let password: string;
  if (opts.mode === 'pap') {
    password = papPasswordOf(name);
  } else {
    const now = Date.now();
    const step = Math.floor(now / 30_000);
    if (lastStep[index] === step) stats.reusedInStep++;
    lastStep[index] = step;
    const code = totpCode(totpSecretOf(name), now);
    password = opts.mode === 'append' ? LOCAL_PASSWORD + code : code;
  }
  const id = n % 256;
  const authenticator = randomAuthenticator();
  const attributes = [
    attribute('User-Name', name),
    { type: 2, value: encryptUserPassword(password, secret, authenticator) },
    ...fixed,
    attribute('Calling-Station-Id', `198.51.100.${index % 250}`),
  ];
  return { id, bytes: encodePacket({ code: 'Access-Request', identifier: id, attributes }, secret, authenticator), authenticator };
}

function send(k: number): void {
  const slot = slots[k]!;
  if (phase === 'drain') return;
  const n = slot.sent++;
  const prebuilt = slot.prebuilt[n];
  if (prebuilt) {
    slot.prebuilt[n] = undefined as unknown as Request;
    stats.precomputedSent++;
  }
  const request = prebuilt ?? build(k, n);
  slot.current = { ...request, firstSentAt: performance.now(), inWindow: phase === 'window', retransmitted: false };
  stats.sent++;
  slot.socket.send(request.bytes, opts.port, opts.host);
}

function onMessage(k: number, msg: Buffer): void {
  const now = performance.now();
  const slot = slots[k]!;
  const current = slot.current;
  if (!current || msg.length < 20 || msg[1] !== current.id) {
    stats.extraResponses++;
    return;
  }
  let verdict: string;
  try {
    verdict = verifyResponse(msg, current.authenticator, secret, { requireMessageAuthenticator: true });
  } catch {
    verdict = 'malformed';
  }
  // Blast-RADIUS hardening: the Message-Authenticator must be the first attribute (type 80).
  if (verdict !== 'valid' || msg[20] !== 80) {
    // A late answer to an earlier request with the same identifier fails here too; the current one stays outstanding.
    stats.badResponses++;
    return;
  }
  if (msg[0] === 2) stats.accepts++;
  else if (msg[0] === 3) stats.rejects++;
  else if (msg[0] === 11) stats.challenges++;
  else stats.badResponses++;
  if (phase === 'window') stats.windowAnswered++;
  if (current.inWindow) latencies.push(now - current.firstSentAt);
  slot.current = null;
  send(k);
}

function sweep(): void {
  const now = performance.now();
  for (let k = 0; k < slots.length; k++) {
    const slot = slots[k]!;
    const current = slot.current;
    if (!current) continue;
    const age = now - current.firstSentAt;
    if (age >= opts.giveUpMs) {
      stats.lost++;
      slot.current = null;
      send(k);
    } else if (!current.retransmitted && age >= opts.retransmitMs) {
      current.retransmitted = true;
      stats.retransmitted++;
      slot.socket.send(current.bytes, opts.port, opts.host);
    }
  }
}

async function bound(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, opts.bind, resolve));
  return socket;
}

/** Status-Server until the server answers (it may still be starting). */
async function waitForServer(timeoutMs: number): Promise<void> {
  const s = await bound();
  const deadline = Date.now() + timeoutMs;
  try {
    for (let id = 0; Date.now() < deadline; id = (id + 1) % 256) {
      const auth = randomAuthenticator();
      const bytes = encodePacket({ code: 'Status-Server', identifier: id, attributes: [attribute('NAS-Identifier', 'bench-nas')] }, secret, auth);
      const answered = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          s.off('message', on);
          resolve(false);
        }, 300);
        const on = (msg: Buffer): void => {
          clearTimeout(timer);
          s.off('message', on);
          resolve(verifyResponse(msg, auth, secret) === 'valid');
        };
        s.on('message', on);
        s.send(bytes, opts.port, opts.host);
      });
      if (answered) return;
    }
    throw new Error(`no answer to Status-Server from ${opts.host}:${opts.port} within ${timeoutMs} ms`);
  } finally {
    s.close();
  }
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

await waitForServer(15_000);
const perSlot = opts.mode === 'pap' ? Math.ceil(opts.precompute / opts.inflight) : 0;
for (let k = 0; k < opts.inflight; k++) {
  const socket = await bound();
  const prebuilt: Request[] = [];
  for (let n = 0; n < perSlot; n++) prebuilt.push(build(k, n));
  slots.push({ socket, sent: 0, current: null, prebuilt });
  socket.on('message', (msg) => onMessage(k, msg));
}

const sweeper = setInterval(sweep, 20);
for (let k = 0; k < slots.length; k++) send(k);
await new Promise((r) => setTimeout(r, opts.warmupSeconds * 1000));
phase = 'window';
const windowStart = performance.now();
const cpuStart = process.cpuUsage();
process.stdout.write('window-start\n');
await new Promise((r) => setTimeout(r, opts.seconds * 1000));
phase = 'drain';
const windowEnd = performance.now();
const cpu = process.cpuUsage(cpuStart);
process.stdout.write('window-end\n');
// Drain: every outstanding request is answered or given up.
while (slots.some((s) => s.current) && performance.now() - windowEnd < opts.giveUpMs + 500) await new Promise((r) => setTimeout(r, 20));
clearInterval(sweeper);
for (const s of slots) s.socket.close();

latencies.sort((a, b) => a - b);
const windowSeconds = (windowEnd - windowStart) / 1000;
const result: LoadResult = {
  mode: opts.mode,
  ...stats,
  windowSeconds,
  rps: stats.windowAnswered / windowSeconds,
  p50: percentile(latencies, 0.5),
  p99: percentile(latencies, 0.99),
  max: latencies.at(-1) ?? NaN,
  generatorCpu: (cpu.user + cpu.system) / 1e6 / windowSeconds,
};
process.stdout.write(`result ${JSON.stringify(result)}\n`);
