/**
 * End-to-end flows through the REST API against a real core and SQLite store: users, TOTP
 * enrollment and authentication, replay, lockout with its audit trail, bypass, imports.
 */
import { execFileSync } from 'node:child_process';
import { parse } from 'csv-parse/sync';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, expectProblemShape, json, totpAt } from './helpers.ts';
import type { TestApp } from './helpers.ts';
import { adminActor } from '../support/harness.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => t?.close());

interface Enrollment {
  method: { id: string; type: string; label: string; config: { digits: number; period: number; algorithm: string } };
  secret: string;
  otpauthUri: string;
  qrSvg: string;
}
interface AuthView {
  id: string;
  state: string;
  username: string;
  application: string;
  method: string | null;
  createdAt: number;
  expiresAt: number;
  message: string;
}

async function createUser(username: string, body: Record<string, unknown> = {}) {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: t.as('admin'), payload: { username, ...body } });
  expect(res.statusCode, res.body).toBe(201);
  return json(res);
}

async function enroll(username: string, body: Record<string, unknown> = {}): Promise<Enrollment> {
  const res = await t.app.inject({ method: 'POST', url: `/api/v1/users/${username}/methods`, headers: t.as('helpdesk'), payload: { type: 'totp', ...body } });
  expect(res.statusCode, res.body).toBe(201);
  return json<Enrollment>(res);
}

async function authenticate(body: Record<string, unknown>, role: 'sdk' | 'helpdesk' | 'admin' = 'sdk'): Promise<AuthView> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/authentications', headers: t.as(role), payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return json<AuthView>(res);
}

/** Everything the caller sees except what naturally differs between two attempts. */
function visible(v: AuthView) {
  const { id: _id, createdAt: _createdAt, expiresAt: _expiresAt, username: _username, method: _method, ...rest } = v;
  return rest;
}

