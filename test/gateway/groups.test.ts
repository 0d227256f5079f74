/**
 * Remote-Groups from directory groups: a real slapd holds the groups (nested membership
 * included); the gateway checks the site's groups at sign-in and passes the names it found.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGroupMember } from '../../src/directory/membership.ts';
import { openldap } from '../../src/directory/presets.ts';
import { directorySource } from '../../src/directory/source.ts';
import { buildHttpApp } from '../../src/doors/http/app.ts';
import { totpAt } from '../http/helpers.ts';
import { cliActor, createTestCore, type TestCore } from '../support/harness.ts';
import { groupDn, slapdAvailable, startSlapd, type Slapd } from '../support/slapd.ts';
import { CookieClient, hiddenField } from '../support/raw-http.ts';
import { testHttpAppOptions } from '../support/web-app.ts';

const ORIGIN = 'https://wiki.example.com';
const PASSWORD = 'correct horse battery';
let tc: TestCore;
let ldap: Slapd;
let app: FastifyInstance;
let port: number;

describe.skipIf(!slapdAvailable())('gateway Remote-Groups from directory groups', () => {
  beforeAll(async () => {
    [tc, ldap] = await Promise.all([createTestCore(), startSlapd({ ad: true })]);
    const source = directorySource({ urls: [ldap.url], bindDn: ldap.bindDn, bindPassword: ldap.bindPassword, baseDn: ldap.baseDn });
    const dead = directorySource({ urls: ['ldap://127.0.0.1:1'], bindDn: ldap.bindDn, bindPassword: ldap.bindPassword, baseDn: ldap.baseDn, timeoutMs: 300 });
    app = await buildHttpApp({
      ...testHttpAppOptions(tc),
      gateway: {
        proxies: ['127.0.0.1'],
        signInPerMinute: 100_000,
        membership: (directory, username, group) => isGroupMember(directory === 'corp' ? source : dead, openldap, username, group),
        sites: [
          {
            name: 'wiki',
            application: 'default',
            origins: [ORIGIN],
            publicPaths: [],
            deniedNetworks: [],
            cacheSeconds: 3600,
            groups: [
              { name: 'staff', directory: 'corp', group: groupDn('staff') },
              { name: 'admins', directory: 'corp', group: groupDn('admins') },
              { name: 'offline', directory: 'down', group: groupDn('staff') },
            ],
          },
        ],
      },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    port = typeof address === 'object' && address ? address.port : 0;
    for (const username of ['alice', 'carol', 'bob']) {
      await tc.core.users.create({ username }, cliActor);
      await tc.core.users.setPassword(username, PASSWORD, cliActor);
    }
  });
  afterAll(async () => {
    await app?.close();
    await ldap?.stop();
    await tc?.close();
  });

  /** Signs in on the sign-in pages directly, then asks for a decision like a proxy would. */
  async function groupsAfterSignIn(username: string): Promise<string | undefined> {
    const secret = (await tc.core.methods.enrollTotp(username, {}, cliActor)).secret;
    const c = new CookieClient(port);
    const form = await c.get(`/gateway/sign-in?rd=${encodeURIComponent(`${ORIGIN}/`)}`);
    const verify = await c.post('/gateway/sign-in', { _csrf: hiddenField(form.body, '_csrf'), rd: hiddenField(form.body, 'rd'), username, password: PASSWORD });
    tc.clock.advance(30_000);
    expect((await c.post('/gateway/verify', { _csrf: hiddenField(verify.body, '_csrf'), code: totpAt(secret, tc.clock.now()) })).status).toBe(303);
    const decision = await c.get('/gateway/auth', { 'x-original-url': `${ORIGIN}/page` });
    expect(decision.status).toBe(200);
    expect(decision.headers['remote-user']).toBe(username);
    return decision.headers['remote-groups'] as string | undefined;
  }

  it('passes the groups the user belongs to, nested ones included, and leaves out a directory that cannot be asked', async () => {
    expect(await groupsAfterSignIn('alice')).toBe('staff');
    // carol is in admins, and admins is a member of staff.
    expect(await groupsAfterSignIn('carol')).toBe('staff,admins');
    expect(await groupsAfterSignIn('bob')).toBe('');
  });
});
