// Module stand-ins for the bundle: measured start-up and memory trims (see
// BENCHMARKS.md). A few dependencies load heavy modules at import time that
// agentauth never uses; inside those dependencies only, the build swaps in a
// lighter module. Each stand-in is checked twice:
//  - scripts/build.mjs fails when one is never used (the dependency stopped
//    importing the module, so the stand-in is unneeded);
//  - test/unit/build/shims.test.ts bundles each dependency with its stand-in
//    and runs it, so an upgrade that makes the stand-in wrong fails a test.

/** @typedef {{ name: string, module: RegExp, importer: RegExp, contents: string }} Shim */

/** @type {Shim[]} */
export const SHIMS = [
  {
    // commander needs child_process only to spawn executable subcommands
    // (agentauth has none). Loading it eagerly pulls in net, dgram and
    // streams: ~4 ms on every start. The real module loads on first use.
    name: 'commander-child-process',
    module: /^(node:)?child_process$/,
    importer: /[\\/]commander[\\/]/,
    contents: `let real;
module.exports = new Proxy({}, { get: (_target, key) => (real ??= require('node:child_process'))[key] });`,
  },
  {
    // graceful-fs's EMFILE queueing guards programs with thousands of open
    // files, and its start-up patching of fs costs ~10 ms per process, a
    // third of `token mint`'s budget. proper-lockfile gets node:fs itself.
    name: 'proper-lockfile-graceful-fs',
    module: /^graceful-fs$/,
    importer: /[\\/]proper-lockfile[\\/]/,
    contents: `module.exports = require('node:fs');`,
  },
  {
    // undici's HTTP/2 client is never used (the gateway offers upstreams only
    // HTTP/1.1 in ALPN); undici catches the failed require and runs as on a
    // Node built without HTTP/2, which saves ~2.5 MiB of the gateway's RSS.
    name: 'undici-no-http2',
    module: /^(node:)?http2$/,
    importer: /[\\/]undici[\\/]/,
    contents: `throw new Error('node:http2 is not bundled for undici: agentauth speaks HTTP/1.1 to upstreams');`,
  },
];

const NAMESPACE = 'agentauth-shim';

/**
 * The esbuild plugin that applies `shims`. `used` collects the names of the
 * stand-ins the build resolved, so the caller can tell an unneeded one.
 * @param {Set<string>} used
 * @param {Shim[]} [shims]
 */
export function shimPlugin(used, shims = SHIMS) {
  return {
    name: 'module-stand-ins',
    setup(b) {
      for (const shim of shims) {
        b.onResolve({ filter: shim.module }, (args) => {
          if (!shim.importer.test(args.importer)) return undefined;
          used.add(shim.name);
          return { path: shim.name, namespace: NAMESPACE };
        });
      }
      b.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({
        contents: `// agentauth build stand-in ${args.path} (scripts/build-shims.mjs)\n${shims.find((s) => s.name === args.path).contents}\n`,
        loader: 'js',
        resolveDir: process.cwd(),
      }));
    },
  };
}

/** Throws when a stand-in went unused: its dependency no longer imports what it replaces. */
export function assertShimsUsed(used, shims = SHIMS) {
  const unused = shims.filter((s) => !used.has(s.name)).map((s) => s.name);
  if (unused.length > 0) {
    throw new Error(`build: stand-in(s) ${unused.join(', ')} were never used; the dependency no longer imports the module, so remove them from scripts/build-shims.mjs`);
  }
}
