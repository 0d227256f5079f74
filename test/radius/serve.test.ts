/**
 * `countersign serve` with RADIUS on: the configuration from countersign.yaml (a secret file, a
 * reply attribute), a user made with the CLI, and radclient through a whole challenge round.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { MAIN, cleanEnv, installation, json, ok, oathtool, removeDir, run } from '../cli/run.ts';
import { freeradiusAvailable } from '../support/freeradius.ts';
import { httpsFetch } from '../support/device.ts';
import { attribute, radclient } from '../support/radclient.ts';
import { freeTcpPort, freeUdpPort } from '../support/ports.ts';

const haveRadius = freeradiusAvailable();
const SECRET = 'serve-test-shared-secret-0123456789';

describe.skipIf(!haveRadius)('countersign serve with RADIUS', () => {
  let dir: string | undefined;
  let child: ChildProcessWithoutNullStreams | undefined;

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    if (dir) await removeDir(dir);
  });

  it('answers a VPN login: password, challenge, code, Accept with the configured attributes', async () => {
    const inst = await installation('radius-serve');
    dir = inst.dir;
    const o = { cwd: dir, env: inst.env };
    await ok(['user', 'add', 'alice'], o);
    const password = await run(['user', 'password', 'alice', '--stdin'], { ...o, input: 'Alice-vpn-password-1\n' });
    expect(password.code).toBe(0);
    const enrolled = await json<{ secret: string }>(['token', 'add', 'alice'], o);

    const [auth, acct] = [await freeUdpPort(), await freeUdpPort()];
    await writeFile(path.join(dir, 'radius-vpn.secret'), SECRET + '\n', { mode: 0o600 });
    const file = path.join(dir, 'countersign.yaml');
    const config = parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    config['radius'] = {
      enabled: true,
      listen: ['127.0.0.1'],
      authPort: auth,
      acctPort: acct,
      clients: [
        {
          name: 'vpn',
          addresses: ['127.0.0.1'],
          secretFile: 'radius-vpn.secret',
          application: 'VPN',
          replyAttributes: [{ name: 'Filter-Id', value: 'staff' }],
        },
      ],
    };
    await writeFile(file, stringify(config));

    const httpsPort = await freeTcpPort();
    child = spawn(process.execPath, [MAIN, 'serve', '--json'], {
      cwd: dir,
      env: cleanEnv({ ...inst.env, COUNTERSIGN_SERVER_HOST: '127.0.0.1', COUNTERSIGN_SERVER_PORT: String(httpsPort) }),
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`radius did not start: ${out}`)), 30_000);
      child!.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('radius listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      let err = '';
      child!.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child!.once('exit', () => reject(new Error(`serve exited: ${out} ${err}`)));
    });

    const first = await radclient({
      port: auth,
      secret: SECRET,
      attributes: [
        ['User-Name', 'alice'],
        ['User-Password', 'Alice-vpn-password-1'],
      ],
    });
    expect(first.code).toBe('Access-Challenge');
    const final = await radclient({
      port: auth,
      secret: SECRET,
      attributes: [
        ['User-Name', 'alice'],
        ['User-Password', oathtool(enrolled.secret)],
        ['State', attribute(first, 'State') as string],
      ],
    });
    expect(final.code).toBe('Access-Accept');
    expect(attribute(final, 'Filter-Id')).toBe('staff');
    // The client's application was created for it.
    expect(await json(['app', 'show', 'VPN'], o)).toMatchObject({ name: 'VPN' });

    // A request without Message-Authenticator gets no reply; /metrics counts it by reason.
    const unsigned = await radclient({
      port: auth,
      secret: SECRET,
      messageAuthenticator: false,
      timeout: 1,
      retries: 1,
      attributes: [
        ['User-Name', 'alice'],
        ['User-Password', 'x'],
      ],
    });
    expect(unsigned.code).toBe('timeout');
    const fetchFn = httpsFetch(await readFile(path.join(dir, 'tls', 'cert.pem'), 'utf8'));
    const res = await fetchFn(`https://127.0.0.1:${httpsPort}/metrics`, { method: 'GET', headers: {} });
    expect(res.status).toBe(200);
    const text = await res.text();
    const value = (line: string): number => Number(new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm').exec(text)?.[1]);
    expect(value('countersign_radius_packets_total{outcome="received"}')).toBe(3);
    expect(value('countersign_radius_packets_total{outcome="answered"}')).toBe(2);
    expect(value('countersign_radius_packets_total{outcome="dropped"}')).toBe(1);
    expect(value('countersign_radius_dropped_total{reason="no_message_authenticator"}')).toBe(1);
    expect(value('countersign_radius_dropped_total{reason="unknown_client"}')).toBe(0);
  }, 60_000);
});
