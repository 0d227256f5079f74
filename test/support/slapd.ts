/**
 * A throw-away OpenLDAP server (Debian slapd) for directory tests: its own temp dir, slapd.conf,
 * mdb database seeded with slapadd and a self-signed certificate, listening for ldap:// (StartTLS)
 * and ldaps:// on free loopback high ports. Never touches the system slapd, /etc/ldap/slapd.d or
 * port 389. Call stop() to kill it and remove the directory.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { canConnect, waitUntil } from './ports.ts';

export const SLAPD = '/usr/sbin/slapd';
export const SLAPADD = '/usr/sbin/slapadd';

export interface TestUser {
  uid: string;
  cn: string;
  mail: string;
  password: string;
  /** Kept out of the user OU (a second entry with the same uid, for the ambiguity test). */
  ou?: string;
  /** Locked by the password policy (pwdAccountLockedTime): a disabled account. */
  disabled?: boolean;
}

export interface Slapd {
  /** ldap:// URL (plain; StartTLS offered). */
  url: string;
  /** ldaps:// URL. */
  ldapsUrl: string;
  /** Service account allowed to search the directory. */
  bindDn: string;
  bindPassword: string;
  baseDn: string;
  /** The self-signed server certificate (its own CA). */
  caPem: string;
  users: TestUser[];
  /** The temp dir holding config, database and keys (removed by stop()). */
  dir: string;
  /** The directory's administrator (rootdn): may write anything, for tests that change the directory. */
  rootDn: string;
  rootPassword: string;
  stop(): Promise<void>;
}

export const BASE_DN = 'dc=example,dc=test';

/** An Active Directory-shaped account, seeded under ou=ad with `startSlapd({ad: true})`. */
export interface AdTestUser {
  sAMAccountName: string;
  /** userPrincipalName only (no sAMAccountName) when `upnOnly`. */
  upnOnly?: boolean;
  displayName: string;
  mail: string;
  /** 16 bytes, as AD stores it. */
  objectGUID: Buffer;
  /** 512 normal, 514 disabled (0x2). */
  userAccountControl: number;
  mobile?: string;
  telephoneNumber?: string;
  preferredLanguage?: string;
  /** Direct groups (memberOf written as AD shows it; OpenLDAP does not compute it here). */
  groups: string[];
}

export const AD_OU = `ou=ad,${BASE_DN}`;
export const GROUPS_OU = `ou=groups,${BASE_DN}`;
export const groupDn = (cn: string): string => `cn=${cn},${GROUPS_OU}`;

