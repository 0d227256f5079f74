/**
 * A throw-away FreeRADIUS 3.2 server (Debian freeradius) for RADIUS tests and benchmarks: a minimal
 * configuration generated in its own temp dir (never /etc/freeradius), listening on free loopback
 * high UDP ports (authentication and accounting, 127.0.0.1 and ::1), one client entry per loopback
 * address with the given secret, and a users file (rlm_files) with cleartext passwords and reply
 * attributes. PAP, CHAP, MS-CHAPv1 and MS-CHAPv2 work for those users; a user with a TOTP secret
 * signs in with the password followed by the 6-digit code (rlm_totp). Runs in the foreground as
 * whoever starts it (root included: no user/group switch is configured). Never touches the
 * system instance or ports 1812/1813. Call stop() to kill it and remove the directory.
 *
 * FreeRADIUS 3.2.1 (Debian bookworm) predates the Blast-RADIUS fixes: it never adds
 * Message-Authenticator to a reply by itself and has no limit_proxy_state. Here every reply gets
 * one, placed first, unless `replyMessageAuthenticator: false`; requiring it on requests is the
 * per-client `require_message_authenticator` (`requireMessageAuthenticator`), which silently
 * drops a request without one. Its MS-CHAP converts passwords to UCS-2: a password with a
 * character outside the BMP (an emoji) never matches over MS-CHAP, though PAP and CHAP work.
 * A duplicate that arrives while the first copy is still being processed is ignored; one that
 * arrives later gets the cached reply (cleanup_delay 5 s).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from './ports.ts';
import { quoteRadiusString, radclient, RADCLIENT } from './radclient.ts';

export const FREERADIUS = '/usr/sbin/freeradius';

export interface RadiusTestUser {
  name: string;
  password: string;
  /** Reply attributes on Access-Accept, in order, e.g. [['Class', 'vpn-users'], ['Filter-Id', 'staff']]. */
  reply?: readonly (readonly [string, string])[];
  /** Base32 TOTP secret: the user then signs in (PAP) with the password followed by the current 6-digit code. */
  totpSecret?: string;
}

/** The default users. bob's password has quotes, a backslash and spaces; erin's is not ASCII. */
export const RADIUS_USERS: readonly RadiusTestUser[] = [
  {
    name: 'alice',
    password: 'alice-pass-1',
    reply: [
      ['Class', 'vpn-users'],
      ['Filter-Id', 'staff'],
      ['Reply-Message', 'Welcome, alice'],
    ],
  },
  {
    name: 'bob',
    password: `b0b "quoted" \\ 'pass'`,
    reply: [
      ['Class', 'admins'],
      ['Class', 'vpn-users'],
      ['Session-Timeout', '3600'],
    ],
  },
  { name: 'carol', password: 'carol-pass-3' },
  { name: 'erin', password: 'érin-pässwörd-日本' },
];

export interface FreeRadiusOptions {
  /** Shared secret for 127.0.0.1 and ::1 (default: 32 random hex characters). No backslash. */
  secret?: string;
  users?: readonly RadiusTestUser[];
  /** Drop Access-Requests without Message-Authenticator (client require_message_authenticator); default false, as FreeRADIUS's own default. */
  requireMessageAuthenticator?: boolean;
  /** Put Message-Authenticator first in every Access-Accept/Reject/Challenge (default true). */
  replyMessageAuthenticator?: boolean;
  /** Reply-Message sent with every Access-Reject. */
  rejectMessage?: string;
  /** Also listen on ::1 (default: when ::1 can be bound here). */
  ipv6?: boolean;
  /** Worker threads (default 4). */
  threads?: number;
  /** Log every request in detail (-xx); slower, for debugging a failing test. */
  debug?: boolean;
}

export interface FreeRadius {
  /** 127.0.0.1 */
  host: string;
  /** ::1 when listening there too. */
  host6: string | undefined;
  authPort: number;
  acctPort: number;
  secret: string;
  users: readonly RadiusTestUser[];
  /** The temp dir holding the configuration (removed by stop()). */
  dir: string;
  /** What FreeRADIUS has logged so far (the last few MB). */
  log(): string;
  stop(): Promise<void>;
}

/** True when FreeRADIUS and radclient can run here; under CI a missing binary fails the caller's suite instead. */
export function freeradiusAvailable(): boolean {
  const missing = [FREERADIUS, RADCLIENT].filter((f) => !existsSync(f));
  const ok = missing.length === 0;
  if (!ok && process.env.CI) throw new Error(`FreeRADIUS is required under CI: ${missing.join(', ')} not found (apt-get install freeradius freeradius-utils)`);
  if (!ok) console.warn(`\n*** SKIPPING FreeRADIUS tests: ${missing.join(', ')} not found (apt-get install freeradius freeradius-utils) ***\n`);
  return ok;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]*$/;
