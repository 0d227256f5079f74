/**
 * Is this user a member of that group, nested groups included? For reply attributes by group (the
 * RADIUS door's VPN policy). The user is found by the login attribute with an escaped equality
 * filter, as for the first factor; membership is resolved as the source's preset says:
 * - `inChain` (Active Directory): the DC evaluates `memberOf:1.2.840.113556.1.4.1941:=<group>` on
 *   the user's entry;
 * - `memberOf`: the user's memberOf holds the group (direct membership);
 * - `member` (OpenLDAP groupOfNames): the groups whose `member` holds the user, then the groups
 *   holding those, up to MAX_GROUP_DEPTH levels.
 */
import { EqualityFilter, ExtensibleFilter, type Filter } from 'ldapts';
import { closeQuietly, connectService } from './connection.ts';
import { findUserDns } from './ldap-first-factor.ts';
import type { AttributeMap } from './presets.ts';
import { MAX_GROUP_DEPTH } from './search.ts';
import type { DirectorySource } from './source.ts';

const dnKey = (dn: string): string => dn.replace(/\s*,\s*/g, ',').toLowerCase();

/** Throws DirectoryUnavailableError when no URL answers; false for an unknown or ambiguous user. */
export async function isGroupMember(source: DirectorySource, map: AttributeMap, username: string, groupDn: string): Promise<boolean> {
  if (username === '' || username.length > 256) return false;
  const { client } = await connectService(source);
  try {
    const dns = await findUserDns(client, source, username);
    if (dns.length !== 1) return false;
    const userDn = dns[0] as string;
    const onUser = async (filter: Filter): Promise<boolean> =>
      (await client.search(userDn, { scope: 'base', derefAliases: 'never', filter, attributes: ['1.1'] })).searchEntries.length === 1;
    if (map.groupMembership === 'inChain') {
      return onUser(new ExtensibleFilter({ matchType: 'memberOf', rule: '1.2.840.113556.1.4.1941', value: groupDn }));
    }
    if (map.groupMembership === 'memberOf') return onUser(new EqualityFilter({ attribute: 'memberOf', value: groupDn }));
    const wanted = dnKey(groupDn);
    const seen = new Set<string>();
    let level = [userDn];
    for (let depth = 0; depth < MAX_GROUP_DEPTH && level.length > 0; depth++) {
      const next: string[] = [];
      for (const dn of level) {
        const groups = await client.search(source.baseDn, {
          scope: 'sub',
          derefAliases: 'never',
          filter: new EqualityFilter({ attribute: 'member', value: dn }),
          attributes: ['1.1'],
        });
        for (const g of groups.searchEntries) {
          const key = dnKey(g.dn);
          if (key === wanted) return true;
          if (!seen.has(key)) {
            seen.add(key);
            next.push(g.dn);
          }
        }
      }
      level = next;
    }
    return false;
  } finally {
    await closeQuietly(client);
  }
}
