// Whole-process cost of the commands a shell script calls in a loop, against
// peers measured in the same run (interleaved, so machine noise hits all alike).
// Usage: node bench/startup.mjs [--runs N]   (prints a markdown table)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/agentauth.js');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 40;
const hasTime = spawnSync('/usr/bin/time', ['-f', '%M', 'true']).status === 0;

const dir = mkdtempSync(join(tmpdir(), 'agentauth-bench-'));
const passFile = join(dir, 'pass');
writeFileSync(passFile, 'bench passphrase\n', { mode: 0o600 });
const baseEnv = { PATH: process.env.PATH, HOME: dir, LANG: 'C.UTF-8' };

function cli(env, args) {
  return execFileSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function makeHome(name, backend, extra = {}) {
  const env = { ...baseEnv, AGENTAUTH_HOME: join(dir, name), AGENTAUTH_PASSPHRASE_FILE: passFile, ...extra };
  cli(env, ['init', '--backend', backend]);
  cli(env, ['agent', 'add', 'bench', '--scope', 'docker:restart:*']);
  return env;
}

const fileEnv = makeHome('file', 'file');
// A third home with `agentauth serve` running: token mint asks it over the socket.
const servedEnv = makeHome('served', 'file');
const serve = spawn(process.execPath, [BIN, 'serve', '--no-http'], { env: servedEnv, stdio: ['ignore', 'ignore', 'pipe'] });
await new Promise((resolve, reject) => {
  let log = '';
  serve.stderr.on('data', (chunk) => {
    log += chunk;
    if (log.includes('serve.start')) resolve();
  });
  serve.once('exit', () => reject(new Error(`serve exited: ${log}`)));
});
let keychainEnv = null;
if (process.env.DBUS_SESSION_BUS_ADDRESS) {
  try {
    keychainEnv = makeHome('keychain', 'keychain', { DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS });
  } catch (error) {
    console.error(`keychain backend unavailable: ${String(error.stderr ?? error.message).trim()}`);
  }
}

// Peers: the same job (sign one EdDSA JWT from a key on disk) without agentauth.
const { privateKey } = generateKeyPairSync('ed25519');
const pem = join(dir, 'key.pem');
writeFileSync(pem, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
const nodeScript = join(dir, 'sign.mjs');
writeFileSync(
  nodeScript,
  `import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
const key = createPrivateKey(readFileSync(process.argv[2]));
const b = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const input = b({ alg: 'EdDSA', typ: 'at+jwt' }) + '.' + b({ sub: 'agent:bench', aud: 'pack.lan', iat: now, exp: now + 900, jti: randomBytes(16).toString('base64url') });
process.stdout.write(input + '.' + sign(null, Buffer.from(input), key).toString('base64url') + '\\n');
`,
);
const pyScript = join(dir, 'sign.py');
writeFileSync(
  pyScript,
  `import jwt, secrets, sys, time
key = open(sys.argv[1]).read()
now = int(time.time())
print(jwt.encode({"sub": "agent:bench", "aud": "pack.lan", "iat": now, "exp": now + 900, "jti": secrets.token_urlsafe(16)}, key, algorithm="EdDSA", headers={"typ": "at+jwt"}))
`,
);
// The floor for a mint through serve: a 6-line CommonJS client, one socket round trip (serve's ping).
const pingScript = join(dir, 'ping.cjs');
writeFileSync(
  pingScript,
  `const socket = require('node:net').connect(process.argv[2]);
let text = '';
socket.on('connect', () => socket.write('{"op":"ping"}\\n'));
socket.on('data', (chunk) => { text += chunk; if (text.includes('\\n')) { socket.destroy(); process.stdout.write(text); } });
`,
);
const python = ['/usr/bin/python3', 'python3'].find((bin) => spawnSync(bin, ['-c', 'import jwt, cryptography']).status === 0);

const cases = [
  { name: 'node -e 0 (baseline)', cmd: process.execPath, args: ['-e', '0'], env: baseEnv },
  { name: 'agentauth --version', cmd: process.execPath, args: [BIN, '--version'], env: fileEnv },
  ...(keychainEnv ? [{ name: 'agentauth token mint (keychain)', cmd: process.execPath, args: [BIN, 'token', 'mint', 'bench', '--aud', 'pack.lan', '--scope', 'docker:restart:nginx'], env: keychainEnv }] : []),
  { name: 'agentauth token mint (file backend)', cmd: process.execPath, args: [BIN, 'token', 'mint', 'bench', '--aud', 'pack.lan', '--scope', 'docker:restart:nginx'], env: fileEnv },
  { name: 'agentauth token mint, answered by a running serve', cmd: process.execPath, args: [BIN, 'token', 'mint', 'bench', '--aud', 'pack.lan', '--scope', 'docker:restart:nginx'], env: servedEnv, serve: true },
  { name: 'floor: a minimal CommonJS client, one round trip to serve (ping)', cmd: process.execPath, args: [pingScript, join(servedEnv.AGENTAUTH_HOME, 'serve.sock')], env: baseEnv, floor: true },
  { name: 'node:crypto-only JWT script', cmd: process.execPath, args: [nodeScript, pem], env: baseEnv },
  ...(python ? [{ name: 'python3 + PyJWT script', cmd: python, args: [pyScript, pem], env: baseEnv }] : []),
];

function runOnce(c) {
  const start = process.hrtime.bigint();
  const r = hasTime
    ? spawnSync('/usr/bin/time', ['-f', '%M', c.cmd, ...c.args], { env: c.env, encoding: 'utf8' })
    : spawnSync(c.cmd, c.args, { env: c.env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${c.name} failed: ${r.stderr}`);
  const rssKb = hasTime ? Number(r.stderr.trim().split('\n').pop()) : NaN;
  return { ms, rssKb };
}

for (const c of cases) runOnce(c); // warm the page cache
const samples = new Map(cases.map((c) => [c.name, []]));
for (let i = 0; i < runs; i++) for (const c of cases) samples.get(c.name).push(runOnce(c));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const base = median(samples.get(cases[0].name).map((s) => s.ms));

// Unlock cost of the file backend alone: one PBES2 key derivation + A256GCM.
const { compactDecrypt } = await import(join(ROOT, 'node_modules/jose/dist/webapi/index.js'));
const { readFileSync } = await import('node:fs');
const jwe = readFileSync(join(fileEnv.AGENTAUTH_HOME, 'keystore.jwe'), 'utf8').trim();
const unlock = [];
for (let i = 0; i < 10; i++) {
  const start = process.hrtime.bigint();
  await compactDecrypt(jwe, new TextEncoder().encode('bench passphrase'), { maxPBES2Count: 1e7, keyManagementAlgorithms: ['PBES2-HS512+A256KW'] });
  unlock.push(Number(process.hrtime.bigint() - start) / 1e6);
}

console.log(`### Start-up and mint, whole process (${runs} interleaved runs each, Node ${process.versions.node})\n`);
console.log('| command | median ms | ratio to node -e 0 | peak RSS MiB |');
console.log('|---|---|---|---|');
for (const c of cases) {
  const s = samples.get(c.name);
  const ms = median(s.map((x) => x.ms));
  const rss = Math.max(...s.map((x) => x.rssKb)) / 1024;
  console.log(`| ${c.name} | ${ms.toFixed(1)} | ${(ms / base).toFixed(2)}× | ${Number.isNaN(rss) ? 'n/a' : rss.toFixed(1)} |`);
}
const served = cases.find((c) => c.serve);
// The machine's speed drifts within a run: the ratio of each run to the baseline run just before it.
const pairRatio = median(samples.get(served.name).map((x, i) => x.ms / samples.get(cases[0].name)[i].ms));
const floor = cases.find((c) => c.floor);
const floorRatio = median(samples.get(floor.name).map((x, i) => x.ms / samples.get(cases[0].name)[i].ms));
console.log(`\nMint answered by serve ÷ node -e 0, median of the per-run ratios: ${pairRatio.toFixed(2)}× (issue 12's target: ≤ 1.3×, peak RSS ≤ 50 MiB); the floor (ping client) ${floorRatio.toFixed(2)}×.`);
serve.kill('SIGTERM');
console.log(`\nFile backend unlock alone (PBES2-HS512+A256KW, p2c 210000, in-process): median ${median(unlock).toFixed(1)} ms.`);
if (!keychainEnv) console.log('\nKeychain mint not measured: no Secret Service on this bus (run under dbus-run-session with gnome-keyring; `npm run bench` does).');
rmSync(dir, { recursive: true, force: true });
