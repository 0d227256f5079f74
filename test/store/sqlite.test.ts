import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openStore } from '../../src/store/index.ts';
import { keyringFromKeys } from '../../src/store/keyring.ts';
import { describeStoreConformance } from './conformance.ts';

const dir = mkdtempSync(join(tmpdir(), 'countersign-store-'));
// A nested folder that does not exist yet: the store creates it.
const url = `sqlite:${join(dir, 'nested', 'store.db')}`;
const fallbackKeyring = keyringFromKeys({ k1: new Uint8Array(32).fill(1) }, 'k1', new Uint8Array(32).fill(2));

describeStoreConformance('sqlite file', (opts) => openStore({ url, keyring: opts?.keyring ?? fallbackKeyring }));

afterAll(() => rmSync(dir, { recursive: true, force: true }));
