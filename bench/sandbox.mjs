// What the sandbox costs `run`: `agentauth run -- true`, whole process, with
// the sandbox (bubblewrap) and with --no-sandbox, interleaved in the same run
// so that machine noise hits both alike. The ratio is the median of the
// per-round ratios. Also bwrap alone, with the same namespaces, for scale.
// Usage: node bench/sandbox.mjs [--runs N]   (prints a markdown table)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/agentauth.js');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 30;

const bwrap = spawnSync('sh', ['-c', 'command -v bwrap'], { encoding: 'utf8' }).stdout.trim();
if (!bwrap) {
  console.log('### Sandbox cost\n\nNot measured: no bwrap on this machine (apt install bubblewrap).\n');
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'agentauth-bench-sandbox-'));
const passFile = join(dir, 'pass');
writeFileSync(passFile, 'bench passphrase\n', { mode: 0o600 });
const env = { PATH: process.env.PATH, HOME: dir, LANG: 'C.UTF-8', AGENTAUTH_HOME: join(dir, 'aa'), AGENTAUTH_PASSPHRASE_FILE: passFile };
const cli = (args) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`agentauth ${args.join(' ')} failed: ${r.stderr}`);
  return r;
};
cli(['init', '--backend', 'file']);
cli(['agent', 'add', 'bench', '--scope', 'a:b']);

const cases = [
  { name: 'agentauth run -- true (sandboxed, bwrap)', cmd: process.execPath, args: [BIN, 'run', '--sandbox', '--', 'true'] },
  { name: 'agentauth run --no-sandbox -- true', cmd: process.execPath, args: [BIN, 'run', '--no-sandbox', '--', 'true'] },
  { name: 'bwrap alone (same namespaces) -- true', cmd: bwrap, args: ['--dev-bind', '/', '/', '--proc', '/proc', '--unshare-pid', '--die-with-parent', '--', 'true'] },
];
const once = (c) => {
  const start = process.hrtime.bigint();
  const r = spawnSync(c.cmd, c.args, { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${c.name} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
};
for (const c of cases) once(c); // warm-up: the page cache, and the gateway CA (created by the first run)
const samples = cases.map(() => []);
for (let i = 0; i < runs; i++) cases.forEach((c, k) => samples[k].push(once(c)));
rmSync(dir, { recursive: true, force: true });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratio = median(samples[0].map((ms, i) => ms / samples[1][i]));
console.log(`### Sandbox cost: \`run -- true\`, whole process (${runs} interleaved runs, Node ${process.versions.node}, ${spawnSync(bwrap, ['--version'], { encoding: 'utf8' }).stdout.trim()})\n`);
console.log('| command | median ms |');
console.log('|---|---|');
cases.forEach((c, k) => console.log(`| ${c.name} | ${median(samples[k]).toFixed(1)} |`));
console.log(`\nSandboxed / unsandboxed, median of per-round ratios: **${ratio.toFixed(3)}×** (target ≤ 1.1×).`);
