// Each module stand-in of scripts/build-shims.mjs, bundled with the real
// dependency it sits in and run: the dependency still works with it, and the
// heavy module it keeps out is really kept out. A dependency upgrade that
// makes a stand-in wrong fails here; one that makes it unneeded fails both
// here and the build (assertShimsUsed).
import { build, type Plugin } from 'esbuild';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../helpers/cli.js';

interface ShimsModule {
  SHIMS: { name: string }[];
  shimPlugin(used: Set<string>): Plugin;
  assertShimsUsed(used: Set<string>): void;
}

let shims: ShimsModule;
let dir: string;
beforeAll(async () => {
  // A computed specifier: the build script is plain JavaScript, loaded as Node loads it.
  const url = pathToFileURL(join(REPO_ROOT, 'scripts/build-shims.mjs')).href;
  shims = (await import(url)) as ShimsModule;
  dir = mkdtempSync(join(tmpdir(), 'agentauth-shims-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Bundles `source` (which requires a dependency) the way the build does, runs it, and returns its JSON line and the stand-ins used. */
async function bundleAndRun(name: string, source: string): Promise<{ out: Record<string, unknown>; used: Set<string> }> {
  const used = new Set<string>();
  const result = await build({
    stdin: { contents: source, resolveDir: REPO_ROOT, loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20.19',
    write: false,
    logLevel: 'silent',
    plugins: [shims.shimPlugin(used)],
  });
  const file = join(dir, `${name}.cjs`);
  writeFileSync(file, result.outputFiles[0]?.text ?? '');
  const { stdout } = await promisify(execFile)(process.execPath, [file], { cwd: dir, timeout: 20_000 });
  return { out: JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>, used };
}

// Which built-in modules this process has loaded (an internal list, present on Node 20 and 24).
const LOADED = `const loaded = (name) => process.moduleLoadList.includes('NativeModule ' + name);`;

describe('build stand-ins', () => {
  it('names each stand-in the tests below cover', () => {
    expect(shims.SHIMS.map((s) => s.name).sort()).toEqual(['commander-child-process', 'proper-lockfile-graceful-fs', 'undici-no-http2']);
    expect(() => shims.assertShimsUsed(new Set(['commander-child-process']))).toThrow(/proper-lockfile-graceful-fs, undici-no-http2 were never used/);
  });

  it('commander parses without loading child_process, and still spawns an executable subcommand through the stand-in', async () => {
    writeFileSync(join(dir, 'prog-hello.js'), `console.log(JSON.stringify({ sub: process.argv.slice(2) }));\n`);
    const { out, used } = await bundleAndRun(
      'commander',
      `${LOADED}
const { Command } = require('commander');
const program = new Command('prog').exitOverride();
let ran = false;
program.command('go').action(() => { ran = true; });
program.command('hello', 'an executable subcommand', { executableFile: ${JSON.stringify(join(dir, 'prog-hello.js'))} });
program.parse(['node', 'prog', 'go'], { from: 'node' });
const before = loaded('child_process');
// The executable subcommand path is the one that needs child_process: it loads on first use.
const second = new Command('prog');
second.command('hello', 'an executable subcommand', { executableFile: ${JSON.stringify(join(dir, 'prog-hello.js'))} });
second.parse(['node', 'prog', 'hello', 'x'], { from: 'node' });
process.on('exit', () => console.log(JSON.stringify({ ran, before, after: loaded('child_process') })));
`,
    );
    expect(used).toEqual(new Set(['commander-child-process']));
    expect(out).toEqual({ ran: true, before: false, after: true });
  });

  it('proper-lockfile locks, checks and unlocks on plain node:fs, without graceful-fs in the bundle', async () => {
    const target = join(dir, 'locked-file');
    writeFileSync(target, '');
    const { out, used } = await bundleAndRun(
      'proper-lockfile',
      `const lockfile = require('proper-lockfile');
(async () => {
  const release = await lockfile.lock(${JSON.stringify(target)}, { update: 1000, stale: 5000 });
  const held = await lockfile.check(${JSON.stringify(target)});
  let second = null;
  try { await lockfile.lock(${JSON.stringify(target)}); } catch (error) { second = error.code; }
  await release();
  const after = await lockfile.check(${JSON.stringify(target)});
  const gracefulFs = Object.getOwnPropertySymbols(require('node:fs')).map(String).filter((s) => s.includes('graceful-fs'));
  console.log(JSON.stringify({ held, second, after, gracefulFs }));
})();
`,
    );
    expect(used).toEqual(new Set(['proper-lockfile-graceful-fs']));
    // graceful-fs marks the fs module it patches with a Symbol(graceful-fs.queue); none here.
    expect(out).toEqual({ held: true, second: 'ELOCKED', after: false, gracefulFs: [] });
  });

  it('undici (its Agent, as the gateway imports it) forwards over HTTP/1.1 with node:http2 refused, and never loads it', async () => {
    const { out, used } = await bundleAndRun(
      'undici',
      `${LOADED}
const Agent = require('undici/lib/dispatcher/agent.js');
const http = require('node:http');
const server = http.createServer((req, res) => res.end('hello ' + req.httpVersion)).listen(0, '127.0.0.1', () => {
  const agent = new Agent();
  let statusCode = 0;
  const chunks = [];
  agent.dispatch({ origin: 'http://127.0.0.1:' + server.address().port, path: '/', method: 'GET', headers: [] }, {
    onConnect() {},
    onHeaders(status) { statusCode = status; return true; },
    onData(chunk) { chunks.push(chunk); return true; },
    onComplete() {
      agent.close().then(() => server.close());
      console.log(JSON.stringify({ statusCode, text: Buffer.concat(chunks).toString(), http2: loaded('http2') }));
    },
    onError(error) { console.log(JSON.stringify({ error: String(error) })); process.exit(1); },
  });
});
`,
    );
    expect(used).toEqual(new Set(['undici-no-http2']));
    expect(out).toEqual({ statusCode: 200, text: 'hello 1.1', http2: false });
  });
});
