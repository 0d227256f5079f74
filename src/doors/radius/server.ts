/**
 * The RADIUS front door: UDP sockets for authentication and accounting, IPv4 and IPv6.
 *
 * For every datagram, in order, and silently dropping whatever fails (RFC 2865: no reply to
 * packets that fail validation, Blast-RADIUS hardening):
 * 1. the source address must belong to a configured client;
 * 2. the packet must decode (lengths, attribute counts) and be an Access-Request / Status-Server
 *    (authentication port) or an Accounting-Request (accounting port);
 * 3. the Message-Authenticator must be valid, and present unless the client is allowed without;
 * 4. at most MAX_PROXY_STATES Proxy-State attributes;
 * 5. a retransmission (same client address, port, identifier and Request Authenticator within
 *    DUPLICATE_MS) gets the first answer again: it never consumes a second code or counts a second
 *    failure.
 * Responses carry the Message-Authenticator first and echo Proxy-State (RFC 2865).
 *
 * Requests Countersign cannot check itself (CHAP, MS-CHAP, MS-CHAPv2, EAP), and every request of a
 * client whose first factor is `upstream`, are forwarded to the client's upstream RADIUS server.
 * Its Access-Reject (and EAP Access-Challenge rounds) pass straight through; its Access-Accept
 * leads to the second factor, and the Accept's attributes are passed on with the final Accept
 * (MPPE keys re-encrypted for the client).
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { Actor, Core } from '../../core/api.ts';
import { createAudit } from '../../core/audit.ts';
import { NetworkList, isIpAddress } from '../../core/auth/networks.ts';
import type { FirstFactorRegistry } from '../../core/first-factor/by-source.ts';
import type { Clock, Store } from '../../core/ports.ts';
import type { RadiusClientConfig, RadiusConfig } from '../../config/schema.ts';
import { ChallengeStates, decideAccess, splitAppended, type AccessDecision, type AccessPolicy } from './access.ts';
import {
  RadiusDecodeError,
  RadiusSecret,
  attribute,
  decodePacket,
  decryptSaltedValue,
  decryptUserPassword,
  encodePacket,
  encryptSaltedValue,
  encryptUserPassword,
  readVendorAttributes,
  readVendorSpecific,
  vendorSpecific,
  verifyAccountingRequest,
  verifyRequest,
  verifyResponse,
  type RadiusAttribute,
  type RadiusPacket,
} from './codec.ts';
import { ATTRIBUTES, type AttributeName } from './dictionary.ts';
import { ReplyAttributeError, encodeReplyAttribute, withUserAttributes } from './reply-attributes.ts';

/** Retransmissions within this window get the cached answer (RFC 5080 section 2.2.2). */
export const DUPLICATE_MS = 30_000;
/** At most this many remembered answers; the oldest go first beyond it. */
export const MAX_REMEMBERED = 200_000;
/** More Proxy-State attributes than this and the request is dropped. */
export const MAX_PROXY_STATES = 8;
const MICROSOFT = 311;
const MPPE_SEND_KEY = 16;
const MPPE_RECV_KEY = 17;
const TYPE = (name: AttributeName): number => ATTRIBUTES[name].type;

export interface UpstreamServer {
  readonly host: string;
  readonly port: number;
  readonly secret: RadiusSecret;
  readonly timeoutMs: number;
  readonly retries: number;
}

export interface RadiusClient {
  readonly name: string;
  readonly networks: NetworkList;
  readonly secret: RadiusSecret;
  readonly requireMessageAuthenticator: boolean;
  readonly policy: AccessPolicy;
  /** The first factor is the upstream server's answer. */
  readonly upstreamFirstFactor: boolean;
  readonly upstream: UpstreamServer | null;
  readonly replyAttributes: readonly RadiusAttribute[];
  readonly groupReplyAttributes: readonly { readonly directory: string; readonly group: string; readonly attributes: readonly RadiusAttribute[] }[];
}

