/**
 * A loopback UDP relay to put between a RADIUS client (radclient) and a server: it records every
 * datagram both ways as sent on the wire, and can duplicate or drop requests, so a test can check
 * the raw reply (attribute order, Message-Authenticator first) and provoke real retransmissions
 * (RFC 5080 duplicate detection) that radclient alone sends only after a timeout.
 *
 * The server sees the requests come from the relay's own socket on 127.0.0.1, one source port for
 * all clients (fine for one radclient at a time).
 */
import { createSocket, type RemoteInfo } from 'node:dgram';

export interface UdpRelayOptions {
  target: { host?: string; port: number };
  /** Forward each request this many times (default 1; 2 sends an exact duplicate). */
  copies?: number;
  /** Milliseconds between copies (default 0). A server still working on the first copy may ignore the next. */
  copyIntervalMs?: number;
  /** Drop the nth request (1-based) instead of forwarding it, e.g. `(n) => n === 1`. */
  drop?: (n: number, packet: Buffer) => boolean;
}

export interface UdpRelay {
  host: string;
  port: number;
  /** Requests as received from the client, in order (dropped ones included). */
  requests: Buffer[];
  /** Replies as received from the server, in order. */
  replies: Buffer[];
  stop(): Promise<void>;
}

export async function startUdpRelay(opts: UdpRelayOptions): Promise<UdpRelay> {
  const targetHost = opts.target.host ?? '127.0.0.1';
  const type = targetHost.includes(':') ? 'udp6' : 'udp4';
  const front = createSocket(type);
  const back = createSocket(type);
  const requests: Buffer[] = [];
  const replies: Buffer[] = [];
  // The client a request Id came from, to route the reply back.
  const clients = new Map<number, RemoteInfo>();
  front.on('message', (msg, rinfo) => {
    requests.push(Buffer.from(msg));
    if (msg.length >= 2) clients.set(msg[1]!, rinfo);
    if (opts.drop?.(requests.length, msg)) return;
    for (let i = 0; i < (opts.copies ?? 1); i++) {
      const forward = (): void => back.send(msg, opts.target.port, targetHost);
      if (i === 0 || !opts.copyIntervalMs) forward();
      else setTimeout(forward, i * opts.copyIntervalMs);
    }
  });
  back.on('message', (msg) => {
    replies.push(Buffer.from(msg));
    const client = msg.length >= 2 ? clients.get(msg[1]!) : undefined;
    if (client) front.send(msg, client.port, client.address);
  });
  const host = type === 'udp6' ? '::1' : '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.bind(0, host, () => resolve());
  });
  await new Promise<void>((resolve, reject) => {
    back.once('error', reject);
    back.bind(0, host, () => resolve());
  });
  return {
    host,
    port: front.address().port,
    requests,
    replies,
    stop: async () => {
      await Promise.all([new Promise<void>((r) => front.close(() => r())), new Promise<void>((r) => back.close(() => r()))]);
    },
  };
}

/** The attribute types of a RADIUS packet, in wire order (undefined if the lengths do not add up). */
export function attributeTypes(packet: Buffer): number[] | undefined {
  if (packet.length < 20 || packet.readUInt16BE(2) !== packet.length) return undefined;
  const types: number[] = [];
  for (let i = 20; i < packet.length;) {
    const len = packet[i + 1];
    if (len === undefined || len < 2 || i + len > packet.length) return undefined;
    types.push(packet[i]!);
    i += len;
  }
  return types;
}
