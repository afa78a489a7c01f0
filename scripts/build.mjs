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
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertShimsUsed, shimPlugin } from './build-shims.mjs';

// Without --clean, old chunks stay for a while: a CLI process that started
// before this build may still lazy-import them (tests and builds overlap in
// development). Chunks no build has written for an hour are pruned below.
if (process.argv.includes('--clean')) await rm(new URL('../dist', import.meta.url), { recursive: true, force: true });
// Module stand-ins inside some dependencies (see scripts/build-shims.mjs).
const shimsUsed = new Set();
// main.cjs reaches the command tree through `import('./cli/program.js')`: the other build's entry, emitted as dist/cli.js.
const commandTreeOutside = {
  name: 'command-tree-outside',
  setup(b) {
    b.onResolve({ filter: /^\.\/cli\/program\.js$/ }, () => ({ path: './cli.js', external: true }));
  },
};

const sourcemap = process.env.AGENTAUTH_SOURCEMAP === '1' ? 'linked' : false;
const node = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  // Source maps are not shipped (a Pi pays for every megabyte); AGENTAUTH_SOURCEMAP=1 writes them for debugging.
  sourcemap,
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

const builds = await Promise.all([
  build({ ...node, entryPoints: ['src/main.ts'], outfile: 'dist/main.cjs', format: 'cjs', banner: {}, plugins: [commandTreeOutside], metafile: true }),
  build({
    ...node,
    entryPoints: {
      cli: 'src/cli/program.ts',
      lib: 'src/lib.ts',
      // Started as a worker thread by audit verify: `new URL('./verify-worker.js', import.meta.url)`
      // from the chunk holding verify-workers.ts, so it must be emitted beside that chunk.
      'chunks/verify-worker': 'src/core/audit/verify-worker.ts',
    },
    outdir: 'dist',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    plugins: [shimPlugin(shimsUsed)],
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
    sourcemap,
    logLevel: 'warning',
    metafile: true,
  }),
  // The Node preload `run` puts in its child's NODE_OPTIONS (src/preload/): CommonJS,
  // for `--require` on every Node from 18 on; its undici half is loaded only on
  // the child's first request, so it is a file of its own.
  build({
    entryPoints: { 'preload/env-proxy': 'src/preload/env-proxy.cts', 'preload/env-proxy-undici': 'src/preload/env-proxy-undici.cts' },
    outdir: 'dist',
    outExtension: { '.js': '.cjs' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node18',
    logLevel: 'error',
    minify: process.env.AGENTAUTH_NO_MINIFY !== '1',
    plugins: [shimPlugin(shimsUsed)],
    metafile: true,
  }),
]);
const split = builds[1];

assertShimsUsed(shimsUsed);

// package.json's dependencies are exactly what the bundle loads at run time
// (everything else is bundled, so it is a devDependency): an install pulls
// nothing it never loads, and a new external cannot ship without being declared.
const runtimeImports = new Set(node.external);
for (const { metafile } of builds) {
  for (const output of Object.values(metafile.outputs)) {
    for (const { path, external } of output.imports) {
      if (external && !/^(\.|\/|node:)/.test(path) && !isBuiltin(path)) runtimeImports.add(path.replace(/^((@[^/]+\/)?[^/]+).*$/, '$1'));
    }
  }
}
const declared = Object.keys(JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')).dependencies ?? {});
if ([...runtimeImports].sort().join() !== declared.sort().join()) {
  throw new Error(`build: package.json dependencies (${declared.join(', ')}) must be exactly what dist/ imports at run time (${[...runtimeImports].join(', ')})`);
}

// The worker is found relative to the code that starts it: fail the build, not a user's verify, if they drift apart.
const outputs = Object.entries(split.metafile.outputs);
const starter = outputs.find(([, output]) => Object.keys(output.inputs).some((input) => input.endsWith('src/core/audit/verify-workers.ts')));
if (!starter || dirname(starter[0]) !== 'dist/chunks' || !split.metafile.outputs['dist/chunks/verify-worker.js']) {
  throw new Error(`build: verify-workers.ts went to ${starter?.[0] ?? 'no output'}, not beside dist/chunks/verify-worker.js`);
}

// Prune chunks and maps this build did not write and nothing has written for an
// hour, so a long-lived working tree's dist/ (and `npm pack` from it) stays the
// size of one build.
const written = new Set(builds.flatMap(({ metafile }) => Object.keys(metafile.outputs)));
const staleBefore = Date.now() - 3600_000;
for (const folder of ['dist', 'dist/chunks']) {
  for (const name of await readdir(folder).catch(() => [])) {
    const file = join(folder, name);
    if (written.has(file) || !/\.(js|map)$/.test(name)) continue;
    if (sourcemap === false && name.endsWith('.map')) await rm(file, { force: true });
    else if ((await stat(file)).mtimeMs < staleBefore) await rm(file, { force: true });
  }
}

// What this build wrote (the package-install test sizes the package by it, not by chunks an
// earlier build left for processes still running).
await writeFile('dist/.outputs.json', `${JSON.stringify([...written].sort())}\n`);

// Type declarations for agentauth/verify (tsconfig.verify.json: declarations only).
execFileSync(process.execPath, [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'tsconfig.verify.json'], {
  cwd: fileURLToPath(new URL('..', import.meta.url)),
  stdio: 'inherit',
});
