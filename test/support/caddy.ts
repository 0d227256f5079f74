/**
 * A throw-away Caddy (the Debian package's /usr/bin/caddy) for forward-auth tests: `caddy run` in
 * the foreground with a Caddyfile in its own temp directory, on a free loopback high port, bound to
 * 127.0.0.1 only. No admin endpoint (`admin off`), no automatic HTTPS, no certificates, no
 * autosaved configuration; HOME and the XDG directories point into the temp dir, so Caddy writes
 * nothing outside it. Never touches /etc/caddy, /var/lib/caddy or port 80. Call stop() to end it
 * and remove the directory.
 *
 * The caller writes the site blocks; the harness puts the global options in front (see
 * caddyfile below). Site addresses are plain HTTP: `http://127.0.0.1:{{port}} { ... }`.
 */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderConfig, startConfiguredPeer, type PeerConfig, type PeerContext } from './peer-process.ts';

export const CADDY = '/usr/bin/caddy';

/** What a configuration function is given: a free loopback port and the temp directory. */
export type CaddyContext = PeerContext;

/**
 * The site blocks of the Caddyfile. A string may say `{{port}}` and `{{dir}}` where the port and
 * directory go; a function is given them.
 */
export type CaddyConfig = PeerConfig;

export interface Caddy {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** The temp directory (removed by stop()). */
  dir: string;
  /** The Caddyfile as written (for a failing test's message). */
  caddyfile(): string;
  /** What Caddy has written to stdout and stderr so far (its log). */
  output(): string;
  stop(): Promise<void>;
}

/** True when Caddy can run here; under CI a missing binary fails the caller's suite instead. */
export function caddyAvailable(): boolean {
  const ok = existsSync(CADDY);
  if (!ok && process.env.CI) throw new Error(`caddy is required under CI: ${CADDY} not found (apt-get install caddy)`);
  if (!ok) console.warn(`\n*** SKIPPING caddy tests: ${CADDY} not found (apt-get install caddy) ***\n`);
  return ok;
}

/** The whole Caddyfile: global options that keep Caddy inside the temp dir and on loopback, then the sites. */
function caddyfile(dir: string, sites: string): string {
  return `# Generated for one test run.
{
\tadmin off
\tauto_https off
\tskip_install_trust
\tstorage file_system ${join(dir, 'data')}
\tdefault_bind 127.0.0.1
\tgrace_period 1s
\tlog {
\t\toutput stderr
\t\tlevel INFO
\t}
}

${sites}
`;
}



export async function startCaddy(config: CaddyConfig): Promise<Caddy> {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-caddy-'));
  const path = join(dir, 'Caddyfile');
  // Caddy keeps its data (certificates, locks) under XDG_DATA_HOME and its autosaved configuration
  // under XDG_CONFIG_HOME, both defaulting to HOME: all of them are the temp dir.
  for (const d of ['home', 'data', 'config']) mkdirSync(join(dir, d));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: join(dir, 'home'), XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') };
  // SIGTERM on stop: Caddy stops its servers (grace_period 1s) and exits.
  const peer = await startConfiguredPeer({
    name: 'caddy',
    dir,
    configPath: path,
    configName: 'Caddyfile',
    command: CADDY,
    args: ['run', '--config', path, '--adapter', 'caddyfile'],
    env,
    configure: (ctx) => caddyfile(dir, renderConfig(config, ctx)),
    portTaken: /address already in use/i,
  });
  return { ...peer, caddyfile: peer.config };
}
