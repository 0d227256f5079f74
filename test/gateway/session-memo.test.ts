import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SessionView } from '../../src/core/api.ts';
import { createSessionMemo } from '../../src/doors/http/gateway/common.ts';
import { cliActor, createTestCore, type TestCore } from '../support/harness.ts';

let t: TestCore;
let token: string;
let reads: number;
const counting = () => ({
  sessions: {
    ...t.core.sessions,
    resolve: async (kind: 'gateway', tok: string | undefined): Promise<SessionView | undefined> => {
      reads++;
      return t.core.sessions.resolve(kind, tok);
    },
  },
});

beforeEach(async () => {
  t = await createTestCore();
  const user = await t.core.users.create({ username: 'alice' }, cliActor);
  token = (await t.core.sessions.start({ kind: 'gateway', userId: user.id, stage: 'complete', data: {} })).token;
  reads = 0;
});
afterEach(async () => t.close());

describe('gateway session memory', () => {
  it('reads a session once per period, again after it, and at once after a forget', async () => {
    const memo = createSessionMemo(counting() as never, t.clock, 1000);
    for (let i = 0; i < 50; i++) expect((await memo.resolve(token))?.user.username).toBe('alice');
    expect(reads).toBe(1);
    // Ended elsewhere (another node): still seen until the period is over, then gone.
    await t.core.sessions.end(token);
    t.clock.advance(999);
    expect(await memo.resolve(token)).toBeDefined();
    t.clock.advance(1);
    expect(await memo.resolve(token)).toBeUndefined();
    expect(reads).toBe(2);
  });

  it('forgets a session signed out through this process, and reads every time with period 0', async () => {
    const memo = createSessionMemo(counting() as never, t.clock, 1000);
    await memo.resolve(token);
    await t.core.sessions.end(token);
    memo.forget(token);
    expect(await memo.resolve(token)).toBeUndefined();
    const direct = createSessionMemo(counting() as never, t.clock, 0);
    reads = 0;
    for (let i = 0; i < 5; i++) await direct.resolve(token);
    expect(reads).toBe(5);
  });

  it('never trusts an entry from the future (a clock set back)', async () => {
    const memo = createSessionMemo(counting() as never, t.clock, 1000);
    await memo.resolve(token);
    t.clock.set(t.clock.now() - 60_000);
    await memo.resolve(token);
    expect(reads).toBe(2);
  });
});
