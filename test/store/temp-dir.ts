/** A temporary folder made in beforeAll and removed in afterAll (a filtered run that skips the file leaves none). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export function tempDirHooks(prefix: string): { path(...parts: string[]): string } {
  let dir: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    path(...parts) {
      if (dir === undefined) throw new Error('the temporary folder exists only while the tests run');
      return join(dir, ...parts);
    },
  };
}
