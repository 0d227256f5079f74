import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { renderConfigDocs, renderConfigTemplate } from '../../src/config/render.ts';
import { CONFIG_OPTIONS } from '../../src/config/schema.ts';

describe('docs/configuration.md', () => {
  it('is up to date with the schema (run `npm run docs:config` when this fails)', async () => {
    const committed = await readFile(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    expect(committed).toBe(renderConfigDocs());
  });

  it('documents every option with its environment variable', () => {
    const docs = renderConfigDocs();
    for (const option of CONFIG_OPTIONS) {
      expect(docs).toContain(`\`${option.path}\``);
      expect(docs).toContain(`\`${option.envName}\``);
    }
  });
});

describe('the config file written by init', () => {
  it('lists every option with a comment and loads to the defaults', async () => {
    const text = renderConfigTemplate();
    for (const option of CONFIG_OPTIONS) {
      expect(text, option.path).toContain(option.envName);
    }
    const tree = parse(text) as Record<string, Record<string, unknown>>;
    expect(tree['server']?.['port']).toBe(8443);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'countersign-template-'));
    try {
      const file = path.join(dir, 'countersign.yaml');
      await writeFile(file, text);
      const fromTemplate = await loadConfig({ file, env: {} });
      const defaults = await loadConfig({ env: {}, cwd: path.join(dir, 'elsewhere') });
      expect(fromTemplate.server).toEqual({
        ...defaults.server,
        tls: { cert: path.join(dir, 'tls/cert.pem'), key: path.join(dir, 'tls/key.pem') },
      });
      expect(fromTemplate.database.url).toBe(`sqlite:${path.join(dir, 'countersign.db')}`);
      expect(fromTemplate.keys.file).toBe(path.join(dir, 'countersign.key'));
      expect(fromTemplate.log).toEqual(defaults.log);
      expect(fromTemplate.rateLimit).toEqual(defaults.rateLimit);
      expect(fromTemplate.metrics).toEqual(defaults.metrics);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('docs/directory.md examples', () => {
  it('every `directories:` YAML block loads and, with a sync block, builds its sync target', async () => {
    const { syncTargetFromConfig } = await import('../../src/directory/config.ts');
    const md = await readFile(new URL('../../docs/directory.md', import.meta.url), 'utf8');
    const blocks = [...md.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string).filter((b) => b.startsWith('directories:'));
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'countersign-docs-'));
    try {
      let synced = 0;
      for (const block of blocks) {
        // The examples name secret and CA files on a real host; here they point at stand-ins.
        const text = block
          .replace(/bindPasswordFile: \S+/g, 'bindPasswordFile: ./secret')
          .replace(/caFile: \S+/g, 'caFile: ./ca.pem');
        await writeFile(path.join(dir, 'secret'), 'service-password\n');
        await writeFile(path.join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
        const file = path.join(dir, 'countersign.yaml');
        await writeFile(file, text);
        const config = await loadConfig({ file, env: {} });
        for (const d of config.directories) {
          const target = await syncTargetFromConfig(d);
          if (d.sync) {
            expect(target?.items.length, d.name).toBe(d.sync.items.length);
            synced++;
          }
        }
      }
      expect(synced).toBeGreaterThanOrEqual(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