export class RadiusConfigError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'RadiusConfigError';
    this.field = field;
  }
}

async function secretOf(c: { secret?: string | undefined; secretFile?: string | undefined }, field: string): Promise<RadiusSecret> {
  if ((c.secret === undefined) === (c.secretFile === undefined)) throw new RadiusConfigError(field, 'give exactly one of secret and secretFile');
  let text = c.secret;
  if (c.secretFile !== undefined) {
    try {
      text = (await readFile(c.secretFile, 'utf8')).replace(/\r?\n$/, '');
    } catch (e) {
      throw new RadiusConfigError(`${field}File`, `cannot read ${c.secretFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  const bytes = Buffer.byteLength(text ?? '', 'utf8');
  if (bytes < 1 || bytes > 128) throw new RadiusConfigError(field, `must be 1 to 128 octets, not ${bytes}`);
  return new RadiusSecret(text as string);
}

/** A configured reply attribute as an encoded attribute; errors name the setting. */
function replyAttribute(a: { name: string; value: string }, field: string): RadiusAttribute {
  try {
    return encodeReplyAttribute(a);
  } catch (e) {
    if (e instanceof ReplyAttributeError) throw new RadiusConfigError(`${field}.${e.part}`, e.message);
    throw e;
  }
}

const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The clients of the configuration, checked; `warn` gets the weak-secret warnings. */
export async function radiusClients(
  config: RadiusConfig,
  firstFactors: FirstFactorRegistry,
  warn: (message: string) => void,
  directories?: readonly string[],
): Promise<RadiusClient[]> {
  const out: RadiusClient[] = [];
  for (const [i, c] of config.clients.entries()) {
    const f = `radius.clients[${i}]`;
    if (!CLIENT_NAME.test(c.name)) throw new RadiusConfigError(`${f}.name`, 'must be 1-64 letters, digits, dot, dash or underscore');
    const secret = await secretOf(c, `${f}.secret`);
    if (secret.bytes.length <= 12)
      warn(`radius client ${c.name}: the shared secret has only ${secret.bytes.length} characters; use at least 16 random characters`);
    const upstream = c.upstream ? await upstreamOf(c.upstream, `${f}.upstream`) : null;
    const upstreamFirstFactor = c.firstFactor === 'upstream';
    if (upstreamFirstFactor && !upstream) throw new RadiusConfigError(`${f}.upstream`, 'firstFactor "upstream" needs an upstream server');
    let firstFactor = null;
    if (c.firstFactor !== 'none' && !upstreamFirstFactor) {
      try {
        firstFactor = firstFactors.resolve(c.firstFactor);
      } catch (e) {
        throw new RadiusConfigError(`${f}.firstFactor`, `${(e as Error).message.replace(/\)$/, '')}, upstream, none)`);
      }
    }
    if (c.mode === 'passcode' && (upstreamFirstFactor || c.firstFactor !== 'none')) {
      throw new RadiusConfigError(`${f}.mode`, 'passcode mode has no password to check: set firstFactor to none');
    }
    out.push({
      name: c.name,
      networks: new NetworkList(c.addresses),
      secret,
      requireMessageAuthenticator: c.requireMessageAuthenticator,
      policy: policyOf(c, firstFactor),
      upstreamFirstFactor,
      upstream,
      replyAttributes: c.replyAttributes.map((a, j) => replyAttribute(a, `${f}.replyAttributes[${j}]`)),
      groupReplyAttributes: c.groupReplyAttributes.map((g, j) => {
        if (directories && !directories.includes(g.directory)) {
          throw new RadiusConfigError(
            `${f}.groupReplyAttributes[${j}].directory`,
            `no directory source named "${g.directory}" (configured: ${directories.join(', ') || 'none'})`,
          );
        }
        return {
          directory: g.directory,
          group: g.group,
          attributes: g.attributes.map((a, k) => replyAttribute(a, `${f}.groupReplyAttributes[${j}].attributes[${k}]`)),
        };
      }),
    });
  }
  return out;
}

function policyOf(c: RadiusClientConfig, firstFactor: AccessPolicy['firstFactor']): AccessPolicy {
  return {
    client: c.name,
    application: c.application ?? c.name,
    mode: c.mode,
    firstFactor,
    appendCodeLength: c.appendCodeLength,
    ...(c.appendDelimiter !== undefined ? { appendDelimiter: c.appendDelimiter } : {}),
    holdMs: c.holdSeconds * 1000,
  };
}

async function upstreamOf(u: NonNullable<RadiusClientConfig['upstream']>, field: string): Promise<UpstreamServer> {
  return { host: u.host, port: u.port, secret: await secretOf(u, `${field}.secret`), timeoutMs: u.timeoutMs, retries: u.retries };
}

// ---------------------------------------------------------------------------------------------

export interface RadiusServerOptions {
  readonly core: Core;
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly config: RadiusConfig;
  readonly clients: readonly RadiusClient[];
  /** Name of this server in audit events. */
  readonly serverName: string;
  /** Group membership in a directory source (for groupReplyAttributes); throws when the directory cannot be asked. */
  readonly isMember?: (directory: string, username: string, group: string) => Promise<boolean>;
}

/** Why a packet got no reply. */
export type DropReason =
  | 'unknown_client'
  | 'malformed'
  | 'unexpected_code'
  | 'bad_message_authenticator'
  | 'no_message_authenticator'
  | 'too_many_proxy_states'
  | 'bad_user_password'
  | 'bad_accounting_authenticator';

export interface RadiusStats {
  received: number;
  dropped: number;
  duplicates: number;
  answered: number;
  readonly droppedBy: Record<DropReason, number>;
}

export interface RadiusServer {
  /** The bound sockets: family, address and port of each. */
  readonly addresses: readonly { readonly kind: 'auth' | 'acct'; readonly address: string; readonly port: number }[];
  /** Packets received, answered, answered again from the cache, and dropped (in all and by reason): for tests and metrics. */
  readonly stats: RadiusStats;
  close(): Promise<void>;
}

/** What the upstream server answered, with what the final Accept must carry. */
interface UpstreamAnswer {
  readonly packet: RadiusPacket;
  /** Request Authenticator of the request the upstream answered (for its salted values). */
  readonly requestAuthenticator: Uint8Array;
}

export async function startRadiusServer(opts: RadiusServerOptions): Promise<RadiusServer> {
  const { core, store, clock, logger, config, clients } = opts;
  const audit = createAudit(store, opts.serverName);
  // Each client's application must exist: created with the default policy when missing (audited).
  for (const name of new Set(clients.map((c) => c.policy.application))) {
    try {
      await core.applications.get(name);
    } catch (e) {
      if ((e as { code?: string }).code !== 'application_not_found') throw e;
      await core.applications.create({ name }, { kind: 'system', name: 'radius', role: 'admin' });
      logger.info({ application: name }, 'radius: created the application of a client');
    }
  }
  const states = new ChallengeStates(clock, config.challengeSeconds * 1000);
  const recent = new Map<string, { at: number; reply: Promise<Buffer | null> }>();
  const stats: RadiusStats = {
    received: 0,
    dropped: 0,
    duplicates: 0,
    answered: 0,
    droppedBy: {
      unknown_client: 0,
      malformed: 0,
      unexpected_code: 0,
      bad_message_authenticator: 0,
      no_message_authenticator: 0,
      too_many_proxy_states: 0,
      bad_user_password: 0,
      bad_accounting_authenticator: 0,
    },
  };
  const sockets: { kind: 'auth' | 'acct'; socket: Socket }[] = [];
  const upstreamSockets = new Map<string, UpstreamLink>();
  const actorOf = (client: RadiusClient): Actor => ({ kind: 'system', name: `radius:${client.name}`, role: 'sdk' });

  // Source address -> client, remembered (bounded): parsing addresses is costly and NAS addresses are few.
  const known = new Map<string, RadiusClient | null>();
  const clientFor = (address: string): RadiusClient | undefined => {
    let c = known.get(address);
    if (c === undefined) {
      c = clients.find((x) => x.networks.contains(address)) ?? null;
      if (known.size >= 10_000) known.clear();
      known.set(address, c);
    }
    return c ?? undefined;
  };
  const drop = (why: DropReason, rinfo: RemoteInfo, extra: Record<string, unknown> = {}): null => {
    stats.dropped++;
    stats.droppedBy[why]++;
    logger.debug({ from: `${rinfo.address}:${rinfo.port}`, why, ...extra }, 'radius packet dropped');
    return null;
  };

  // Entries are in arrival order: pruning stops at the first one still fresh.
  const prune = setInterval(() => {
    const before = clock.now() - DUPLICATE_MS;
    for (const [k, v] of recent) {
      // Still being answered (a request held for a phone call): kept until its answer is known.
      if (v.at === Number.POSITIVE_INFINITY) continue;
      if (v.at >= before) break;
      recent.delete(k);
    }
  }, 1_000);
  prune.unref();

  function linkFor(upstream: UpstreamServer): UpstreamLink {
    const key = `${upstream.host}:${upstream.port}`;
    let link = upstreamSockets.get(key);
    if (!link) {
      link = new UpstreamLink(upstream, logger);
      upstreamSockets.set(key, link);
    }
    return link;
  }

  /** The sending client and the decoded packet, or null when the datagram is dropped. */
  function receive(msg: Buffer, rinfo: RemoteInfo): { client: RadiusClient; packet: RadiusPacket } | null {
    const client = clientFor(rinfo.address);
    if (!client) return drop('unknown_client', rinfo);
    try {
      return { client, packet: decodePacket(msg) };
    } catch (e) {
      if (e instanceof RadiusDecodeError) return drop('malformed', rinfo, { client: client.name, detail: e.reason });
      throw e;
    }
  }

  /** The answer to a request, computed once: a retransmission (same key) gets the same answer. */
  function once(key: string, client: RadiusClient, work: () => Promise<Buffer | null>): Promise<Buffer | null> {
    const seen = recent.get(key);
    if (seen) {
      stats.duplicates++;
      return seen.reply;
    }
    const reply = work().catch((e: unknown) => {
      logger.error({ err: e, client: client.name }, 'radius request failed');
      return null;
    });
    if (recent.size >= MAX_REMEMBERED) {
      const oldest = recent.keys().next().value;
      if (oldest !== undefined) recent.delete(oldest);
    }
    // The duplicate window starts when the answer is known, so a request held for a phone call
    // longer than the window still gets its retransmissions answered from the same wait.
    const entry = { at: Number.POSITIVE_INFINITY, reply };
    recent.set(key, entry);
    void reply.then(() => {
      if (recent.get(key) !== entry) return;
      recent.delete(key);
      recent.set(key, { at: clock.now(), reply });
    });
    return reply;
  }

  const requestKey = (rinfo: RemoteInfo, packet: RadiusPacket): string => {
    const a = packet.authenticator;
    return `${rinfo.address}|${rinfo.port}|${packet.identifier}|${Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex')}`;
  };

  // Calling-Station-Id values seen, and whether each is an IP address (bounded): parsing one costs
  // more than the rest of the door's JavaScript, and a NAS sends the same few again and again.
  const addressLike = new Map<string, boolean>();
  const endUserIpOf = (calling: string | undefined): string | null => {
    if (calling === undefined) return null;
    let ip = addressLike.get(calling);
    if (ip === undefined) {
      ip = isIpAddress(calling);
      if (addressLike.size >= 10_000) addressLike.clear();
      addressLike.set(calling, ip);
    }
    return ip ? calling : null;
  };

  async function handleAuth(msg: Buffer, rinfo: RemoteInfo): Promise<Buffer | null> {
    const received = receive(msg, rinfo);
    if (!received) return null;
    const { client, packet } = received;
    if (packet.code !== 'Access-Request' && packet.code !== 'Status-Server')
      return drop('unexpected_code', rinfo, { client: client.name, detail: packet.code });
    const verdict = verifyRequest(packet, msg, client.secret);
    if (verdict === 'invalid') return drop('bad_message_authenticator', rinfo, { client: client.name });
    const eap = packet.has('EAP-Message');
    if (verdict === 'missing' && (client.requireMessageAuthenticator || eap || packet.code === 'Status-Server')) {
      return drop('no_message_authenticator', rinfo, { client: client.name });
    }
    if (packet.count('Proxy-State') > MAX_PROXY_STATES) return drop('too_many_proxy_states', rinfo, { client: client.name });

    return once(requestKey(rinfo, packet), client, () => answer(client, packet, rinfo));
  }

  async function answer(client: RadiusClient, packet: RadiusPacket, rinfo: RemoteInfo): Promise<Buffer | null> {
    const proxyStates = proxyStatesOf(packet);
    const respond = (code: 'Access-Accept' | 'Access-Reject' | 'Access-Challenge', attributes: RadiusAttribute[] = []): Buffer =>
      encodePacket({ code, identifier: packet.identifier, attributes: [...attributes, ...proxyStates] }, client.secret, packet.authenticator);
    if (packet.code === 'Status-Server') return respond('Access-Accept');

    const username = packet.get('User-Name') ?? '';
    const hidden = packet.raw(TYPE('User-Password'))[0];
    let password: string | null = null;
    if (hidden !== undefined) {
      try {
        password = Buffer.from(decryptUserPassword(hidden, client.secret, packet.authenticator)).toString('utf8');
      } catch (e) {
        if (e instanceof RadiusDecodeError) return drop('bad_user_password', rinfo, { client: client.name, detail: e.reason });
        throw e;
      }
    }
    const state = packet.get('State') ?? null;
    const endUserIp = endUserIpOf(packet.get('Calling-Station-Id'));
    // Our State answers our challenge; any other State (an upstream server's EAP round) is forwarded.
    const ours = state !== null && states.has(state);
    const unverifiable =
      packet.has('CHAP-Password') || packet.has('EAP-Message') || packet.vendorAttributes(MICROSOFT).some((a) => a.type === 1 || a.type === 25);

    let decision: AccessDecision & { carry?: unknown };
    const deps = { core, states, actor: actorOf(client) };
    // A State that is not ours, without an upstream round to belong to: expired, replayed or forged.
    if (state !== null && !ours && !(unverifiable || client.upstreamFirstFactor)) return respond('Access-Reject');
    if (!ours && (unverifiable || client.upstreamFirstFactor)) {
      if (!client.upstream) {
        logger.warn({ client: client.name, username }, 'radius request needs an upstream server (CHAP, MS-CHAP or EAP), none is configured');
        return respond('Access-Reject');
      }
      // The password part only, in append mode, for PAP.
      let forwardedPassword = password;
      let code: string | null = null;
      if (password !== null && client.policy.mode === 'append') {
        const parts = splitAppended(password, client.policy);
        if (!parts) return respond('Access-Reject');
        forwardedPassword = parts.password;
        code = parts.code;
      }
      const up = await linkFor(client.upstream).forward(packet, forwardedPassword);
      if (!up) return respond('Access-Reject');
      if (up.packet.code !== 'Access-Accept') {
        // Reject and EAP challenge rounds pass straight through.
        return respond(up.packet.code === 'Access-Challenge' ? 'Access-Challenge' : 'Access-Reject', passThrough(up, client.secret, packet.authenticator));
      }
      // The upstream server checked the first factor; now the second.
      const policy = { ...client.policy, firstFactor: null };
      decision =
        code !== null
          ? await decideAccess(deps, { ...policy, mode: 'passcode' }, { username, password: code, state: null, endUserIp }, up)
          : await decideAccess(deps, { ...policy, mode: 'challenge' }, { username, password: '', state: null, endUserIp }, up);
    } else {
      decision = await decideAccess(deps, client.policy, { username, password, state: ours ? state : null, endUserIp });
    }
    logger.info({ client: client.name, username, decision: decision.kind, reason: decision.reason }, 'radius access');
    if (decision.kind === 'challenge') {
      return respond('Access-Challenge', [attribute('Reply-Message', decision.message), attribute('State', decision.state)]);
    }
    if (decision.kind === 'reject') return respond('Access-Reject');
    const carried = decision.carry ? passThrough(decision.carry as UpstreamAnswer, client.secret, packet.authenticator) : [];
    // The user's own attributes replace those of the same name (see reply-attributes.ts).
    // The user's own attributes as the decision read them, or read now (after a phone call or push).
    const own = decision.replyAttributes ? decision.replyAttributes.map(encodeReplyAttribute) : await userAttributes(client, username);
    if (own === null) return respond('Access-Reject');
    return respond('Access-Accept', withUserAttributes([...carried, ...client.replyAttributes, ...(await groupAttributes(client, username))], own));
  }

  /**
   * The reply attributes stored on the user; none for a name without a user (an application that
   * does not require one); null when they cannot be read, and the request is then refused rather
   * than accepted without the user's policy.
   */
  async function userAttributes(client: RadiusClient, username: string): Promise<RadiusAttribute[] | null> {
    try {
      return (await core.users.get(username)).replyAttributes.map(encodeReplyAttribute);
    } catch (e) {
      if ((e as { code?: string }).code === 'user_not_found') return [];
      logger.error({ err: e, client: client.name, username }, "radius: the user's reply attributes could not be read; the request is refused");
      return null;
    }
  }

  /** The attributes of the groups the user belongs to; a group that cannot be checked adds nothing. */
  async function groupAttributes(client: RadiusClient, username: string): Promise<RadiusAttribute[]> {
    const out: RadiusAttribute[] = [];
    for (const g of client.groupReplyAttributes) {
      try {
        if (!opts.isMember) throw new Error(`directory ${g.directory} is not configured`);
        if (await opts.isMember(g.directory, username, g.group)) out.push(...g.attributes);
      } catch (e) {
        logger.warn(
          { err: e, client: client.name, username, group: g.group },
          'radius: group membership could not be checked; its reply attributes are left out',
        );
      }
    }
    return out;
  }

  async function handleAcct(msg: Buffer, rinfo: RemoteInfo): Promise<Buffer | null> {
    const received = receive(msg, rinfo);
    if (!received) return null;
    const { client, packet } = received;
    if (packet.code !== 'Accounting-Request') return drop('unexpected_code', rinfo, { client: client.name, detail: packet.code });
    if (verifyAccountingRequest(msg, client.secret) !== 'valid') return drop('bad_accounting_authenticator', rinfo, { client: client.name });
    return once(`acct|${requestKey(rinfo, packet)}`, client, async () => {
      const status = packet.get('Acct-Status-Type');
      await audit.accounting({
        now: clock.now(),
        status: ACCT_STATUS[status ?? 0] ?? `status-${status ?? 'none'}`,
        username: packet.get('User-Name') ?? null,
        application: client.policy.application,
        clientIp: packet.get('Calling-Station-Id') ?? null,
        device: client.name,
        details: {
          session: packet.get('Acct-Session-Id') ?? null,
          nas: packet.get('NAS-IP-Address') ?? packet.get('NAS-Identifier') ?? rinfo.address,
          framedIp: packet.get('Framed-IP-Address') ?? null,
        },
      });
      return encodePacket(
        { code: 'Accounting-Response', identifier: packet.identifier, attributes: proxyStatesOf(packet) },
        client.secret,
        packet.authenticator,
      );
    });
  }

  let closed = false;
  const bind = async (kind: 'auth' | 'acct', address: string, port: number): Promise<void> => {
    const family = isIP(address) === 6 ? 'udp6' : 'udp4';
    const socket = createSocket({ type: family, ipv6Only: family === 'udp6', reuseAddr: false });
    socket.on('message', (msg, rinfo) => {
      stats.received++;
      const handle = kind === 'auth' ? handleAuth : handleAcct;
      handle(msg, rinfo).then(
        (reply) => {
          // A request held for a phone call or the app may be decided after the door closed.
          if (!reply || closed) return;
          stats.answered++;
          socket.send(reply, rinfo.port, rinfo.address);
        },
        (e: unknown) => logger.error({ err: e }, 'radius packet failed'),
      );
    });
    socket.on('error', (e) => logger.error({ err: e, kind, address }, 'radius socket error'));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address, port, exclusive: true }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    sockets.push({ kind, socket });
  };

  try {
    for (const address of config.listen) {
      await bind('auth', address, config.authPort);
      if (config.acctPort !== 0) await bind('acct', address, config.acctPort);
    }
  } catch (e) {
    for (const s of sockets) s.socket.close();
    clearInterval(prune);
    throw e;
  }

  return {
    addresses: sockets.map(({ kind, socket }) => {
      const a = socket.address();
      return { kind, address: a.address, port: a.port };
    }),
    stats,
    async close() {
      closed = true;
      clearInterval(prune);
      await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.socket.close(() => resolve()))));
      for (const link of upstreamSockets.values()) link.close();
    },
  };
}