/** Groups: vpn contains engineering (nested) and frank; engineering contains erin. */
export const AD_USERS: AdTestUser[] = [
  { sAMAccountName: 'erin', displayName: 'Erin Evans', mail: 'erin@example.test', objectGUID: Buffer.from('00112233445566778899aabbccddeeff', 'hex'), userAccountControl: 512, mobile: '+1 415 555 0101', preferredLanguage: 'de', groups: ['engineering'] },
  { sAMAccountName: 'frank', displayName: 'Frank Fox', mail: 'frank@example.test', objectGUID: Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex'), userAccountControl: 514, telephoneNumber: 'not a phone', groups: ['vpn'] },
  { sAMAccountName: 'grace', upnOnly: true, displayName: 'Grace Green', mail: 'grace@example.test', objectGUID: Buffer.from('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf', 'hex'), userAccountControl: 66048, groups: [] },
];

/** OpenLDAP groupOfNames: staff = alice + nested admins (carol). */
export const GROUPS: { cn: string; members: string[] }[] = [
  { cn: 'engineering', members: [`cn=erin,${AD_OU}`] },
  { cn: 'vpn', members: [groupDn('engineering'), `cn=frank,${AD_OU}`] },
  { cn: 'admins', members: [`uid=carol,ou=people,${BASE_DN}`] },
  { cn: 'staff', members: [`uid=alice,ou=people,${BASE_DN}`, groupDn('admins'), groupDn('staff')] },
];

/** AD attribute names with Active Directory's own OIDs, and an auxiliary class carrying them. */
export const AD_SCHEMA = `
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.2 NAME 'objectGUID' EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.302 NAME 'sAMAccountType' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.102 NAME 'memberOf' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
objectclass ( 1.3.6.1.4.1.4203.666.11.77.1 NAME 'countersignAdUser' AUXILIARY
  MAY ( sAMAccountName $ userPrincipalName $ objectGUID $ userAccountControl $ sAMAccountType $ memberOf ) )
`;

function adSeed(): string[] {
  const entries = [`dn: ${AD_OU}\nobjectClass: organizationalUnit\nou: ad`, `dn: ${GROUPS_OU}\nobjectClass: organizationalUnit\nou: groups`];
  for (const u of AD_USERS) {
    const [given, sn] = u.displayName.split(' ');
    entries.push(
      [
        `dn: cn=${u.sAMAccountName},${AD_OU}`,
        'objectClass: inetOrgPerson',
        'objectClass: countersignAdUser',
        `cn: ${u.sAMAccountName}`,
        `givenName: ${given ?? u.displayName}`,
        `sn: ${sn ?? u.displayName}`,
        `displayName: ${u.displayName}`,
        `mail: ${u.mail}`,
        ...(u.upnOnly ? [] : [`sAMAccountName: ${u.sAMAccountName}`]),
        `userPrincipalName: ${u.sAMAccountName}@example.test`,
        `objectGUID:: ${u.objectGUID.toString('base64')}`,
        `userAccountControl: ${u.userAccountControl}`,
        'sAMAccountType: 805306368',
        ...(u.mobile ? [`mobile: ${u.mobile}`] : []),
        ...(u.telephoneNumber ? [`telephoneNumber: ${u.telephoneNumber}`] : []),
        ...(u.preferredLanguage ? [`preferredLanguage: ${u.preferredLanguage}`] : []),
        ...u.groups.map((g) => `memberOf: ${groupDn(g)}`),
      ].join('\n'),
    );
  }
  for (const g of GROUPS) entries.push([`dn: ${groupDn(g.cn)}`, 'objectClass: groupOfNames', `cn: ${g.cn}`, ...g.members.map((m) => `member: ${m}`)].join('\n'));
  return entries;
}

/** The seeded users. `dup` exists twice (two OUs) so a lookup by uid is ambiguous. */
export const TEST_USERS: TestUser[] = [
  { uid: 'alice', cn: 'Alice Anders', mail: 'alice@example.test', password: 'alice-pass-1' },
  { uid: 'bob', cn: 'Bob Brown', mail: 'bob@example.test', password: 'b0b*(pass)\\' },
  { uid: 'carol', cn: 'Carol Chen', mail: 'carol@example.test', password: 'carol-pass-3' },
  { uid: 'dup', cn: 'Dup One', mail: 'dup1@example.test', password: 'dup-pass' },
  { uid: 'dup', cn: 'Dup Two', mail: 'dup2@example.test', password: 'dup-pass', ou: 'contractors' },
  { uid: 'dave', cn: 'Dave Disabled', mail: 'dave@example.test', password: 'dave-pass-4', disabled: true },
];

/** True when slapd can run here; under CI a missing binary fails the caller's suite instead. */
export function slapdAvailable(): boolean {
  const ok = existsSync(SLAPD) && existsSync(SLAPADD);
  if (!ok && process.env.CI) throw new Error(`slapd is required under CI: ${SLAPD} not found (apt-get install slapd ldap-utils)`);
  if (!ok) console.warn(`\n*** SKIPPING directory tests: ${SLAPD} not found (apt-get install slapd ldap-utils) ***\n`);
  return ok;
}

function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password, 'utf8').update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

function b64(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port >= 1024 ? resolve(port) : reject(new Error('no high port'))));
    });
  });
}


function seedLdif(bindPassword: string, ad: boolean): string {
  const entries = [
    `dn: ${BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example Test`,
    `dn: ou=people,${BASE_DN}\nobjectClass: organizationalUnit\nou: people`,
    `dn: ou=contractors,${BASE_DN}\nobjectClass: organizationalUnit\nou: contractors`,
    `dn: ou=services,${BASE_DN}\nobjectClass: organizationalUnit\nou: services`,
    `dn: ou=policies,${BASE_DN}\nobjectClass: organizationalUnit\nou: policies`,
    `dn: cn=default,ou=policies,${BASE_DN}\nobjectClass: applicationProcess\nobjectClass: pwdPolicy\ncn: default\npwdAttribute: userPassword\npwdLockout: TRUE`,
    `dn: cn=countersign,ou=services,${BASE_DN}\nobjectClass: person\ncn: countersign\nsn: service\nuserPassword:: ${b64(ssha(bindPassword))}`,
  ];
  for (const u of TEST_USERS) {
    const [given, sn] = u.cn.split(' ');
    entries.push(
      [
        `dn: uid=${u.uid},ou=${u.ou ?? 'people'},${BASE_DN}`,
        'objectClass: inetOrgPerson',
        `uid: ${u.uid}`,
        `cn: ${u.cn}`,
        `givenName: ${given ?? u.cn}`,
        `sn: ${sn ?? u.cn}`,
        `mail: ${u.mail}`,
        `userPassword:: ${b64(ssha(u.password))}`,
        // 000001010000Z: locked until an administrator unlocks it.
        ...(u.disabled ? ['pwdAccountLockedTime: 000001010000Z'] : []),
      ].join('\n'),
    );
  }
  if (ad) entries.push(...adSeed());
  return entries.join('\n\n') + '\n';
}