const ATTRIBUTE = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** A users file entry (check items on the first line, reply items indented below). */
function usersEntry(u: RadiusTestUser): string {
  if (!NAME.test(u.name) || u.name === 'DEFAULT') throw new Error(`FreeRADIUS users file: unsupported user name ${JSON.stringify(u.name)}`);
  const check = [`Cleartext-Password := ${quoteRadiusString(u.password, "'")}`];
  if (u.totpSecret !== undefined) {
    if (!/^[A-Z2-7]+=*$/i.test(u.totpSecret)) throw new Error(`TOTP secret of ${u.name} is not base32`);
    check.push(`TOTP-Secret := '${u.totpSecret.toUpperCase()}'`);
  }
  const reply = (u.reply ?? []).map(([name, value]) => {
    if (!ATTRIBUTE.test(name)) throw new Error(`FreeRADIUS users file: invalid attribute name ${JSON.stringify(name)}`);
    // Single quotes: taken literally (double-quoted values would be expanded, %{...}).
    return `\t${name} += ${quoteRadiusString(value, "'")}`;
  });
  return [`${u.name} ${check.join(', ')}`, reply.join(',\n')].filter(Boolean).join('\n');
}

/** A string in a FreeRADIUS configuration file: single-quoted, where only \' is an escape. */
function confString(value: string, what: string): string {
  if (/[\\\x00-\x1f\x7f]/.test(value)) throw new Error(`FreeRADIUS configuration: ${what} must not contain a backslash or control character`);
  return `'${value.replace(/'/g, "\\'")}'`;
}

interface Layout {
  dir: string;
  authPort: number;
  acctPort: number;
  ipv6: boolean;
  secret: string;
  requireMessageAuthenticator: boolean;
  replyMessageAuthenticator: boolean;
  rejectMessage: string | undefined;
  replyNames: string[];
  threads: number;
}

function radiusdConf(l: Layout): string {
  const listen = (type: string, address: string, port: number): string =>
    [`  listen {`, `    type = ${type}`, `    ${address.includes(':') ? 'ipv6addr' : 'ipaddr'} = ${address}`, `    port = ${port}`, `  }`].join('\n');
  const client = (name: string, address: string): string =>
    [
      `client ${name} {`,
      `  ${address.includes(':') ? 'ipv6addr' : 'ipaddr'} = ${address}`,
      `  secret = ${confString(l.secret, 'the secret')}`,
      `  require_message_authenticator = ${l.requireMessageAuthenticator ? 'yes' : 'no'}`,
      `  nas_type = other`,
      `}`,
    ].join('\n');
  const addresses = ['127.0.0.1', ...(l.ipv6 ? ['::1'] : [])];
  const rejectCleanup = [
    ...l.replyNames.map((n) => `        &${n} !* ANY`),
    ...(l.rejectMessage !== undefined ? [`        &Reply-Message := ${confString(l.rejectMessage, 'the reject message')}`] : []),
  ];
  return `# Generated for one test run.
prefix = /usr
exec_prefix = /usr
libdir = /usr/lib/freeradius
confdir = ${l.dir}
raddbdir = ${l.dir}
logdir = ${l.dir}
run_dir = ${l.dir}
db_dir = ${l.dir}
name = radiusd
pidfile = ${join(l.dir, 'radiusd.pid')}
max_request_time = 30
cleanup_delay = 5
max_requests = 65536
hostname_lookups = no

log {
  destination = stdout
  colourise = no
  auth = no
}

security {
  allow_core_dumps = no
  max_attributes = 200
  # Answer a wrong password at once (the default waits a second).
  reject_delay = 0
  status_server = yes
}

proxy_requests = no

${addresses.map((a, i) => client(`loopback${i}`, a)).join('\n')}

thread pool {
  start_servers = ${l.threads}
  max_servers = ${l.threads}
  min_spare_servers = 1
  max_spare_servers = ${l.threads}
  max_requests_per_server = 0
  auto_limit_acct = no
}

modules {
  pap {
  }
  chap {
  }
  mschap {
  }
  # EAP-MD5 only: no certificates needed (for EAP pass-through tests).
  eap {
    default_eap_type = md5
    timer_expire = 60
    ignore_unknown_eap_types = no
    max_sessions = 4096
    md5 {
    }
  }
  totp {
  }
  always ok {
    rcode = ok
  }
  always reject {
    rcode = reject
  }
  files {
    filename = ${join(l.dir, 'users')}
    acctusersfile = ${join(l.dir, 'acct_users')}
  }
}

server default {
${addresses.flatMap((a) => [listen('auth', a, l.authPort), listen('acct', a, l.acctPort)]).join('\n')}

  authorize {
${l.replyMessageAuthenticator ? '    # First in the reply list, so first in the packet.\n    update reply {\n      &Message-Authenticator := 0x00\n    }\n' : ''}    chap
    mschap
    eap {
      ok = return
    }
    files
    if (&control:TOTP-Secret && &User-Password) {
      if (&User-Password =~ /^(.*)([0-9]{6})$/) {
        update request {
          &TOTP-Password := "%{2}"
          &User-Password := "%{1}"
        }
      }
      else {
        reject
      }
    }
    pap
  }

  authenticate {
    Auth-Type PAP {
      pap
      if (&control:TOTP-Secret) {
        totp
      }
    }
    Auth-Type CHAP {
      chap
    }
    Auth-Type MS-CHAP {
      mschap
    }
    eap
  }

  preacct {
    ok
  }

  accounting {
    ok
  }

  post-auth {
    ok
    Post-Auth-Type REJECT {
${rejectCleanup.length ? `      update reply {\n${rejectCleanup.join('\n')}\n      }\n` : ''}      ok
    }
  }
}
`;
}