describe('users', () => {
  it('creates, reads, lists, updates and deletes a user', async () => {
    const created = await createUser('alice', { displayName: 'Alice Liddell', email: 'alice@example.com', phone: { number: '+1 415 555 2671', extension: '12' } });
    expect(created).toMatchObject({ username: 'alice', state: 'enabled', hasPin: false, phone: { number: '+14155552671', extension: '12' } });
    expect(created).not.toHaveProperty('pinHash');

    const dup = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: t.as('admin'), payload: { username: 'ALICE' } });
    expect(dup.statusCode).toBe(409);
    expect(expectProblemShape(dup).code).toBe('user_exists');

    await createUser('bob', { pin: '4711' });
    const got = await t.app.inject({ method: 'GET', url: '/api/v1/users/Alice', headers: t.as('sdk') });
    expect(got.statusCode).toBe(200);
    expect(json(got)['displayName']).toBe('Alice Liddell');

    const page1 = json<{ items: { username: string }[]; next: string | null }>(await t.app.inject({ method: 'GET', url: '/api/v1/users?limit=1', headers: t.as('sdk') }));
    expect(page1.items.map((u) => u.username)).toEqual(['alice']);
    expect(page1.next).not.toBeNull();
    const page2 = json<{ items: { username: string; hasPin: boolean }[]; next: string | null }>(
      await t.app.inject({ method: 'GET', url: `/api/v1/users?limit=1&after=${encodeURIComponent(page1.next as string)}`, headers: t.as('sdk') }),
    );
    expect(page2.items.map((u) => u.username)).toEqual(['bob']);
    expect(page2.items[0]?.hasPin).toBe(true);
    const search = json<{ items: { username: string }[] }>(await t.app.inject({ method: 'GET', url: '/api/v1/users?search=LIDDELL', headers: t.as('helpdesk') }));
    expect(search.items.map((u) => u.username)).toEqual(['alice']);

    const patched = await t.app.inject({ method: 'PATCH', url: '/api/v1/users/alice', headers: t.as('admin'), payload: { displayName: 'Alice L.' } });
    expect(patched.statusCode).toBe(200);
    expect(json(patched)['displayName']).toBe('Alice L.');

    const disabled = await t.app.inject({ method: 'POST', url: '/api/v1/users/alice/disable', headers: t.as('admin') });
    expect(json(disabled)['state']).toBe('disabled');
    const enabled = await t.app.inject({ method: 'POST', url: '/api/v1/users/alice/enable', headers: t.as('admin') });
    expect(json(enabled)['state']).toBe('enabled');

    const del = await t.app.inject({ method: 'DELETE', url: '/api/v1/users/alice', headers: t.as('admin') });
    expect(del.statusCode).toBe(204);
    expect(del.body).toBe('');
    const gone = await t.app.inject({ method: 'GET', url: '/api/v1/users/alice', headers: t.as('admin') });
    expect(gone.statusCode).toBe(404);
    expect(expectProblemShape(gone).code).toBe('user_not_found');
  });

  it('addresses users whose names need escaping in the path', async () => {
    for (const username of ['CORP\\bob', 'bob@corp.example', 'a/b', 'import', 'émile']) {
      const created = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: t.as('admin'), payload: { username } });
      expect(created.statusCode, username).toBe(201);
      expect(created.headers['location']).toBe(`/api/v1/users/${encodeURIComponent(username)}`);
      const got = await t.app.inject({ method: 'GET', url: created.headers['location'] as string, headers: t.as('sdk') });
      expect(json(got)['username']).toBe(username);
    }
  });

  it('blocks and unblocks with a reason, and shows the history', async () => {
    await createUser('carol');
    const blocked = await t.app.inject({ method: 'POST', url: '/api/v1/users/carol/block', headers: t.as('helpdesk'), payload: { reason: 'reported stolen phone' } });
    expect(blocked.statusCode).toBe(200);
    expect(json(blocked)).toMatchObject({ state: 'blocked', blockedReason: 'reported stolen phone' });

    const noReason = await t.app.inject({ method: 'POST', url: '/api/v1/users/carol/unblock', headers: t.as('helpdesk'), payload: {} });
    expect(noReason.statusCode).toBe(400);
    expect(expectProblemShape(noReason).errors).toEqual([{ field: 'reason', in: 'body', message: 'is required' }]);

    const unblocked = await t.app.inject({ method: 'POST', url: '/api/v1/users/carol/unblock', headers: t.as('helpdesk'), payload: { reason: 'phone found' } });
    expect(json(unblocked)['state']).toBe('enabled');

    const history = json<{ items: { action: string; reason: string | null; actor: string }[] }>(
      await t.app.inject({ method: 'GET', url: '/api/v1/users/carol/history', headers: t.as('helpdesk') }),
    );
    expect(history.items.map((e) => e.action)).toEqual(['user.unblock', 'user.block']);
    expect(history.items[1]?.reason).toBe('reported stolen phone');
    expect(history.items[0]?.actor).toBe('apikey:test-helpdesk');
  });

  it('imports users from CSV and reports bad rows', async () => {
    const csv = 'username,display_name,email\ndave,Dave,dave@example.com\n,Nobody,\nerin,Erin,not-an-email\n';
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/users/import', headers: { ...t.as('admin'), 'content-type': 'text/csv' }, payload: csv });
    expect(res.statusCode, res.body).toBe(200);
    const report = json<{ total: number; created: number; errors: { row: number; field: string | null }[] }>(res);
    expect(report.created).toBe(1);
    expect(report.errors.length).toBe(2);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/dave', headers: t.as('admin') })).statusCode).toBe(200);

    const wrongType = await t.app.inject({ method: 'POST', url: '/api/v1/users/import', headers: t.as('admin'), payload: { username: 'x' } });
    expect(wrongType.statusCode).toBe(415);
    expect(expectProblemShape(wrongType).code).toBe('unsupported_media_type');
  });
});

