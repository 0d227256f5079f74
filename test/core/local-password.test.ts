import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCoreError, type ErrorCode } from '../../src/core/errors.ts';
import { createLocalPasswordFirstFactor } from '../../src/core/first-factor/local-password.ts';
import type { FirstFactorProvider, PasswordHasher } from '../../src/core/ports.ts';
import { argon2Hasher } from '../../src/platform/hashing.ts';
import { adminActor, cliActor, createTestCore, type TestCore } from '../support/harness.ts';

const PASSWORD = 'correct horse battery staple';

/** The real argon2id hasher (cheap parameters) that counts its calls. */
function spyHasher() {
  const real = argon2Hasher({ memoryCost: 1024, timeCost: 1 });
  const calls = { hash: 0, verify: [] as string[] };
  const hasher: PasswordHasher = {
    hash: (plain) => {
      calls.hash++;
      return real.hash(plain);
    },
    verify: (hash, plain) => {
      calls.verify.push(hash);
      return real.verify(hash, plain);
    },
  };
  return { hasher, calls };
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, field?: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(isCoreError(e) && e.code).toBe(code);
    if (field && isCoreError(e)) expect(e.details).toHaveProperty(field);
    return;
  }
  throw new Error(`expected ${code}`);
}

let t: TestCore;
let spy: ReturnType<typeof spyHasher>;
let factor: FirstFactorProvider;

beforeEach(async () => {
  t = await createTestCore();
  spy = spyHasher();
  factor = createLocalPasswordFirstFactor({ store: t.store, passwords: spy.hasher, clock: t.clock, serverName: 'test-server' });
});
afterEach(async () => t.close());

async function localUser(username = 'alice', password: string | null = PASSWORD) {
  await t.core.users.create({ username }, cliActor);
  if (password !== null) await t.core.users.setPassword(username, password, cliActor);
}

describe('core.users.setPassword', () => {
  it('stores an argon2id hash, shows only hasPassword, and audits without the value', async () => {
    await t.core.users.create({ username: 'alice' }, cliActor);
    expect((await t.core.users.get('alice')).hasPassword).toBe(false);
    const view = await t.core.users.setPassword('alice', PASSWORD, adminActor);
    expect(view.hasPassword).toBe(true);
    expect(view).not.toHaveProperty('passwordHash');
    const stored = await t.store.users.getByUsername('alice');
    expect(stored?.passwordHash).toMatch(/^\$argon2id\$/);
    expect(stored?.passwordHash).not.toContain(PASSWORD);
    const cleared = await t.core.users.setPassword('alice', null, adminActor);
    expect(cleared.hasPassword).toBe(false);
    expect((await t.store.users.getByUsername('alice'))?.passwordHash).toBeNull();
    const events = await t.core.audit.query({ username: 'alice', kind: 'admin', limit: 10 });
    expect(events.map((e) => e.action)).toEqual(['user.password.clear', 'user.password.set', 'user.create']);
    expect(JSON.stringify(events)).not.toContain(PASSWORD);
    expect(JSON.stringify(events)).not.toContain('$argon2');
  });

  it('enforces the policy with errors naming the password field', async () => {
    await t.core.users.create({ username: 'Alice.Longname' }, cliActor);
    await rejectsWith(t.core.users.setPassword('alice.longname', 'short', cliActor), 'validation_failed', 'password');
    await rejectsWith(t.core.users.setPassword('alice.longname', 'x'.repeat(11), cliActor), 'validation_failed', 'password');
    await rejectsWith(t.core.users.setPassword('alice.longname', 'x'.repeat(1025), cliActor), 'validation_failed', 'password');
    await rejectsWith(t.core.users.setPassword('alice.longname', 'ALICE.LONGNAME', cliActor), 'validation_failed', 'password');
    await rejectsWith(t.core.users.setPassword('alice.longname', 42 as unknown as string, cliActor), 'validation_failed', 'password');
    expect((await t.core.users.get('alice.longname')).hasPassword).toBe(false);
    await t.core.users.setPassword('alice.longname', 'x'.repeat(12), cliActor);
    await t.core.users.setPassword('alice.longname', 'x'.repeat(1024), cliActor);
    expect((await t.core.users.get('alice.longname')).hasPassword).toBe(true);
    await rejectsWith(t.core.users.setPassword('nobody', PASSWORD, cliActor), 'user_not_found');
  });

  it('refuses a password for a directory user but lets one be cleared', async () => {
    await t.core.users.create({ username: 'dana', source: { kind: 'directory', directory: 'corp', externalId: 'g-1' } }, cliActor);
    await rejectsWith(t.core.users.setPassword('dana', PASSWORD, cliActor), 'validation_failed', 'username');
    expect((await t.core.users.setPassword('dana', null, cliActor)).hasPassword).toBe(false);
  });
});

