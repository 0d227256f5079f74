import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { startServer } from '../../src/server.ts';
import { createKeyFile } from '../../src/store/keyring.ts';
import { freeTcpPort } from '../support/ports.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'countersign-pages-'));
  await createKeyFile(path.join(dir, 'countersign.key'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function serve(extra: string) {
  const port = await freeTcpPort();
  const file = path.join(dir, `c-${port}.yaml`);
  await writeFile(file, `server:\n  host: 127.0.0.1\n  port: ${port}\n  plainHttp: true\ndatabase:\n  url: sqlite:./db-${port}.db\nkeys:\n  file: countersign.key\n${extra}`);
  const config = await loadConfig({ file, env: {} });
  return startServer(config, { handleSignals: false, logger: pino({ level: 'silent' }) });
}

describe('portal and console settings of the configuration file', () => {
  it('serve both by default, and neither page when they are turned off', async () => {
    const on = await serve('');
    try {
      expect((await fetch(`${on.url}/portal/sign-in`)).status).toBe(200);
      expect((await fetch(`${on.url}/admin/session`)).status).toBe(401);
    } finally {
      await on.close();
    }
    const off = await serve('portal:\n  enabled: false\nconsole:\n  enabled: false\n');
    try {
      expect((await fetch(`${off.url}/portal/sign-in`)).status).toBe(404);
      expect((await fetch(`${off.url}/admin/session`)).status).toBe(404);
      expect((await fetch(`${off.url}/healthz`)).status).toBe(200);
    } finally {
      await off.close();
    }
  });

  it('refuse to start with an unknown first factor, naming the setting and the choices', async () => {
    await expect(serve('portal:\n  firstFactor: directory:corp\n')).rejects.toThrow(/portal\.firstFactor: unknown first factor "directory:corp" \(available: local, user\)/);
  });
});
