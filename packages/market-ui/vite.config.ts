import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

// The market serves the built files; in development Vite serves them and forwards the API to a running market.
export default defineConfig({
  esbuild: { jsx: 'automatic' },
  // The market's protocol module is built from the source the pages typecheck against, so the
  // pages need no market build before theirs.
  resolve: { alias: { '@coffer/market/protocol': fileURLToPath(new URL('../market/src/protocol/index.ts', import.meta.url)) } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  server: { proxy: { '/api': process.env.COFFER_MARKET_URL ?? 'http://127.0.0.1:7790' } },
})
