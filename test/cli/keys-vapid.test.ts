import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyFile } from '../../src/store/keyring.ts';
import { ok } from './run.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'countersign-vapid-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('keys vapid', () => {
  it('adds a Web Push key pair to a key file that has none, keeps it afterwards, and prints its public key', async () => {
    const keyFile = path.join(dir, 'countersign.key');
    await createKeyFile(keyFile);
    const file = JSON.parse(await readFile(keyFile, 'utf8')) as Record<string, unknown>;
    delete file.vapid;
    await writeFile(keyFile, JSON.stringify(file), { mode: 0o600 });
    await writeFile(path.join(dir, 'countersign.yaml'), 'keys:\n  file: countersign.key\n');

    const first = JSON.parse(await ok(['keys', 'vapid', '--json'], { cwd: dir })) as { publicKey: string; created: boolean };
    expect(first.created).toBe(true);
    expect(first.publicKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
    const written = JSON.parse(await readFile(keyFile, 'utf8')) as { vapid: { publicKey: string }; keys: Record<string, string>; pepper: string };
    expect(written.vapid.publicKey).toBe(first.publicKey);
    expect(written.keys).toEqual(file.keys);
    expect(written.pepper).toBe(file.pepper);

    const again = await ok(['keys', 'vapid'], { cwd: dir });
    expect(again).toContain(`already has a Web Push key pair (kept); public key ${first.publicKey}`);
  });
});
