// `npm run bench`: every benchmark, each against its peers in the same run.
// Prints markdown; also saved to bench/.out/latest.md for BENCHMARKS.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const only = process.argv.slice(2);
const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

// The keychain figures need a Secret Service: start a private one when none is on the bus.
const withKeyring = (args) =>
  !process.env.DBUS_SESSION_BUS_ADDRESS && has('dbus-run-session') && has('gnome-keyring-daemon')
    ? ['dbus-run-session', ['--', 'bash', join(ROOT, '.ci/with-keyring.sh'), process.execPath, ...args]]
    : [process.execPath, args];

const suites = [
  { name: 'startup', cmd: withKeyring([join(ROOT, 'bench/startup.mjs')]) },
  { name: 'verify', cmd: [process.execPath, [join(ROOT, 'bench/verify.mjs')]] },
  { name: 'serve', cmd: [process.execPath, [join(ROOT, 'bench/serve.mjs')]] },
  { name: 'audit', cmd: [process.execPath, [join(ROOT, 'bench/audit.mjs')]] },
  { name: 'gateway', cmd: [process.execPath, [join(ROOT, 'bench/gateway.mjs')]] },
  { name: 'sandbox', cmd: [process.execPath, [join(ROOT, 'bench/sandbox.mjs')]] },
].filter((suite) => (only.length === 0 || only.includes(suite.name)) && existsSync(suite.cmd[1].find((a) => a.endsWith('.mjs'))));

const sections = [`# agentauth benchmarks\n\n\`npm run bench\` on ${new Date().toISOString()}, Node ${process.versions.node}, ${process.platform}/${process.arch}.\n`];
let failed = false;
for (const suite of suites) {
  console.error(`bench: ${suite.name}…`);
  const r = spawnSync(suite.cmd[0], suite.cmd[1], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    failed = true;
    sections.push(`## ${suite.name}\n\nFAILED (exit ${r.status})\n`);
    continue;
  }
  sections.push(r.stdout.replace(/^GNOME_KEYRING_CONTROL=.*\n/m, ''));
}
const text = sections.join('\n');
mkdirSync(join(ROOT, 'bench/.out'), { recursive: true });
writeFileSync(join(ROOT, 'bench/.out/latest.md'), text);
console.log(text);
process.exitCode = failed ? 1 : 0;
