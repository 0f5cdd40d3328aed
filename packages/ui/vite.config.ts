import { defineConfig } from 'vite'

// The box serves the built files; in development Vite serves them and forwards the API to a running box.
export default defineConfig({
  esbuild: { jsx: 'automatic' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2000 },
  server: { proxy: { '/api': process.env.COFFER_URL ?? 'http://127.0.0.1:7780', '/dav': process.env.COFFER_URL ?? 'http://127.0.0.1:7780' } },
})
