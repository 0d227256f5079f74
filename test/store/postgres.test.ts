import { afterAll, describe, it } from 'vitest';
import { openStore } from '../../src/store/index.ts';
import { keyringFromKeys } from '../../src/store/keyring.ts';
import { describeStoreConformance } from './conformance.ts';
import { createTempDatabase } from './pg.ts';

const temp = await createTempDatabase();
const fallbackKeyring = keyringFromKeys({ k1: new Uint8Array(32).fill(1) }, 'k1', new Uint8Array(32).fill(2));

if (temp.ok) {
  const url = `${temp.db.url}?pool=4`;
  describeStoreConformance('postgres', (opts) => openStore({ url, keyring: opts?.keyring ?? fallbackKeyring }));
  afterAll(() => temp.db.drop());
} else {
  describe.skip(`store conformance: postgres (${temp.reason})`, () => {
    it('needs PostgreSQL', () => undefined);
  });
}
