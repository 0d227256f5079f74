/** A temporary folder per test for configuration files, and the ConfigError a load throws. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.ts';

/** Registers the hooks; `dir()` is the current test's folder. */
export function configFiles(): { dir: () => string; writeConfig: (text: string, name?: string) => Promise<string> } {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'countersign-config-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return {
    dir: () => dir,
    async writeConfig(text, name = 'countersign.yaml') {
      const file = path.join(dir, name);
      await writeFile(file, text);
      return file;
    },
  };
}

/** Runs loadConfig and returns the ConfigError it throws (fails the test if it does not throw one). */
export async function configError(opts: Parameters<typeof loadConfig>[0]): Promise<ConfigError> {
  try {
    await loadConfig(opts);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}
