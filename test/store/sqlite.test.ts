import { openStore } from '../../src/store/index.ts';
import { keyringFromKeys } from '../../src/store/keyring.ts';
import { describeStoreConformance } from './conformance.ts';
import { tempDirHooks } from './temp-dir.ts';

const dir = tempDirHooks('countersign-store-');
const fallbackKeyring = keyringFromKeys({ k1: new Uint8Array(32).fill(1) }, 'k1', new Uint8Array(32).fill(2));

// A nested folder that does not exist yet: the store creates it.
describeStoreConformance('sqlite file', (opts) => openStore({ url: `sqlite:${dir.path('nested', 'store.db')}`, keyring: opts?.keyring ?? fallbackKeyring }));
