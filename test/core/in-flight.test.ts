import { describe, expect, it } from 'vitest';
import { trackInFlight } from '../../src/core/in-flight.ts';
import { adminActor, createTestCore } from '../support/harness.ts';

describe('in-flight core calls', () => {
  it('idle() waits for running calls, and closing after it loses no write', async () => {
    const t = await createTestCore();
    const tracked = trackInFlight(t.core);
    const calls = Array.from({ length: 40 }, (_, i) => tracked.core.users.create({ username: `u${i}` }, adminActor));
    await tracked.idle(5_000);
    await t.store.close();
    const results = await Promise.allSettled(calls);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
  });

  it('idle() gives up after its timeout', async () => {
    let release = (): void => undefined;
    const blocked = new Promise<void>((r) => (release = r));
    const fake = { users: { slow: () => blocked } } as never;
    const tracked = trackInFlight(fake);
    void (tracked.core as unknown as { users: { slow(): Promise<void> } }).users.slow();
    const started = performance.now();
    await tracked.idle(100);
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    release();
  });

  it('passes results and errors through unchanged', async () => {
    const t = await createTestCore();
    const tracked = trackInFlight(t.core);
    expect((await tracked.core.users.create({ username: 'zed' }, adminActor)).username).toBe('zed');
    await expect(tracked.core.users.get('nobody')).rejects.toMatchObject({ code: 'user_not_found' });
    await tracked.idle(1_000);
    await t.close();
  });
});
