// Bundles src/ into dist/ with esbuild, in three builds:
//  - dist/main.cjs: what bin/agentauth.js loads, in ONE CommonJS file with what
//    it needs to answer `token mint` through a running serve: each extra
//    module file, and the ES module loader itself, cost start-up time (see
//    BENCHMARKS.md). It imports the command tree from dist/cli.js when needed.
//  - dist/cli.js and dist/lib.js: the command tree and the `agentauth` library,
//    with code splitting, so dynamic imports stay lazy chunks.
//  - dist/verify.js: the `agentauth/verify` library, for any JavaScript runtime
//    (jose stays an import; nothing Node-only is bundled), with its type
//    declarations under dist/types/ emitted by tsc.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// Without --clean, old chunks stay: a CLI process that started before this
// build may still lazy-import them (tests and builds overlap in development).
if (process.argv.includes('--clean')) await rm(new URL('../dist', import.meta.url), { recursive: true, force: true });
// Measured start-up and memory trims (see BENCHMARKS.md): dependencies that
// load heavy modules at import time get lighter stand-ins, only inside those dependencies.
const shim = (name) => fileURLToPath(new URL(`./shims/${name}`, import.meta.url));
const startupShims = {
  name: 'startup-shims',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]commander[\\/]/.test(args.importer) ? { path: shim('child-process.cjs') } : undefined,
    );
    b.onResolve({ filter: /^graceful-fs$/ }, (args) =>
      /[\\/]proper-lockfile[\\/]/.test(args.importer) ? { path: shim('graceful-fs.cjs') } : undefined,
    );
    // undici's HTTP/2 client is never used (the gateway offers upstreams only
    // HTTP/1.1 in ALPN); undici copes with a Node without http2, and not
    // loading it saves ~2.5 MiB of the gateway's RSS.
    b.onResolve({ filter: /^(node:)?http2$/ }, (args) =>
      /[\\/]undici[\\/]/.test(args.importer) ? { path: shim('no-http2.cjs') } : undefined,
    );
  },
};
// main.cjs reaches the command tree through `import('./cli.js')`: the other build's entry.
const commandTreeOutside = {
  name: 'command-tree-outside',
  setup(b) {
    b.onResolve({ filter: /^\.\/cli\.js$/ }, () => ({ path: './cli.js', external: true }));
  },
};

const node = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  sourcemap: 'linked',
  // Native binding: must be resolved at run time from node_modules.
  external: ['@napi-rs/keyring'],
  // CommonJS dependencies call require() for built-ins; give the ESM bundle one.
  banner: {
    js: "import { createRequire as __aaCreateRequire } from 'node:module'; const require = __aaCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
  // AGENTAUTH_NO_MINIFY=1 keeps names readable in CPU profiles (node --cpu-prof).
  minify: process.env.AGENTAUTH_NO_MINIFY !== '1',
};

const [, split] = await Promise.all([
  build({ ...node, entryPoints: ['src/main.ts'], outfile: 'dist/main.cjs', format: 'cjs', banner: {}, plugins: [commandTreeOutside] }),
  build({
    ...node,
    entryPoints: {
      cli: 'src/cli.ts',
      lib: 'src/lib.ts',
      // Started as a worker thread by audit verify: `new URL('./verify-worker.js', import.meta.url)`
      // from the chunk holding verify-workers.ts, so it must be emitted beside that chunk.
      'chunks/verify-worker': 'src/core/audit/verify-worker.ts',
    },
    outdir: 'dist',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    plugins: [startupShims],
    metafile: true,
  }),
  build({
    entryPoints: { verify: 'src/verify/index.ts' },
    outdir: 'dist',
    bundle: true,
    format: 'esm',
    // 'neutral' fails the build if anything Node-only slips in; node:fs is imported lazily for a JWKS file path.
    platform: 'neutral',
    target: 'es2022',
    external: ['jose', 'node:*'],
    sourcemap: 'linked',
    logLevel: 'warning',
  }),
]);

// The Node preload `run` puts in its child's NODE_OPTIONS (src/preload/): CommonJS,
// for `--require` on every Node from 18 on; its undici half is loaded only on
// the child's first request, so it is a file of its own.
await build({
  entryPoints: { 'preload/env-proxy': 'src/preload/env-proxy.cts', 'preload/env-proxy-undici': 'src/preload/env-proxy-undici.cts' },
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node18',
  logLevel: 'error',
  minify: process.env.AGENTAUTH_NO_MINIFY !== '1',
  plugins: [startupShims],
});

// The worker is found relative to the code that starts it: fail the build, not a user's verify, if they drift apart.
const outputs = Object.entries(split.metafile.outputs);
const starter = outputs.find(([, output]) => Object.keys(output.inputs).some((input) => input.endsWith('src/core/audit/verify-workers.ts')));
if (!starter || dirname(starter[0]) !== 'dist/chunks' || !split.metafile.outputs['dist/chunks/verify-worker.js']) {
  throw new Error(`build: verify-workers.ts went to ${starter?.[0] ?? 'no output'}, not beside dist/chunks/verify-worker.js`);
}

// Type declarations for agentauth/verify (tsconfig.verify.json: declarations only).
execFileSync(process.execPath, [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'tsconfig.verify.json'], {
  cwd: fileURLToPath(new URL('..', import.meta.url)),
  stdio: 'inherit',
});
