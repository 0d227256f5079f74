/** Where the web apps built by scripts/build.ts (Vite) live: dist/<name> under the repository root. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * dist/`name` under the repository root: the nearest folder above `moduleUrl` that holds
 * package.json. The same answer from the sources (src/doors/http/...) and from the bundle (dist/).
 */
export function builtDir(moduleUrl: string, name: string): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', name);
    const parent = dirname(dir);
    if (parent === dir) return join(dirname(fileURLToPath(moduleUrl)), 'dist', name);
    dir = parent;
  }
}