/** The request's Proxy-State attributes, which every reply must echo in order (RFC 2865). */
function proxyStatesOf(packet: RadiusPacket): RadiusAttribute[] {
  return packet.raw(TYPE('Proxy-State')).map((value) => ({ type: TYPE('Proxy-State'), value }));
}

const ACCT_STATUS: Record<number, string> = { 1: 'start', 2: 'stop', 3: 'interim-update', 7: 'accounting-on', 8: 'accounting-off' };

/**
 * The upstream answer's attributes for our client: without its Message-Authenticator and
 * Proxy-State, with MPPE keys decrypted with the upstream secret and the upstream request's
 * authenticator, then encrypted for our client's secret and the authenticator of the request we
 * answer.
 */
function passThrough(up: UpstreamAnswer, clientSecret: RadiusSecret, requestAuthenticator: Uint8Array): RadiusAttribute[] {
  const out: RadiusAttribute[] = [];
  // RFC 2548 2.4.2: every salt in one packet must be unique.
  const used = new Set<number>();
  const salts = {
    next(): Uint8Array {
      for (;;) {
        const salt = randomBytes(2);
        salt[0] = salt[0]! | 0x80;
        const key = salt.readUInt16BE(0);
        if (!used.has(key)) {
          used.add(key);
          return salt;
        }
      }
    },
  };
  for (const a of up.packet.attributes) {
    if (a.type === TYPE('Message-Authenticator') || a.type === TYPE('Proxy-State')) continue;
    if (a.type === TYPE('Vendor-Specific')) {
      const vsa = readVendorSpecific(a.value);
      const subs = vsa && vsa.vendorId === MICROSOFT ? readVendorAttributes(vsa.data) : undefined;
      if (subs && subs.some((s) => s.type === MPPE_SEND_KEY || s.type === MPPE_RECV_KEY)) {
        const upstream = (up as UpstreamAnswer & { secret: RadiusSecret }).secret;
        out.push(
          vendorSpecific(
            MICROSOFT,
            subs.map((s) =>
              s.type === MPPE_SEND_KEY || s.type === MPPE_RECV_KEY
                ? {
                    type: s.type,
                    value: encryptSaltedValue(decryptSaltedValue(s.value, upstream, up.requestAuthenticator), clientSecret, requestAuthenticator, salts.next()),
                  }
                : s,
            ),
          ),
        );
        continue;
      }
    }
    out.push(a);
  }
  return out;
}

