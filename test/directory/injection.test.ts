/**
 * LDAP injection: usernames built from filter metacharacters, RFC 4515 escapes, NUL, unicode and
 * sheer length, each tried with the real password of every seeded user and with an empty password,
 * against a real slapd. None may sign anyone in.
 */
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLdapFirstFactor, directorySource, escapeFilterValue } from '../../src/directory/index.ts';
import type { FirstFactorProvider } from '../../src/core/ports.ts';
import { slapdAvailable, startSlapd, type Slapd } from '../support/slapd.ts';

const PAYLOADS = [
  '*',
  '**',
  '*)(uid=*))(|(uid=*',
  '*)(|(uid=*',
  '*)(uid=*)',
  ')(uid=*',
  '(uid=*)',
  ')(',
  '(',
  ')',
  '(|(uid=alice)(uid=bob))',
  '(&)',
  '(|)',
  '(!(uid=nobody))',
  ')(objectClass=*',
  '*)(objectClass=*',
  ')(&)',
  ')(|(&)',
  '\\2a',
  '\\2A',
  '\\28',
  '\\29',
  '\\5c',
  '\\00',
  '\\',
  '\\\\',
  '\\2a)(uid=\\2a',
  '\0',
  '\0*',
  '*\0',
  '|',
  '&',
  '!',
  '=',
  '~=',
  '>=',
  '<=',
  ':=',
  ':dn:=',
  '*\u00ff*',
  '\u2217',
  '\uff0a',
  '\u0000\u0000',
  '\u202e*',
  '%2a',
  '%00',
  '\ud83d\ude00*',
];

const TARGETS = ['alice', 'bob', 'carol', 'dup'];

/** Systematic usernames: each payload alone and around/inside each seeded uid, plus targeted ones. */
function injectionUsernames(): string[] {
  const out = new Set<string>();
  for (const p of PAYLOADS) {
    out.add(p);
    out.add(`alice${p}`);
    out.add(`${p}alice`);
    out.add(`al${p}ice`);
  }
  for (const t of TARGETS) {
    out.add(`${t}*`);
    out.add(`*${t}`);
    out.add(`${t.slice(0, 2)}*`);
    out.add(`${t})(uid=*`);
    out.add(`${t})(|(uid=*`);
    out.add(`${t}\0`);
    out.add(`${t}\0junk`);
    // Escaped spellings of the real uid: they match only if the username were used as filter text.
    out.add(t.replace(/./g, (c) => `\\${c.charCodeAt(0).toString(16)}`));
    out.add(`\\${t.charCodeAt(0).toString(16)}${t.slice(1)}`);
    out.add(`uid=${t}`);
    out.add(`uid=${t},ou=people,dc=example,dc=test`);
    // Look-alike letters (Cyrillic a / e / o) are different users.
    out.add(t.replace('a', '\u0430').replace('e', '\u0435').replace('o', '\u043e'));
  }
  out.add('cn=admin,dc=example,dc=test');
  out.add('cn=countersign,ou=services,dc=example,dc=test');
  out.add('countersign');
  out.add('*'.repeat(256));
  out.add('alice' + '*'.repeat(251));
  out.add('a'.repeat(257));
  out.add('('.repeat(200) + 'uid=*' + ')'.repeat(200));
  out.add('\\2a'.repeat(1000));
  out.add('alice' + ')'.repeat(10_000));
  // A look-alike of a uid without look-alike letters is the uid itself: not an injection.
  return [...out].filter((u) => !TARGETS.includes(u));
}

const USERNAMES = injectionUsernames();
const available = slapdAvailable();

describe.skipIf(!available)('LDAP injection (real slapd)', () => {
  let ldap: Slapd;
  let ff: FirstFactorProvider;

  beforeAll(async () => {
    ldap = await startSlapd();
    ff = createLdapFirstFactor(
      directorySource({ urls: [ldap.url], bindDn: ldap.bindDn, bindPassword: ldap.bindPassword, baseDn: ldap.baseDn, startTls: false, timeoutMs: 5000 }),
    );
  });

  afterAll(async () => {
    await ldap?.stop();
  });

  it('has at least 100 distinct injection usernames', () => {
    expect(USERNAMES.length).toBeGreaterThanOrEqual(100);
  });

  it('the directory honours wildcards in filter text, so a string-built filter would be exploitable', async () => {
    const client = new Client({ url: ldap.url, timeout: 5000 });
    try {
      await client.bind(ldap.bindDn, ldap.bindPassword);
      const { searchEntries } = await client.search(ldap.baseDn, { filter: '(uid=*)', attributes: ['1.1'] });
      expect(searchEntries.length).toBeGreaterThanOrEqual(5);
      const escaped = await client.search(ldap.baseDn, { filter: '(uid=al\\69ce)', attributes: ['1.1'] });
      expect(escaped.searchEntries.map((e) => e.dn)).toEqual(['uid=alice,ou=people,dc=example,dc=test']);
    } finally {
      await client.unbind();
    }
  });

  it('the real user still signs in (the suite would notice a provider that refuses everyone)', async () => {
    expect(await ff.verify('alice', 'alice-pass-1')).toMatchObject({ ok: true });
  });

  it('no injection username signs in with any real password; each is an unknown user', async () => {
    const passwords = [...new Set(ldap.users.map((u) => u.password))];
    const outcomes: { username: string; result: unknown }[] = [];
    for (const username of USERNAMES) {
      for (const password of passwords) {
        const result = await ff.verify(username, password);
        if (result.ok || result.reason !== 'unknown_user') outcomes.push({ username: JSON.stringify(username).slice(0, 80), result });
      }
    }
    expect(outcomes).toEqual([]);
  });

  it('no injection username gets anywhere with an empty password', async () => {
    for (const username of USERNAMES) {
      expect(await ff.verify(username, '')).toEqual({ ok: false, reason: 'empty_password' });
    }
  });
});

describe('escapeFilterValue (RFC 4515)', () => {
  it('escapes the five specials and leaves the rest', () => {
    expect(escapeFilterValue('*)(uid=*))(|(uid=*')).toBe('\\2a\\29\\28uid=\\2a\\29\\29\\28|\\28uid=\\2a');
    expect(escapeFilterValue('a\\b\0c')).toBe('a\\5cb\\00c');
    expect(escapeFilterValue('alice')).toBe('alice');
  });

  it('keeps non-ASCII characters (UTF-8 is valid in filter values)', () => {
    expect(escapeFilterValue('j\u00f6rg*')).toBe('j\u00f6rg\\2a');
  });
});
