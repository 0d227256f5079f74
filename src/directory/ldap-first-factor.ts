/**
 * LDAP first factor: find the user's DN with the service account (an equality filter sent as BER,
 * so no character of the username can change the filter), then bind as that DN on a fresh
 * connection. Empty passwords are refused before any network traffic, never sent as a bind.
 */
import { EqualityFilter, InvalidCredentialsError, SizeLimitExceededError, type Client } from 'ldapts';
import type { FirstFactorFailure, FirstFactorProvider, FirstFactorResult } from '../core/ports.ts';
import { closeQuietly, connectService, DirectoryStageError, openBound, type ServiceSession } from './connection.ts';
import type { DirectorySource } from './source.ts';

/** Longest username looked up; longer ones are unknown without asking the directory. */
export const MAX_USERNAME_LENGTH = 256;

const fail = (reason: FirstFactorFailure): FirstFactorResult => ({ ok: false, reason });

/**
 * RFC 4515 escaping of a filter value, for the places that need filter text (logs, docs, other
 * libraries). The provider itself never builds filter strings.
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\x00]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * The DNs of the entries whose login attribute equals `username`, at most two (two means
 * ambiguous). The filter is an EqualityFilter encoded as BER: no character of the name can change
 * it. Throws SizeLimitExceededError when the directory finds more.
 */
export async function findUserDns(client: Client, source: DirectorySource, username: string): Promise<string[]> {
  const result = await client.search(source.baseDn, {
    scope: 'sub',
    derefAliases: 'never',
    filter: new EqualityFilter({ attribute: source.userAttribute, value: username }),
    attributes: ['1.1'],
    sizeLimit: 2,
  });
  return result.searchEntries.map((e) => e.dn);
}

export function createLdapFirstFactor(source: DirectorySource): FirstFactorProvider {
  return {
    async verify(username: string, password: string): Promise<FirstFactorResult> {
      // 1. Refuse before touching the network: an empty password would be an unauthenticated bind.
      if (typeof password !== 'string' || password === '') return fail('empty_password');
      if (typeof username !== 'string' || username === '' || username.length > MAX_USERNAME_LENGTH) return fail('unknown_user');

      // 2. Service account session on the first healthy URL.
      let session: ServiceSession;
      try {
        session = await connectService(source);
      } catch {
        return fail('directory_unavailable');
      }

      // 3. Exactly one entry must match the login attribute.
      let dns: string[];
      try {
        dns = await findUserDns(session.client, source, username);
      } catch (err) {
        return fail(err instanceof SizeLimitExceededError ? 'ambiguous_user' : 'directory_unavailable');
      } finally {
        await closeQuietly(session.client);
      }
      if (dns.length === 0) return fail('unknown_user');
      if (dns.length > 1) return fail('ambiguous_user');
      const dn = dns[0] as string;
      if (dn === '') return fail('unknown_user');

      // 4. Bind as the user on a fresh connection to the URL that answered.
      try {
        const client = await openBound(source, session.url, dn, password);
        await closeQuietly(client);
        return { ok: true, dn };
      } catch (err) {
        const cause = err instanceof DirectoryStageError ? err.cause : err;
        return fail(cause instanceof InvalidCredentialsError ? 'invalid_credentials' : 'directory_unavailable');
      }
    },
  };
}