function sameHost(a: string, b: string | null): boolean {
  return b !== null && a.replace(/^::ffff:/, '') === b.replace(/^::ffff:/, '');
}

/** One UDP socket to an upstream server: identifiers, retransmissions, response checks. */
class UpstreamLink {
  readonly #server: UpstreamServer;
  readonly #logger: Logger;
  readonly #socket: Socket;
  readonly #pending = new Map<number, { authenticator: Uint8Array; resolve: (p: RadiusPacket) => void }>();
  /** The upstream's address once resolved (a host name is resolved by the first send). */
  #address: string | null = null;
  #next = Math.floor(Math.random() * 256);

  constructor(server: UpstreamServer, logger: Logger) {
    this.#server = server;
    this.#logger = logger;
    this.#socket = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
    if (isIP(server.host) !== 0) this.#address = server.host;
    else
      void lookup(server.host, { family: 0 }).then(
        (r) => (this.#address = r.address),
        (e: unknown) => this.#logger.error({ err: e, upstream: server.host }, 'cannot resolve the upstream radius server'),
      );
    this.#socket.on('message', (msg, rinfo) => {
      // Only the upstream server's own address and port; anything else is ignored.
      if (rinfo.port !== server.port || !sameHost(rinfo.address, this.#address)) return;
      if (msg.length < 20) return;
      const pending = this.#pending.get(msg[1]!);
      if (!pending) return;
      try {
        if (verifyResponse(msg, pending.authenticator, server.secret) !== 'valid') {
          this.#logger.warn({ upstream: `${server.host}:${server.port}` }, 'upstream radius answer failed verification; ignored');
          return;
        }
        const packet = decodePacket(msg);
        this.#pending.delete(msg[1]!);
        pending.resolve(packet);
      } catch (e) {
        // Malformed: as if lost.
        if (!(e instanceof RadiusDecodeError)) this.#logger.error({ err: e }, 'upstream radius answer failed');
      }
    });
    this.#socket.on('error', (e) => this.#logger.error({ err: e }, 'upstream radius socket error'));
    this.#socket.unref();
  }

  /** Forwards an Access-Request; null when the upstream server never answered. */
  async forward(request: RadiusPacket, password: string | null): Promise<(UpstreamAnswer & { secret: RadiusSecret }) | null> {
    const s = this.#server;
    let identifier = -1;
    for (let i = 0; i < 256; i++) {
      const id = (this.#next + i) % 256;
      if (!this.#pending.has(id)) {
        identifier = id;
        break;
      }
    }
    if (identifier < 0) return null;
    this.#next = (identifier + 1) % 256;
    const authenticator = new Uint8Array(randomBytes(16));
    const attributes: RadiusAttribute[] = [];
    for (const a of request.attributes) {
      if (a.type === TYPE('Message-Authenticator')) continue;
      if (a.type === TYPE('User-Password')) {
        if (password !== null) attributes.push({ type: a.type, value: encryptUserPassword(password, s.secret, authenticator) });
        continue;
      }
      attributes.push(a);
    }
    // CHAP without CHAP-Challenge used the Request Authenticator as the challenge (RFC 2865 5.3).
    if (request.has('CHAP-Password') && !request.has('CHAP-Challenge')) attributes.push({ type: TYPE('CHAP-Challenge'), value: request.authenticator });
    const bytes = encodePacket({ code: 'Access-Request', identifier, attributes }, s.secret, authenticator);
    const answer = new Promise<RadiusPacket>((resolve) => this.#pending.set(identifier, { authenticator, resolve }));
    for (let attempt = 0; attempt <= s.retries; attempt++) {
      this.#socket.send(bytes, s.port, s.host);
      const got = await Promise.race([answer, new Promise<null>((r) => setTimeout(() => r(null), s.timeoutMs).unref())]);
      if (got) return { packet: got, requestAuthenticator: authenticator, secret: s.secret };
    }
    this.#pending.delete(identifier);
    this.#logger.warn({ upstream: `${s.host}:${s.port}` }, 'upstream radius server did not answer');
    return null;
  }

  close(): void {
    this.#socket.close();
  }
}