function slapdConf(dir: string, rootPassword: string, ad: boolean, maxsize: number, indexes: readonly string[]): string {
  return [
    'include /etc/ldap/schema/core.schema',
    'include /etc/ldap/schema/cosine.schema',
    'include /etc/ldap/schema/inetorgperson.schema',
    'include /etc/ldap/schema/nis.schema',
    ...(ad ? [`include ${join(dir, 'ad.schema')}`] : []),
    `pidfile ${join(dir, 'slapd.pid')}`,
    `argsfile ${join(dir, 'slapd.args')}`,
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    'moduleload ppolicy',
    `TLSCACertificateFile ${join(dir, 'ca.pem')}`,
    `TLSCertificateFile ${join(dir, 'cert.pem')}`,
    `TLSCertificateKeyFile ${join(dir, 'key.pem')}`,
    'loglevel none',
    'database mdb',
    `maxsize ${maxsize}`,
    // Large loads (benchmarks): skip fsync, as a test directory never needs to survive a crash.
    'dbnosync',
    `suffix "${BASE_DN}"`,
    `rootdn "cn=admin,${BASE_DN}"`,
    `rootpw ${rootPassword}`,
    // As a production directory must: let the service account page through every user (the
    // default total of a paged search is the 500-entry size limit).
    `limits dn.exact="cn=countersign,ou=services,${BASE_DN}" size.soft=unlimited size.hard=unlimited size.prtotal=unlimited`,
    `directory ${join(dir, 'db')}`,
    'index objectClass eq',
    'index uid eq',
    ...(ad ? ['index sAMAccountName eq', 'index memberOf eq'] : []),
    ...indexes.map((i) => `index ${i}`),
    'overlay ppolicy',
    `ppolicy_default "cn=default,ou=policies,${BASE_DN}"`,
    // Passwords: usable for bind only; everything else readable by any bound identity.
    'access to attrs=userPassword by anonymous auth by * none',
    'access to * by users read by * none',
    '',
  ].join('\n');
}

export interface SlapdOptions {
  /** Load an Active Directory-shaped schema and seed ou=ad users (AD_USERS) and ou=groups (GROUPS). */
  ad?: boolean;
  /** An LDIF file loaded with slapadd after the seed (e.g. many generated users for a benchmark). */
  extraLdif?: string;
  /** mdb map size in bytes (default 10 MiB; 200,000 users need about 1 GiB). */
  maxsize?: number;
  /** Extra `index` lines, e.g. `entryCSN eq` or `modifyTimestamp eq`. */
  indexes?: readonly string[];
}

export async function startSlapd(options: SlapdOptions = {}): Promise<Slapd> {
  const ad = options.ad === true;
  const dir = mkdtempSync(join(tmpdir(), 'countersign-slapd-'));
  let child: ChildProcess | undefined;
  const cleanup = (): void => {
    if (child && child.exitCode === null && child.pid) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    mkdirSync(join(dir, 'db'));
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
      ],
    } as never);
    writeFileSync(join(dir, 'ca.pem'), pems.cert);
    writeFileSync(join(dir, 'cert.pem'), pems.cert);
    writeFileSync(join(dir, 'key.pem'), pems.private, { mode: 0o600 });
    const rootPassword = randomBytes(12).toString('hex');
    const bindPassword = randomBytes(12).toString('hex');
    const conf = join(dir, 'slapd.conf');
    if (ad) writeFileSync(join(dir, 'ad.schema'), AD_SCHEMA);
    writeFileSync(conf, slapdConf(dir, rootPassword, ad, options.maxsize ?? 10_485_760, options.indexes ?? []));
    writeFileSync(join(dir, 'seed.ldif'), seedLdif(bindPassword, ad));
    execFileSync(SLAPADD, ['-f', conf, '-l', join(dir, 'seed.ldif')], { stdio: 'pipe' });
    // -q: quick mode (no consistency checks), for large generated files.
    if (options.extraLdif) execFileSync(SLAPADD, ['-q', '-f', conf, '-l', options.extraLdif], { stdio: 'pipe' });

    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const tlsPort = await freePort();
      const urls = `ldap://127.0.0.1:${port}/ ldaps://127.0.0.1:${tlsPort}/`;
      let stderr = '';
      // -d 0: stay in the foreground so the child is ours to kill; never daemonizes.
      child = spawn(SLAPD, ['-f', conf, '-h', urls, '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const up = await waitUntil(async () => child?.exitCode === null && (await canConnect(port)) && (await canConnect(tlsPort)), 10_000, () => child?.exitCode !== null, 50);
      if (up) {
        const running = child;
        return {
          url: `ldap://127.0.0.1:${port}`,
          ldapsUrl: `ldaps://127.0.0.1:${tlsPort}`,
          bindDn: `cn=countersign,ou=services,${BASE_DN}`,
          bindPassword,
          baseDn: BASE_DN,
          caPem: pems.cert,
          users: TEST_USERS,
          dir,
          rootDn: `cn=admin,${BASE_DN}`,
          rootPassword,
          stop: async () => {
            if (running.exitCode === null) {
              const exited = new Promise<void>((r) => running.once('exit', () => r()));
              running.kill('SIGTERM');
              const timer = setTimeout(() => running.kill('SIGKILL'), 3000);
              await exited;
              clearTimeout(timer);
            }
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
      if (child.exitCode === null) child.kill('SIGKILL');
      if (attempt >= 2) throw new Error(`slapd did not start: ${stderr.slice(-2000)}`);
    }
  } catch (err) {
    cleanup();
    throw err;
  }
}