describe('TOTP authentication', () => {
  it('enrolls, approves a correct code, refuses its replay and looks the same for every failure', async () => {
    await createUser('alice');
    const e = await enroll('alice', { label: 'Phone' });
    expect(e.secret).toMatch(/^[A-Z2-7]+$/);
    expect(e.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    expect(e.qrSvg).toContain('<svg');
    expect(e.method).toMatchObject({ type: 'totp', label: 'Phone', config: { digits: 6, period: 30, algorithm: 'SHA1' } });

    // The secret is shown once: the method list never carries it.
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/users/alice/methods', headers: t.as('sdk') });
    expect(list.body).not.toContain(e.secret);
    expect(json<{ items: unknown[] }>(list).items).toHaveLength(1);

    // oathtool computes the code independently of the server's OATH code.
    const when = new Date(t.clock.now()).toISOString().replace('T', ' ').slice(0, 19);
    const code = execFileSync('oathtool', ['--totp', '-b', e.secret, '--now', `${when} UTC`], { encoding: 'utf8' }).trim();
    expect(code).toBe(totpAt(e.secret, t.clock.now()));

    const ok = await authenticate({ username: 'alice', passcode: code, application: 'default', clientIp: '203.0.113.7' });
    expect(ok).toMatchObject({ state: 'approved', username: 'alice', method: 'totp' });

    const replay = await authenticate({ username: 'alice', passcode: code, clientIp: '203.0.113.8' });
    expect(replay.state).toBe('denied');

    const wrong = await authenticate({ username: 'alice', passcode: code === '000000' ? '111111' : '000000', clientIp: '203.0.113.8' });
    const unknown = await authenticate({ username: 'mallory', passcode: '123456', clientIp: '203.0.113.8' });
    const malformed = await authenticate({ username: 'alice', passcode: 'abc', clientIp: '203.0.113.8' });
    expect(unknown.state).toBe('denied');
    expect(visible(unknown)).toEqual(visible(replay));
    expect(visible(wrong)).toEqual(visible(replay));
    expect(visible(malformed)).toEqual(visible(replay));
    expect(unknown.message).toBe(replay.message);

    // The audit trail knows why.
    const audit = json<{ items: { reason: string; username: string; result: string }[] }>(
      await t.app.inject({ method: 'GET', url: '/api/v1/audit-events?kind=authentication&limit=10', headers: t.as('helpdesk') }),
    );
    expect(audit.items.map((e) => e.reason)).toEqual(['malformed_passcode', 'user_not_found', 'invalid_passcode', 'replayed_passcode', 'passcode_ok']);
  });

  it("never takes the calling application's address for the user's", async () => {
    await createUser('alice');
    await enroll('alice');
    // The caller (127.0.0.1 under inject) is inside a trusted network: that must not approve anyone.
    await t.core.settings.update({ trustedIps: ['127.0.0.0/8'] }, adminActor);
    const withoutIp = await authenticate({ username: 'alice' });
    expect(withoutIp.state).toBe('challenge');
    const fromTrusted = await authenticate({ username: 'alice', clientIp: '127.0.0.9' });
    expect(fromTrusted.state).toBe('approved');
    await authenticate({ username: 'alice', passcode: '000000', clientIp: '198.51.100.4' });
    const audit = json<{ items: { clientIp: string | null; reason: string }[] }>(await t.app.inject({ method: 'GET', url: '/api/v1/audit-events?action=authenticate', headers: t.as('admin') }));
    expect(audit.items.map((e) => [e.clientIp, e.reason])).toEqual([
      ['198.51.100.4', expect.stringMatching(/passcode/)],
      ['127.0.0.9', 'trusted_ip'],
      [null, 'challenge_issued'],
    ]);
  });

  it('issues a challenge, accepts the answer once, and can be polled', async () => {
    await createUser('alice');
    const e = await enroll('alice');
    const challenge = await authenticate({ username: 'alice', clientIp: '203.0.113.7' });
    expect(challenge.state).toBe('challenge');
    expect(challenge.expiresAt).toBeGreaterThan(challenge.createdAt);

    const answer = await t.app.inject({
      method: 'POST',
      url: `/api/v1/authentications/${challenge.id}/passcode`,
      headers: t.as('sdk'),
      payload: { passcode: totpAt(e.secret, t.clock.now()) },
    });
    expect(answer.statusCode, answer.body).toBe(200);
    expect(json(answer)['state']).toBe('approved');

    const polled = await t.app.inject({ method: 'GET', url: `/api/v1/authentications/${challenge.id}`, headers: t.as('sdk') });
    expect(json(polled)).toMatchObject({ id: challenge.id, state: 'approved' });

    const again = await t.app.inject({ method: 'POST', url: `/api/v1/authentications/${challenge.id}/passcode`, headers: t.as('sdk'), payload: { passcode: '123456' } });
    expect(again.statusCode).toBe(409);
    expect(expectProblemShape(again).code).toBe('authentication_closed');

    const missing = await t.app.inject({ method: 'GET', url: '/api/v1/authentications/AAAAAAAAAAAAAAAAAAAAAA', headers: t.as('sdk') });
    expect(missing.statusCode).toBe(404);
    expect(expectProblemShape(missing).code).toBe('authentication_not_found');
  });

  it('locks the user after the threshold, records it in the audit trail (JSON and CSV), and unlocks', async () => {
    const settings = await t.app.inject({ method: 'PATCH', url: '/api/v1/settings', headers: t.as('admin'), payload: { lockout: { threshold: 3 } } });
    expect(settings.statusCode, settings.body).toBe(200);
    expect(json<{ lockout: { threshold: number; autoUnlockSeconds: number } }>(settings).lockout.threshold).toBe(3);

    await createUser('alice');
    const e = await enroll('alice');
    const good = totpAt(e.secret, t.clock.now());
    const bad = good === '000000' ? '111111' : '000000';
    for (let i = 0; i < 3; i++) expect((await authenticate({ username: 'alice', passcode: bad })).state).toBe('denied');

    const user = json(await t.app.inject({ method: 'GET', url: '/api/v1/users/alice', headers: t.as('helpdesk') }));
    expect(user).toMatchObject({ state: 'locked', failedCount: 3 });
    expect(user['lockedAt']).toBe(t.clock.now());
    await createUser('zoe');
    const locked = json<{ items: { username: string }[] }>(await t.app.inject({ method: 'GET', url: '/api/v1/users?state=locked', headers: t.as('helpdesk') }));
    expect(locked.items.map((u) => u.username)).toEqual(['alice']);

    // Locked: even the right code is denied, and it looks like any other failure.
    expect((await authenticate({ username: 'alice', passcode: good })).state).toBe('denied');

    const events = json<{ items: { id: number; reason: string; result: string; at: number; username: string }[]; next: number | null }>(
      await t.app.inject({ method: 'GET', url: '/api/v1/audit-events?username=alice&result=denied', headers: t.as('helpdesk') }),
    );
    expect(events.items.map((x) => x.reason)).toEqual(['user_locked', 'invalid_passcode', 'invalid_passcode', 'invalid_passcode']);
    expect(events.next).toBeNull();
    const lock = json<{ items: { reason: string; actor: string }[] }>(
      await t.app.inject({ method: 'GET', url: '/api/v1/audit-events?username=alice&kind=admin&action=user.lock', headers: t.as('helpdesk') }),
    );
    expect(lock.items).toHaveLength(1);
    expect(lock.items[0]?.reason).toMatch(/3 consecutive failed/);

    // Paging: newest first, `next` is the cursor for `before`.
    const first = json<{ items: { id: number }[]; next: number | null }>(
      await t.app.inject({ method: 'GET', url: '/api/v1/audit-events?username=alice&result=denied&limit=2', headers: t.as('helpdesk') }),
    );
    expect(first.items).toHaveLength(2);
    expect(first.next).toBe(first.items[1]?.id);
    const second = json<{ items: { reason: string }[] }>(
      await t.app.inject({ method: 'GET', url: `/api/v1/audit-events?username=alice&result=denied&limit=2&before=${first.next}`, headers: t.as('helpdesk') }),
    );
    expect(second.items.map((x) => x.reason)).toEqual(['invalid_passcode', 'invalid_passcode']);

    // Time filters accept ISO 8601 and epoch ms.
    const now = t.clock.now();
    const iso = new Date(now).toISOString();
    const inRange = json<{ items: unknown[] }>(
      await t.app.inject({ method: 'GET', url: `/api/v1/audit-events?username=alice&result=denied&from=${encodeURIComponent(iso)}&to=${now + 1}`, headers: t.as('helpdesk') }),
    );
    expect(inRange.items).toHaveLength(4);
    const before = json<{ items: unknown[] }>(
      await t.app.inject({ method: 'GET', url: `/api/v1/audit-events?username=alice&to=${encodeURIComponent(iso)}`, headers: t.as('helpdesk') }),
    );
    expect(before.items).toHaveLength(0);

    // CSV: by Accept header and by ?format=csv, with a header row and ISO 8601 times.
    for (const req of [
      { url: '/api/v1/audit-events?username=alice&result=denied', headers: { ...t.as('helpdesk'), accept: 'text/csv' } },
      { url: '/api/v1/audit-events?username=alice&result=denied&format=csv', headers: t.as('helpdesk') },
    ]) {
      const res = await t.app.inject({ method: 'GET', ...req });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      expect(res.headers['content-disposition']).toContain('audit-events.csv');
      const rows = parse(res.body, { columns: true }) as Record<string, string>[];
      expect(rows.map((r) => r['reason'])).toEqual(['user_locked', 'invalid_passcode', 'invalid_passcode', 'invalid_passcode']);
      expect(rows[0]?.['at']).toBe(iso);
      expect(rows[0]?.['username']).toBe('alice');
      expect(res.body.split('\r\n')[0]).toMatch(/^id,at,kind,action,result,reason,username,/);
    }

    const unlocked = await t.app.inject({ method: 'POST', url: '/api/v1/users/alice/unlock', headers: t.as('helpdesk') });
    expect(json(unlocked)).toMatchObject({ state: 'enabled', failedCount: 0, lockedAt: null });
    t.clock.advance(30_000);
    expect((await authenticate({ username: 'alice', passcode: totpAt(e.secret, t.clock.now()) })).state).toBe('approved');

    const history = json<{ items: { action: string }[] }>(await t.app.inject({ method: 'GET', url: '/api/v1/users/alice/history', headers: t.as('helpdesk') }));
    expect(history.items.map((x) => x.action)).toEqual(['user.unlock', 'user.lock']);
  });

  it('neutralizes spreadsheet formulas in the CSV export', async () => {
    await authenticate({ username: '=HYPERLINK("http://x")', passcode: '123456' });
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/audit-events?format=csv&kind=authentication', headers: t.as('admin') });
    const rows = parse(res.body, { columns: true }) as Record<string, string>[];
    expect(rows[0]?.['username']).toBe(`'=HYPERLINK("http://x")`);
  });

  it('leaves phone numbers in the CSV export as they are', async () => {
    await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: t.as('admin'), payload: { username: 'phoned', phone: { number: '+14155552671' } } });
    await authenticate({ username: 'phoned', passcode: '123456' });
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/audit-events?format=csv&kind=authentication', headers: t.as('admin') });
    const rows = parse(res.body, { columns: true }) as Record<string, string>[];
    expect(rows[0]?.['phone']).toBe('+14155552671');
  });
});

