/**
 * A throw-away HAProxy (the Debian package's /usr/sbin/haproxy) for forward-auth tests: `haproxy -f
 * cfg -db` in the foreground with its configuration, pid file and stats socket in its own temp
 * directory, on a free loopback high port. No chroot, no user switch, no daemon, no master process;
 * never touches /etc/haproxy, /run/haproxy or port 80. Call stop() to end it and remove the
 * directory.
 *
 * The caller writes the configuration (its own `global` lines, `defaults`, frontends and backends,
 * binding `127.0.0.1:{{port}}`); the harness puts a `global` section in front that keeps HAProxy's
 * files in the temp dir (HAProxy merges several `global` sections).
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderConfig, startConfiguredPeer, type PeerConfig, type PeerContext, type PeerProcess } from './peer-process.ts';

export const HAPROXY = '/usr/sbin/haproxy';

/** What a configuration function is given: a free loopback port for the frontend and the temp directory. */
export type HaproxyContext = PeerContext;

/**
 * The configuration after the harness's `global` section. A string may say `{{port}}` and
 * `{{dir}}` where the port and directory go; a function is given them.
 */
export type HaproxyConfig = PeerConfig;

/** A running HAProxy: port, url, temp dir, its configuration and output, stop(). */
export type Haproxy = PeerProcess;

/** True when HAProxy can run here; under CI a missing binary fails the caller's suite instead. */
export function haproxyAvailable(): boolean {
  const ok = existsSync(HAPROXY);
  if (!ok && process.env.CI) throw new Error(`haproxy is required under CI: ${HAPROXY} not found (apt-get install haproxy)`);
  if (!ok) console.warn(`\n*** SKIPPING haproxy tests: ${HAPROXY} not found (apt-get install haproxy) ***\n`);
  return ok;
}

/** The whole configuration: a global section that keeps HAProxy's files in the temp dir, then the caller's. */
function haproxyCfg(dir: string, body: string): string {
  return `# Generated for one test run.
global
    pidfile ${join(dir, 'haproxy.pid')}
    stats socket ${join(dir, 'admin.sock')} mode 600 level admin

${body}
`;
}



export async function startHaproxy(config: HaproxyConfig): Promise<Haproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-haproxy-'));
  const path = join(dir, 'haproxy.cfg');
  // SIGTERM on stop: HAProxy's hard stop, connections closed at once.
  return startConfiguredPeer({
    name: 'haproxy',
    dir,
    configPath: path,
    configName: 'haproxy.cfg',
    command: HAPROXY,
    args: ['-f', path, '-db'],
    configure: (ctx) => haproxyCfg(dir, renderConfig(config, ctx)),
    portTaken: /cannot bind socket|address already in use/i,
  });
}
