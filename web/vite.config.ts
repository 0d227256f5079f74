/**
 * The admin console: a single-page app served at /admin/ under a strict Content-Security-Policy
 * (`script-src 'self'; style-src 'self'`), so the build emits only files: no inline script, no
 * inline style, no data: URLs for assets. scripts/build.ts runs this build after the server bundle.
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: decodeURIComponent(new URL('.', import.meta.url).pathname),
  base: '/admin/',
  plugins: [react()],
  build: {
    outDir: '../dist/console',
    emptyOutDir: true,
    target: 'es2022',
    // Every asset is a file under /admin/assets/, never inlined as a data: URL.
    assetsInlineLimit: 0,
    // Browsers the console supports all know <link rel="modulepreload">.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
