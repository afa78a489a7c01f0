// Bundles src/ into dist/ with esbuild. One bundle with code splitting keeps
// start-up fast (few files to resolve) while dynamic imports stay lazy chunks.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';

await rm(new URL('../dist', import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: { main: 'src/main.ts', lib: 'src/lib.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  // Native binding: must be resolved at run time from node_modules.
  external: ['@napi-rs/keyring'],
  // CommonJS dependencies call require() for built-ins; give the ESM bundle one.
  banner: {
    js: "import { createRequire as __aaCreateRequire } from 'node:module'; const require = __aaCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