describe('methods', () => {
  it('removes a method and imports tokens (CSV and PSKC)', async () => {
    await createUser('alice');
    await createUser('bob');
    const e = await enroll('alice');
    const del = await t.app.inject({ method: 'DELETE', url: `/api/v1/users/alice/methods/${e.method.id}`, headers: t.as('helpdesk') });
    expect(del.statusCode).toBe(204);
    const again = await t.app.inject({ method: 'DELETE', url: `/api/v1/users/alice/methods/${e.method.id}`, headers: t.as('helpdesk') });
    expect(again.statusCode).toBe(404);
    expect(expectProblemShape(again).code).toBe('method_not_found');

    const csv = 'username,type,secret,digits,period,algorithm,counter,serial,label\nalice,hotp,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,6,,SHA1,0,HW-1,Key fob\nnobody,totp,GEZDGNBVGY3TQOJQ,6,30,SHA1,,,\n';
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/tokens/import?format=csv', headers: { ...t.as('admin'), 'content-type': 'text/csv' }, payload: csv });
    expect(res.statusCode, res.body).toBe(200);
    const report = json<{ created: number; errors: { row: number }[] }>(res);
    expect(report.created).toBe(1);
    expect(report.errors).toHaveLength(1);
    const methods = json<{ items: { id: string; type: string; config: { serial: string | null; origin: string } }[] }>(
      await t.app.inject({ method: 'GET', url: '/api/v1/users/alice/methods', headers: t.as('sdk') }),
    );
    expect(methods.items[0]).toMatchObject({ type: 'hotp', config: { serial: 'HW-1', origin: 'imported' } });

    // HOTP resync from two consecutive codes (RFC 4226 test secret "12345678901234567890").
    const resync = await t.app.inject({
      method: 'POST',
      url: `/api/v1/users/alice/methods/${methods.items[0]?.id}/resync`,
      headers: t.as('admin'),
      payload: { code1: '162583', code2: '399871' },
    });
    expect(resync.statusCode, resync.body).toBe(200);
    const badResync = await t.app.inject({
      method: 'POST',
      url: `/api/v1/users/alice/methods/${methods.items[0]?.id}/resync`,
      headers: t.as('admin'),
      payload: { code1: '111111', code2: '222222' },
    });
    expect(badResync.statusCode).toBe(422);
    expect(expectProblemShape(badResync).code).toBe('resync_failed');

    const pskc = `<?xml version="1.0" encoding="UTF-8"?>
<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">
  <KeyPackage>
    <DeviceInfo><Manufacturer>Acme</Manufacturer><SerialNo>987654321</SerialNo><UserId>bob</UserId></DeviceInfo>
    <Key Id="1" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp">
      <AlgorithmParameters><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>
      <Data><Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret><TimeInterval><PlainValue>30</PlainValue></TimeInterval></Data>
    </Key>
  </KeyPackage>
</KeyContainer>`;
    const px = await t.app.inject({ method: 'POST', url: '/api/v1/tokens/import', headers: { ...t.as('admin'), 'content-type': 'application/pskc+xml' }, payload: pskc });
    expect(px.statusCode, px.body).toBe(200);
    expect(json<{ created: number }>(px).created).toBe(1);
    const bobAuth = await authenticate({ username: 'bob', passcode: totpAt('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', t.clock.now()) });
    expect(bobAuth.state).toBe('approved');

    const mismatch = await t.app.inject({ method: 'POST', url: '/api/v1/tokens/import?format=csv', headers: { ...t.as('admin'), 'content-type': 'application/xml' }, payload: pskc });
    expect(mismatch.statusCode).toBe(400);
    expect(expectProblemShape(mismatch).errors?.[0]?.field).toBe('format');
    const json415 = await t.app.inject({ method: 'POST', url: '/api/v1/tokens/import', headers: t.as('admin'), payload: { csv: 'x' } });
    expect(json415.statusCode).toBe(415);
  });
});

