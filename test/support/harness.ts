/** A real core over a real store (temp SQLite file by default) with a fake clock, for tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Actor, AuthenticationListener, Core } from '../../src/core/api.ts';
import { createCore } from '../../src/core/index.ts';
import { checkUserReplyAttribute } from '../../src/doors/radius/reply-attributes.ts';
import type { PushSender, SmsSender, Store, VoiceCaller } from '../../src/core/ports.ts';
import { FakeClock } from '../../src/platform/clock.ts';
import { argon2Hasher, hmacHasher } from '../../src/platform/hashing.ts';
import { systemRandom } from '../../src/platform/random.ts';
import { openStore } from '../../src/store/index.ts';
import { keyringFromKeys, type Keyring } from '../../src/store/keyring.ts';

export const cliActor: Actor = { kind: 'cli', name: 'test', role: 'admin' };
export const adminActor: Actor = { kind: 'apikey', name: 'test-admin', role: 'admin' };

export interface TestCore {
  readonly core: Core;
  readonly store: Store;
  readonly clock: FakeClock;
  readonly keyring: Keyring;
  close(): Promise<void>;
}

export async function createTestCore(opts: { url?: string; clock?: FakeClock; onAuthentication?: AuthenticationListener; sms?: SmsSender; voice?: VoiceCaller; push?: PushSender } = {}): Promise<TestCore> {
  const dir = opts.url ? null : mkdtempSync(join(tmpdir(), 'countersign-test-'));
  const url = opts.url ?? `sqlite:${join(dir as string, 'test.db')}`;
  const keyring = keyringFromKeys({ k1: new Uint8Array(32).fill(7) }, 'k1', new Uint8Array(32).fill(9));
  const store = await openStore({ url, keyring });
  const clock = opts.clock ?? new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
  const core = createCore({
    store,
    clock,
    random: systemRandom,
    // Cheap argon2 parameters keep tests fast; production uses the defaults.
    passwords: argon2Hasher({ memoryCost: 1024, timeCost: 1 }),
    keyedHasher: hmacHasher(keyring.pepper),
    serverName: 'test-server',
    // As the composition root wires it: users' reply attributes follow the RADIUS dictionary.
    replyAttributeCheck: checkUserReplyAttribute,
    ...(opts.onAuthentication ? { onAuthentication: opts.onAuthentication } : {}),
    ...(opts.sms ? { sms: opts.sms } : {}),
    ...(opts.voice ? { voice: opts.voice } : {}),
    ...(opts.push ? { push: opts.push } : {}),
  });
  return {
    core,
    store,
    clock,
    keyring,
    async close() {
      await store.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
