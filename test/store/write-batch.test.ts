import { afterEach, describe, expect, it } from 'vitest';
import { createTestCore, type TestCore } from '../support/harness.ts';
import { auditEvent } from './conformance.ts';

let t: TestCore | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const event = (i: number) => auditEvent({ at: 1_000 + i, kind: 'admin', action: 'test.write', result: 'success', username: `u${i}` });

describe('group commit', () => {
  it('commits many concurrent writes, each acknowledged with its own result, in arrival order', async () => {
    t = await createTestCore();
    const ids = await Promise.all(Array.from({ length: 300 }, (_, i) => t!.store.audit.append(event(i))));
    expect(new Set(ids).size).toBe(300);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    const stored = await t.store.audit.query({ action: 'test.write', limit: 1000 });
    expect(stored).toHaveLength(300);
  });

  it('isolates a failing write: the others in the same batch still commit', async () => {
    t = await createTestCore();
    const user = await t.store.users.create({ username: 'present' }, 'u-present', 1);
    const good = t.store.audit.append(event(1));
    // A foreign-key violation inside the shared transaction aborts it; each write is then retried alone.
    const bad = t.store.authentications.create({
      id: 'a-orphan',
      userId: 'no-such-user',
      username: 'ghost',
      applicationId: 'app',
      applicationName: 'default',
      clientIp: null,
      state: 'approved',
      reason: 'passcode_ok',
      methodId: null,
      methodType: null,
      createdAt: 2,
      updatedAt: 2,
      expiresAt: 3,
    });
    const alsoGood = t.store.users.recordFailure(user.id, 3, 3);
    await expect(bad).rejects.toMatchObject({ code: 'user_not_found' });
    expect(await good).toBeGreaterThan(0);
    expect(await alsoGood).toEqual({ failedCount: 1, lockedAt: null });
  });

  it('finishes queued writes before the store closes', async () => {
    t = await createTestCore();
    const { store } = t;
    const pending = Array.from({ length: 50 }, (_, i) => store.audit.append(event(i)));
    const closing = store.close();
    await expect(Promise.all(pending)).resolves.toHaveLength(50);
    await closing;
    t = undefined;
  });
});