describe('backup codes', () => {
  it('are made by the help desk, shown once, listed with what is left, and sign in once each', async () => {
    await createUser('alice');
    const denied = await t.app.inject({ method: 'POST', url: '/api/v1/users/alice/backup-codes', headers: t.as('sdk') });
    expect(denied.statusCode).toBe(403);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/users/alice/backup-codes', headers: t.as('helpdesk') });
    expect(res.statusCode, res.body).toBe(201);
    const made = json<{ method: { type: string; remaining: number; pending: boolean }; codes: string[] }>(res);
    expect(made.method).toMatchObject({ type: 'backup', remaining: 10, pending: false });
    expect(made.codes).toHaveLength(10);
    const code = made.codes[0] as string;
    expect((await authenticate({ username: 'alice', passcode: code })).state).toBe('approved');
    expect((await authenticate({ username: 'alice', passcode: code })).state).toBe('denied');
    const list = json<{ items: { type: string; remaining: number | null }[] }>(await t.app.inject({ method: 'GET', url: '/api/v1/users/alice/methods', headers: t.as('helpdesk') }));
    expect(list.items).toEqual([expect.objectContaining({ type: 'backup', remaining: 9 })]);
  });
});

describe('bypass', () => {
  it('issues, shows, uses once and cancels a bypass', async () => {
    await createUser('alice');
    await enroll('alice');
    const none = await t.app.inject({ method: 'GET', url: '/api/v1/users/alice/bypass', headers: t.as('helpdesk') });
    expect(none.statusCode).toBe(404);
    expect(expectProblemShape(none).code).toBe('not_found');

    const issued = await t.app.inject({ method: 'POST', url: '/api/v1/users/alice/bypass', headers: t.as('helpdesk'), payload: { seconds: 300, reason: 'lost phone, ticket 4711' } });
    expect(issued.statusCode, issued.body).toBe(201);
    expect(json(issued)).toMatchObject({ username: 'alice', reason: 'lost phone, ticket 4711', createdBy: 'apikey:test-helpdesk', expiresAt: t.clock.now() + 300_000 });
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/alice/bypass', headers: t.as('helpdesk') })).statusCode).toBe(200);

    expect((await authenticate({ username: 'alice' })).state).toBe('approved');
    expect((await authenticate({ username: 'alice' })).state).toBe('challenge');

    await t.app.inject({ method: 'POST', url: '/api/v1/users/alice/bypass', headers: t.as('helpdesk'), payload: { reason: 'again' } });
    const cancelled = await t.app.inject({ method: 'DELETE', url: '/api/v1/users/alice/bypass', headers: t.as('helpdesk') });
    expect(cancelled.statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/alice/bypass', headers: t.as('helpdesk') })).statusCode).toBe(404);
  });
});

describe('applications, settings and API keys', () => {
  it('manages applications', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/applications',
      headers: t.as('admin'),
      payload: { name: 'vpn', requireUserMatch: true, trustedIps: ['192.0.2.0/24'], cacheSeconds: 0 },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.headers['location']).toBe('/api/v1/applications/vpn');
    const dup = await t.app.inject({ method: 'POST', url: '/api/v1/applications', headers: t.as('admin'), payload: { name: 'vpn' } });
    expect(expectProblemShape(dup).code).toBe('application_exists');
    const patched = await t.app.inject({ method: 'PATCH', url: '/api/v1/applications/vpn', headers: t.as('admin'), payload: { allowedMethods: ['totp'] } });
    expect(json(patched)).toMatchObject({ name: 'vpn', allowedMethods: ['totp'], trustedIps: ['192.0.2.0/24'] });
    const list = json<{ items: { name: string }[] }>(await t.app.inject({ method: 'GET', url: '/api/v1/applications', headers: t.as('helpdesk') }));
    expect(list.items.map((a) => a.name)).toContain('vpn');

    // A trusted network of the application approves without a code.
    await createUser('alice');
    expect((await authenticate({ username: 'alice', application: 'vpn', clientIp: '192.0.2.10' })).state).toBe('approved');

    expect((await t.app.inject({ method: 'DELETE', url: '/api/v1/applications/vpn', headers: t.as('admin') })).statusCode).toBe(204);
    const gone = await t.app.inject({ method: 'GET', url: '/api/v1/applications/vpn', headers: t.as('admin') });
    expect(expectProblemShape(gone).code).toBe('application_not_found');
  });

  it('reads and patches settings', async () => {
    const before = json<{ lockout: { threshold: number; autoUnlockSeconds: number }; trustedIps: string[] }>(
      await t.app.inject({ method: 'GET', url: '/api/v1/settings', headers: t.as('helpdesk') }),
    );
    const res = await t.app.inject({ method: 'PATCH', url: '/api/v1/settings', headers: t.as('admin'), payload: { lockout: { autoUnlockSeconds: 900 }, trustedIps: ['10.0.0.0/8'] } });
    expect(res.statusCode, res.body).toBe(200);
    expect(json(res)).toMatchObject({ lockout: { threshold: before.lockout.threshold, autoUnlockSeconds: 900 }, trustedIps: ['10.0.0.0/8'] });
    const bad = await t.app.inject({ method: 'PATCH', url: '/api/v1/settings', headers: t.as('admin'), payload: { lockout: { threshold: -1, colour: 'red' } } });
    expect(bad.statusCode).toBe(400);
    const fields = expectProblemShape(bad).errors?.map((e) => e.field).sort();
    expect(fields).toEqual(['lockout.colour', 'lockout.threshold']);
  });

  it('creates an API key whose token is shown once, works at once and stops at revocation', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: t.as('admin'), payload: { name: 'vpn-portal', role: 'sdk' } });
    expect(res.statusCode, res.body).toBe(201);
    const created = json<{ key: { id: string; prefix: string; role: string }; token: string }>(res);
    expect(created.token.startsWith(created.key.prefix)).toBe(true);

    const list = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: t.as('admin') });
    expect(list.body).not.toContain(created.token);
    expect(json<{ items: { name: string }[] }>(list).items.map((k) => k.name)).toContain('vpn-portal');

    const use = await t.app.inject({ method: 'GET', url: '/api/v1/users', headers: { authorization: `Bearer ${created.token}` } });
    expect(use.statusCode).toBe(200);
    const forbidden = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: { authorization: `Bearer ${created.token}` } });
    expect(forbidden.statusCode).toBe(403);

    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${created.key.id}`, headers: t.as('admin') })).statusCode).toBe(204);
    const after = await t.app.inject({ method: 'GET', url: '/api/v1/users', headers: { authorization: `Bearer ${created.token}` } });
    expect(after.statusCode).toBe(401);
  });
});
