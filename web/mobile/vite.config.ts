/**
 * Countersign Authenticator, the push method's installable web app, served at /mobile/app/ under a
 * strict Content-Security-Policy (`script-src 'self'; style-src 'self'`): the build emits only
 * files, no inline script or style, no data: URLs. The service worker is its own entry, written
 * as sw.js at the app's root so that its scope is /mobile/app/. scripts/build.ts runs this build
 * into dist/mobile-app.
 */
import { defineConfig } from 'vite';

const root = decodeURIComponent(new URL('.', import.meta.url).pathname);

export default defineConfig({
  root,
  base: '/mobile/app/',
  build: {
    outDir: '../../dist/mobile-app',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    rolldownOptions: {
      input: { app: `${root}index.html`, sw: `${root}sw/sw.ts` },
      output: {
        // The worker keeps a fixed name (browsers check it for updates on each visit); the rest is hashed.
        entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
});
