/** Writes docs/configuration.md from the configuration schema (`npm run docs:config`). */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderConfigDocs } from '../src/config/render.ts';

const target = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
await writeFile(target, renderConfigDocs());
console.log(`wrote ${target}`);
