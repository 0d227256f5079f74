import { describe, it } from 'vitest';
import { openStore } from '../../src/store/index.ts';
import { keyringFromKeys } from '../../src/store/keyring.ts';
import { describeStoreConformance } from './conformance.ts';
import { probePostgres, tempDatabaseHooks } from './pg.ts';

const pg = await probePostgres();
const fallbackKeyring = keyringFromKeys({ k1: new Uint8Array(32).fill(1) }, 'k1', new Uint8Array(32).fill(2));

if (pg.ok) {
  describe('postgres', () => {
    const db = tempDatabaseHooks();
    describeStoreConformance('postgres', (opts) => openStore({ url: `${db.url()}?pool=4`, keyring: opts?.keyring ?? fallbackKeyring }));
  });
} else {
  describe.skip(`store conformance: postgres (${pg.reason})`, () => {
    it('needs PostgreSQL', () => undefined);
  });
}
