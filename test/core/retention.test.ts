import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateCode, parseSecret } from '../../src/core/oath.ts';
import { PRUNE_BATCH } from '../../src/core/services/retention.ts';
import { auditEvent } from '../store/conformance.ts';
import { cliActor, createTestCore, type TestCore } from '../support/harness.ts';

const DAY = 86_400_000;
let t: TestCore;
beforeEach(async () => {
  t = await createTestCore();
});
afterEach(async () => t.close());

async function aliceWithToken(): Promise<() => string> {
  await t.core.users.create({ username: 'alice' }, cliActor);
  const enrolled = await t.core.methods.enrollTotp('alice', {}, cliActor);
  const secret = parseSecret(enrolled.secret) as Uint8Array;
  return () => generateCode(secret, Math.floor(t.clock.now() / 30_000), { algorithm: 'SHA1', digits: 6 });
}

const allEvents = async () => t.core.audit.query({ limit: 10_000 });

describe('retention', () => {
  it('deletes authentication records after retention.authenticationDays and audit events after retention.auditDays', async () => {
    const code = await aliceWithToken();
    const early = [
      await t.core.authentications.create({ username: 'alice', passcode: code() }, cliActor),
      await t.core.authentications.create({ username: 'alice', passcode: '000000' }, cliActor),
    ];
    const eventsAtStart = (await allEvents()).length;
    expect(eventsAtStart).toBeGreaterThanOrEqual(4);

    // Nothing is old enough yet.
    expect(await t.core.retention.prune(cliActor)).toMatchObject({ authentications: 0, auditEvents: 0 });

    t.clock.advance(31 * DAY);
    const later = await t.core.authentications.create({ username: 'alice', passcode: code() }, cliActor);
    const first = await t.core.retention.prune(cliActor);
    expect(first).toMatchObject({
      authentications: 2,
      auditEvents: 0,
      authenticationsBefore: t.clock.now() - 30 * DAY,
      auditBefore: t.clock.now() - 365 * DAY,
    });
    for (const gone of early) await expect(t.core.authentications.get(gone.view.id)).rejects.toMatchObject({ code: 'authentication_not_found' });
    expect((await t.core.authentications.get(later.view.id)).state).toBe('approved');
    // The run is audited with what it deleted; audit events are all still there.
    const [pruned] = await t.core.audit.query({ action: 'retention.prune', limit: 10 });
    expect(pruned).toMatchObject({ kind: 'admin', result: 'success', details: { authentications: 2, auditEvents: 0 } });
    expect((await allEvents()).length).toBe(eventsAtStart + 2);

    // 0 keeps audit events forever.
    await t.core.settings.update({ retention: { auditDays: 0 } }, cliActor);
    t.clock.advance(400 * DAY);
    expect(await t.core.retention.prune(cliActor)).toMatchObject({ authentications: 1, auditEvents: 0, auditBefore: null });
    const kept = await allEvents();
    expect(kept.length).toBe(eventsAtStart + 4);

    // Then 30 days: everything but what happened today goes.
    await t.core.settings.update({ retention: { auditDays: 30 } }, cliActor);
    const last = await t.core.retention.prune(cliActor);
    expect(last).toMatchObject({ authentications: 0, auditEvents: kept.length - 1 });
    expect((await allEvents()).map((e) => e.action)).toEqual(['retention.prune', 'settings.update', 'retention.prune']);
    // An idle run writes nothing to the audit trail.
    expect(await t.core.retention.prune(cliActor)).toMatchObject({ authentications: 0, auditEvents: 0 });
    expect((await allEvents()).length).toBe(3);
  });

  it('deletes a batch at a time, reporting progress after each', async () => {
    const old = t.clock.now() - 400 * DAY;
    const count = 2 * PRUNE_BATCH + 123;
    for (let from = 0; from < count; from += 1000) {
      await Promise.all(Array.from({ length: Math.min(1000, count - from) }, (_, i) => t.store.audit.append(auditEvent({ at: old + from + i }))));
    }
    const progress: number[] = [];
    const result = await t.core.retention.prune(cliActor, (done) => progress.push(done.auditEvents));
    // All but the newest event, which always stays (ids keep growing from it).
    expect(result.auditEvents).toBe(count - 1);
    expect(progress.filter((n) => n > 0)).toEqual([PRUNE_BATCH, 2 * PRUNE_BATCH, count - 1]);
    const left = await allEvents();
    expect(left.map((e) => [e.action, e.at])).toEqual([
      ['retention.prune', t.clock.now()],
      ['authenticate', old + count - 1],
    ]);
  });

  it("the server's own runs (a system actor) delete the same way without an audit event of their own", async () => {
    const system = { kind: 'system', name: 'retention', role: 'admin' } as const;
    const old = t.clock.now() - 400 * DAY;
    for (let i = 0; i < 3; i++) await t.store.audit.append(auditEvent({ at: old + i }));
    await t.store.audit.append(auditEvent({ at: t.clock.now() }));
    expect(await t.core.retention.prune(system)).toMatchObject({ auditEvents: 3 });
    expect((await allEvents()).map((e) => e.at)).toEqual([t.clock.now()]);
  });

  it('refuses retention settings out of range, naming the setting', async () => {
    for (const [patch, field] of [
      [{ authenticationDays: 0 }, 'retention.authenticationDays'],
      [{ auditDays: -1 }, 'retention.auditDays'],
      [{ auditDays: 36_501 }, 'retention.auditDays'],
      [{ auditDays: 1.5 }, 'retention.auditDays'],
    ] as const) {
      await expect(t.core.settings.update({ retention: patch }, cliActor)).rejects.toMatchObject({
        code: 'validation_failed',
        details: { [field]: expect.any(String) },
      });
    }
  });
});