/** Free UDP ports on 127.0.0.1 (and ::1), held together so they differ; a race remains, hence the retry. */
async function freeUdpPorts(n: number, ipv6: boolean): Promise<number[]> {
  const held: Socket[] = [];
  const bind = (type: 'udp4' | 'udp6', address: string, port: number): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = createSocket({ type, ipv6Only: type === 'udp6' });
      s.once('error', (e) => {
        s.close();
        reject(e);
      });
      s.bind(port, address, () => resolve(s));
    });
  try {
    const ports: number[] = [];
    while (ports.length < n) {
      const s = await bind('udp4', '127.0.0.1', 0);
      held.push(s);
      const port = s.address().port;
      if (port < 1024) continue;
      if (ipv6) {
        try {
          held.push(await bind('udp6', '::1', port));
        } catch {
          continue;
        }
      }
      ports.push(port);
    }
    return ports;
  } finally {
    for (const s of held) s.close();
  }
}

async function ipv6Loopback(): Promise<boolean> {
  try {
    await freeUdpPorts(1, true);
    return true;
  } catch {
    return false;
  }
}

// A test run that dies must not leave servers behind.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export async function startFreeRadius(options: FreeRadiusOptions = {}): Promise<FreeRadius> {
  const secret = options.secret ?? randomBytes(16).toString('hex');
  const users = options.users ?? RADIUS_USERS;
  const ipv6 = options.ipv6 ?? (await ipv6Loopback());
  const dir = mkdtempSync(join(tmpdir(), 'countersign-freeradius-'));
  let child: ChildProcess | undefined;
  try {
    writeFileSync(join(dir, 'users'), users.map(usersEntry).join('\n\n') + '\n');
    writeFileSync(join(dir, 'acct_users'), '');
    const replyNames = [...new Set(users.flatMap((u) => (u.reply ?? []).map(([n]) => n)))];

    for (let attempt = 0; ; attempt++) {
      const [authPort, acctPort] = (await freeUdpPorts(2, ipv6)) as [number, number];
      writeFileSync(
        join(dir, 'radiusd.conf'),
        radiusdConf({
          dir,
          authPort,
          acctPort,
          ipv6,
          secret,
          requireMessageAuthenticator: options.requireMessageAuthenticator ?? false,
          replyMessageAuthenticator: options.replyMessageAuthenticator ?? true,
          rejectMessage: options.rejectMessage,
          replyNames,
          threads: options.threads ?? 4,
        }),
      );
      let log = '';
      const append = (d: Buffer): void => {
        log += d.toString('utf8');
        if (log.length > 4_000_000) log = log.slice(-2_000_000);
      };
      // -f: stay in the foreground so the child is ours to kill; -l stdout: log to our pipe.
      const args = ['-f', '-l', 'stdout', '-d', dir, '-n', 'radiusd', ...(options.debug ? ['-xx'] : [])];
      const proc = spawn(FREERADIUS, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      running.add(proc);
      proc.once('exit', () => running.delete(proc));
      proc.stdout?.on('data', append);
      proc.stderr?.on('data', append);
      const exitedEarly = (): boolean => proc.exitCode !== null || proc.signalCode !== null;

      const ready = await waitUntil(
        async () => {
          if (!log.includes('Ready to process requests')) return false;
          const status = await radclient({ port: authPort, secret, type: 'status', timeout: 0.5, retries: 1 });
          return status.code === 'Access-Accept';
        },
        15_000,
        exitedEarly,
        50,
      );
      if (ready) {
        return {
          host: '127.0.0.1',
          host6: ipv6 ? '::1' : undefined,
          authPort,
          acctPort,
          secret,
          users,
          dir,
          log: () => log,
          stop: async () => {
            if (!exitedEarly()) {
              const exited = new Promise<void>((r) => proc.once('exit', () => r()));
              proc.kill('SIGTERM');
              const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
              await exited;
              clearTimeout(timer);
            }
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
      if (!exitedEarly()) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill('SIGKILL');
        await exited;
      }
      // Another process took a port between our check and FreeRADIUS binding it: try new ports.
      if (!/Address already in use/.test(log) || attempt >= 2) throw new Error(`FreeRADIUS did not start:\n${log.slice(-3000)}`);
    }
  } catch (err) {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