describe('local password first factor', () => {
  it('accepts the right password in any username case and returns the stored username', async () => {
    await localUser('Alice');
    expect(await factor.verify('alice', PASSWORD)).toEqual({ ok: true, dn: 'Alice' });
    expect(await factor.verify('ALICE', PASSWORD)).toEqual({ ok: true, dn: 'Alice' });
  });

  it('refuses an empty password without any hash work', async () => {
    await localUser();
    const before = spy.calls.hash;
    expect(await factor.verify('alice', '')).toEqual({ ok: false, reason: 'empty_password' });
    expect(await factor.verify('nobody', '')).toEqual({ ok: false, reason: 'empty_password' });
    expect(spy.calls.verify).toHaveLength(0);
    expect(spy.calls.hash).toBe(before);
  });

  it('counts wrong passwords toward the lockout, locks at the threshold, then refuses even the right one', async () => {
    await localUser();
    await t.core.settings.update({ lockout: { threshold: 3, autoUnlockSeconds: 0 } }, cliActor);
    expect(await factor.verify('alice', 'wrong password!')).toEqual({ ok: false, reason: 'invalid_credentials' });
    expect((await t.core.users.get('alice')).failedCount).toBe(1);
    // A right password does not reset the count: only a completed second factor does.
    expect((await factor.verify('alice', PASSWORD)).ok).toBe(true);
    expect((await t.core.users.get('alice')).failedCount).toBe(1);
    expect((await factor.verify('alice', 'wrong password!')).ok).toBe(false);
    expect((await t.core.users.get('alice')).state).toBe('enabled');
    expect(await factor.verify('alice', 'wrong password!')).toEqual({ ok: false, reason: 'invalid_credentials' });
    const locked = await t.core.users.get('alice');
    expect(locked.state).toBe('locked');
    expect(locked.failedCount).toBe(3);
    expect(await factor.verify('alice', PASSWORD)).toEqual({ ok: false, reason: 'account_locked' });
    const lockEvents = await t.core.audit.query({ username: 'alice', action: 'user.lock', limit: 10 });
    expect(lockEvents).toHaveLength(1);
    await t.core.users.unlock('alice', cliActor);
    expect((await factor.verify('alice', PASSWORD)).ok).toBe(true);
  });

  it('shares the lockout count with wrong passcodes', async () => {
    await localUser();
    await t.core.settings.update({ lockout: { threshold: 2, autoUnlockSeconds: 0 } }, cliActor);
    await t.core.methods.enrollTotp('alice', {}, cliActor);
    expect((await t.core.authentications.create({ username: 'alice', passcode: 'abcdef' }, adminActor)).view.state).toBe('denied');
    expect((await factor.verify('alice', 'wrong password!')).ok).toBe(false);
    expect((await t.core.users.get('alice')).state).toBe('locked');
  });

  it('unlocks automatically after the lockout period', async () => {
    await localUser();
    await t.core.settings.update({ lockout: { threshold: 1, autoUnlockSeconds: 60 } }, cliActor);
    expect(await factor.verify('alice', 'wrong password!')).toEqual({ ok: false, reason: 'invalid_credentials' });
    expect(await factor.verify('alice', PASSWORD)).toEqual({ ok: false, reason: 'account_locked' });
    t.clock.advance(61_000);
    expect((await factor.verify('alice', PASSWORD)).ok).toBe(true);
    expect((await t.core.users.get('alice')).state).toBe('enabled');
  });

  it('refuses disabled and blocked users even with the right password', async () => {
    await localUser('dis');
    await localUser('blk');
    await t.core.users.setEnabled('dis', false, cliActor);
    await t.core.users.block('blk', 'lost laptop', cliActor);
    expect(await factor.verify('dis', PASSWORD)).toEqual({ ok: false, reason: 'account_disabled' });
    expect(await factor.verify('blk', PASSWORD)).toEqual({ ok: false, reason: 'account_disabled' });
    await t.core.users.setEnabled('dis', true, cliActor);
    expect((await factor.verify('dis', PASSWORD)).ok).toBe(true);
  });

  it('treats unknown users, users without a password and directory users alike, with one verify each', async () => {
    await localUser('alice');
    await localUser('nopass', null);
    await t.core.users.create({ username: 'dana', source: { kind: 'directory', directory: 'corp', externalId: 'g-1' } }, cliActor);
    // A directory user with a hash left in the store (e.g. converted) still never signs in locally.
    const dana = await t.store.users.getByUsername('dana');
    const aliceHash = (await t.store.users.getByUsername('alice'))?.passwordHash ?? null;
    await t.store.users.update(dana?.id as string, { passwordHash: aliceHash }, t.clock.now());
    spy.calls.verify.length = 0;

    expect(await factor.verify('alice', 'wrong password!')).toEqual({ ok: false, reason: 'invalid_credentials' });
    expect(spy.calls.verify).toEqual([aliceHash]);
    for (const name of ['ghost', 'nopass', 'dana', '', 'x'.repeat(300)]) {
      spy.calls.verify.length = 0;
      expect(await factor.verify(name, PASSWORD)).toEqual({ ok: false, reason: 'unknown_user' });
      expect(spy.calls.verify).toHaveLength(1);
      expect(spy.calls.verify[0]).toMatch(/^\$argon2id\$/);
      expect(spy.calls.verify[0]).not.toBe(aliceHash);
    }
    expect((await t.core.users.get('dana')).failedCount).toBe(0);
    expect((await t.core.users.get('nopass')).failedCount).toBe(0);
  });

  it('does the same argon2 work for unknown and known users (same parameters, one verify each)', async () => {
    // Wall-clock comparisons are unreliable on a shared machine; compare the work instead: each
    // attempt verifies exactly one hash, and the dummy hash carries the same argon2 parameters
    // (memory, passes, parallelism) as a real one, so both cost the same.
    const costly = argon2Hasher({ memoryCost: 8192, timeCost: 2 });
    const seen: string[] = [];
    const recording = { hash: (p: string) => costly.hash(p), verify: (h: string, p: string) => (seen.push(h), costly.verify(h, p)) };
    const timed = createLocalPasswordFirstFactor({ store: t.store, passwords: recording, clock: t.clock });
    await t.core.users.create({ username: 'alice' }, cliActor);
    const real = await costly.hash(PASSWORD);
    await t.store.users.update((await t.store.users.getByUsername('alice'))?.id as string, { passwordHash: real }, t.clock.now());
    await t.core.settings.update({ lockout: { threshold: 0 } }, cliActor);
    await timed.verify('alice', 'wrong password!');
    await timed.verify('ghost', 'wrong password!');
    expect(seen).toHaveLength(2);
    const params = (hash: string) => hash.split('$').slice(1, 4).join('$');
    expect(params(seen[0] as string)).toBe(params(real));
    expect(params(seen[1] as string)).toBe(params(real));
    expect(params(real)).toMatch(/^argon2id\$v=19\$m=8192,t=2,p=1$/);
  });

  it('checks an over-long password against the dummy and counts it as wrong', async () => {
    await localUser();
    spy.calls.verify.length = 0;
    expect(await factor.verify('alice', 'y'.repeat(1025))).toEqual({ ok: false, reason: 'invalid_credentials' });
    expect(spy.calls.verify).toHaveLength(1);
    expect((await t.core.users.get('alice')).failedCount).toBe(1);
  });
});
