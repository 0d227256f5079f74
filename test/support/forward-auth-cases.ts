/**
 * What every proxy in front of the gateway must show, whichever it is (nginx, Caddy, HAProxy):
 * anonymous requests go to sign-in and reach nothing; a wrong code or a forged cookie gets
 * nowhere; a trusted network skips the code but a spoofed X-Forwarded-For does not, and a denied
 * network is refused even on public paths; sign-out ends the session; no path variant reaches a
 * protected route. Call inside the proxy's describe(), after its beforeAll has set the stack up
 * (site `wiki`, trusted 127.0.0.2, denied 127.0.0.3), with `beforeEach` clearing app.requests.
 */
import { expect, it } from 'vitest';
import { totpAt } from '../http/helpers.ts';
import { signInThrough, STACK_PASSWORD, type FrontProxy, type GatewayBehind } from './gateway-stack.ts';
import { expectNoPathGetsThrough } from './gateway-variants.ts';
import { cliActor } from './harness.ts';
import { CookieClient, hiddenField as hidden, sendRaw } from './raw-http.ts';

export function forwardAuthCases(current: () => GatewayBehind<FrontProxy>): void {
  const client = (from?: string): CookieClient => new CookieClient(current().proxy.port, from);

  it('sends anyone without a session to the sign-in page, and nothing reaches the application', async () => {
    const { origin, app } = current();
    const res = await client().get('/admin/users?tab=1');
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`${origin}/gateway/sign-in?rd=${encodeURIComponent(`${origin}/admin/users?tab=1`)}`);
    expect(app.requests).toEqual([]);
  });

  it('refuses a wrong code and a forged session cookie', async () => {
    const { origin, app, tc, secret } = current();
    const c = client();
    const form = await c.get(String((await c.get('/admin')).headers.location).slice(origin.length));
    const verify = await c.post('/gateway/sign-in', { _csrf: hidden(form.body, '_csrf'), rd: hidden(form.body, 'rd'), username: 'alice', password: STACK_PASSWORD });
    const wrong = await c.post('/gateway/verify', { _csrf: hidden(verify.body, '_csrf'), code: totpAt(secret, tc.clock.now()) === '000000' ? '111111' : '000000' });
    expect(wrong.status).toBe(401);
    expect((await c.get('/admin')).status).toBe(302);
    const forged = client();
    forged.cookies.set('__Host-cs_gateway', 'A'.repeat(43));
    expect((await forged.get('/admin', { 'remote-user': 'alice' })).status).toBe(302);
    expect(app.requests).toEqual([]);
    await tc.core.users.unlock('alice', cliActor);
  });

  it('skips the second factor from a trusted network, never for a spoofed X-Forwarded-For, and refuses denied networks', async () => {
    const { origin, app, tc } = current();
    const signInFrom = async (c: CookieClient, headers: Record<string, string> = {}) => {
      const start = await c.get('/admin', headers);
      const form = await c.get(String(start.headers.location).slice(origin.length), headers);
      return c.post('/gateway/sign-in', { _csrf: hidden(form.body, '_csrf'), rd: hidden(form.body, 'rd'), username: 'alice', password: STACK_PASSWORD }, headers);
    };
    const trusted = client('127.0.0.2');
    const done = await signInFrom(trusted);
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe(`${origin}/admin`);
    expect(JSON.parse((await trusted.get('/admin')).body)).toMatchObject({ headers: { 'remote-user': 'alice' } });
    const [event] = await tc.core.audit.query({ username: 'alice', kind: 'authentication', limit: 1 });
    expect(event).toMatchObject({ application: 'wiki', result: 'approved', reason: 'trusted_ip' });

    const spoofed = await signInFrom(client(), { 'x-forwarded-for': '127.0.0.2' });
    expect(spoofed.status).toBe(200);
    expect(spoofed.body).toContain('name="code"');

    const denied = client('127.0.0.3');
    expect((await denied.get('/public/logo.png')).status).toBe(403);
    expect((await denied.get('/admin')).status).toBe(403);
    // Claiming another address does not get a denied client through either.
    expect((await denied.get('/public/logo.png', { 'x-forwarded-for': '127.0.0.1' })).status).toBe(403);
    expect(app.requests.filter((r) => r.url === '/public/logo.png')).toEqual([]);
  });

  it('signs out everywhere: the next request needs a new sign-in', async () => {
    const s = current();
    const c = client();
    await signInThrough(c, s);
    expect((await c.get('/admin')).status).toBe(200);
    const page = await c.get('/gateway/sign-out');
    const out = await c.post('/gateway/sign-out', { _csrf: hidden(page.body, '_csrf') });
    expect(out.body).toContain('You have signed out of every site.');
    s.app.requests.length = 0;
    const after = await c.get('/admin');
    expect(after.status).toBe(302);
    expect(String(after.headers.location)).toContain('/gateway/sign-in?rd=');
    expect(s.app.requests).toEqual([]);
  });

  it('lets no path variant reach a protected route without a session', async () => {
    const { proxy, app } = current();
    const outcomes = await expectNoPathGetsThrough((path) => sendRaw(proxy.port, path), app);
    // Most variants were sent to sign in; some were refused by the proxy itself (400) or are public.
    expect(outcomes.get(302) ?? 0, JSON.stringify([...outcomes])).toBeGreaterThan(500);
  });
}
