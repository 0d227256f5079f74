/**
 * A throw-away OpenLDAP server (Debian slapd) for directory tests: its own temp dir, slapd.conf,
 * mdb database seeded with slapadd and a self-signed certificate, listening for ldap:// (StartTLS)
 * and ldaps:// on free loopback high ports. Never touches the system slapd, /etc/ldap/slapd.d or
 * port 389. Call stop() to kill it and remove the directory.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

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
  stop(): Promise<void>;
}

export const BASE_DN = 'dc=example,dc=test';

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

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function seedLdif(bindPassword: string): string {
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
  return entries.join('\n\n') + '\n';
}

function slapdConf(dir: string, rootPassword: string): string {
  return [
    'include /etc/ldap/schema/core.schema',
    'include /etc/ldap/schema/cosine.schema',
    'include /etc/ldap/schema/inetorgperson.schema',
    'include /etc/ldap/schema/nis.schema',
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
    'maxsize 10485760',
    `suffix "${BASE_DN}"`,
    `rootdn "cn=admin,${BASE_DN}"`,
    `rootpw ${rootPassword}`,
    `directory ${join(dir, 'db')}`,
    'index objectClass eq',
    'index uid eq',
    'overlay ppolicy',
    `ppolicy_default "cn=default,ou=policies,${BASE_DN}"`,
    // Passwords: usable for bind only; everything else readable by any bound identity.
    'access to attrs=userPassword by anonymous auth by * none',
    'access to * by users read by * none',
    '',
  ].join('\n');
}

export async function startSlapd(): Promise<Slapd> {
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
    writeFileSync(conf, slapdConf(dir, rootPassword));
    writeFileSync(join(dir, 'seed.ldif'), seedLdif(bindPassword));
    execFileSync(SLAPADD, ['-f', conf, '-l', join(dir, 'seed.ldif')], { stdio: 'pipe' });

    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const tlsPort = await freePort();
      const urls = `ldap://127.0.0.1:${port}/ ldaps://127.0.0.1:${tlsPort}/`;
      let stderr = '';
      // -d 0: stay in the foreground so the child is ours to kill; never daemonizes.
      child = spawn(SLAPD, ['-f', conf, '-h', urls, '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const up = await waitUntil(async () => child?.exitCode === null && (await canConnect(port)) && (await canConnect(tlsPort)), 10_000, () => child?.exitCode !== null);
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

async function waitUntil(ready: () => Promise<boolean>, ms: number, gaveUp: () => boolean): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await ready()) return true;
    if (gaveUp()) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
