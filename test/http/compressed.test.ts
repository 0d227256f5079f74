/**
 * The built web apps travel compressed: the build writes .br and .gz forms of their text files, and
 * the server sends the form a browser accepts, with Vary: Accept-Encoding. Runs on the real build
 * (scripts/build.ts, which the test command runs first).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtDir } from '../../src/doors/http/built.ts';
import { createTestApp, type TestApp } from './helpers.ts';

const consoleDir = builtDir(import.meta.url, 'console');

function filesOf(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesOf(join(dir, e.name)) : [join(dir, e.name)]));
}

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ firstFactor: 'local' });
});
afterAll(async () => t?.close());

describe('compressed web app files', () => {
  it('the build writes a .br and a .gz form of every text file of 1 KiB or more, each the same bytes once decompressed', () => {
    for (const name of ['console', 'mobile-app']) {
      const files = filesOf(builtDir(import.meta.url, name));
      const large = files.filter((f) => /\.(js|css|html|svg|json|webmanifest)$/.test(f) && readFileSync(f).length >= 1024);
      expect(large.length, name).toBeGreaterThan(0);
      for (const f of large) {
        const original = readFileSync(f);
        expect(brotliDecompressSync(readFileSync(`${f}.br`)).equals(original), `${f}.br`).toBe(true);
        expect(gunzipSync(readFileSync(`${f}.gz`)).equals(original), `${f}.gz`).toBe(true);
        expect(readFileSync(`${f}.br`).length, f).toBeLessThan(original.length);
      }
    }
  });

  it('sends Brotli, gzip or the file itself as the browser accepts, with the same headers otherwise', async () => {
    const index = readFileSync(join(consoleDir, 'index.html'), 'utf8');
    const script = /src="\/admin\/(assets\/[^"]+\.js)"/.exec(index)?.[1];
    expect(script).toBeDefined();
    const original = readFileSync(join(consoleDir, script as string));
    const get = (acceptEncoding?: string) =>
      t.app.inject({ method: 'GET', url: `/admin/${script as string}`, headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } });
    for (const [accept, encoding, decode] of [
      ['gzip, deflate, br, zstd', 'br', brotliDecompressSync],
      ['gzip', 'gzip', gunzipSync],
      ['br;q=0, gzip', 'gzip', gunzipSync],
      [undefined, undefined, (b: Buffer) => b],
      ['identity', undefined, (b: Buffer) => b],
    ] as const) {
      const res = await get(accept);
      expect(res.statusCode, accept).toBe(200);
      expect(res.headers['content-encoding'], accept).toBe(encoding);
      expect(res.headers['vary'], accept).toMatch(/accept-encoding/i);
      expect(res.headers['content-type'], accept).toMatch(/javascript/);
      expect(res.headers['cache-control'], accept).toBe('public, max-age=31536000, immutable');
      expect(decode(res.rawPayload).equals(original), accept).toBe(true);
      if (encoding !== undefined) expect(res.rawPayload.length, accept).toBeLessThan(original.length / 2);
    }
  });
});
