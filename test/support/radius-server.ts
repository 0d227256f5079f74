/**
 * The RADIUS door on loopback for tests: `config` as `countersign serve` would read it, with the
 * `local` and `user` first factors of the test core (cheap argon2 parameters).
 */
import pino from 'pino';
import type { RadiusConfig } from '../../src/config/schema.ts';
import { createBySourceFirstFactor, createFirstFactorRegistry } from '../../src/core/first-factor/by-source.ts';
import { createLocalPasswordFirstFactor } from '../../src/core/first-factor/local-password.ts';
import { radiusClients, startRadiusServer, type RadiusServer } from '../../src/doors/radius/server.ts';
import { argon2Hasher } from '../../src/platform/hashing.ts';
import type { TestCore } from './harness.ts';
import { freeUdpPort } from './ports.ts';

/** One client on 127.0.0.1 in challenge mode with a local password first; `over` changes it. */
export function loopbackClient(secret: string, over: Partial<RadiusConfig['clients'][number]> = {}): RadiusConfig['clients'][number] {
  return { name: 'vpn', addresses: ['127.0.0.1/32'], secret, requireMessageAuthenticator: true, firstFactor: 'local', mode: 'challenge', appendCodeLength: 6, holdSeconds: 20, replyAttributes: [], groupReplyAttributes: [], ...over };
}

/** Starts the door for `clients` on a free port of 127.0.0.1 (no accounting); the caller closes it. */
export async function startTestRadius(t: TestCore, clients: RadiusConfig['clients']): Promise<{ server: RadiusServer; port: number }> {
  const port = await freeUdpPort();
  const config: RadiusConfig = { enabled: true, listen: ['127.0.0.1'], authPort: port, acctPort: 0, challengeSeconds: 120, clients };
  const local = createLocalPasswordFirstFactor({ store: t.store, passwords: argon2Hasher({ memoryCost: 1024, timeCost: 1 }), clock: t.clock });
  const registry = createFirstFactorRegistry({ local, user: createBySourceFirstFactor({ store: t.store, clock: t.clock, local, directories: new Map() }) });
  const server = await startRadiusServer({ core: t.core, store: t.store, clock: t.clock, logger: pino({ level: 'silent' }), config, clients: await radiusClients(config, registry, () => undefined), serverName: 'test' });
  return { server, port };
}
