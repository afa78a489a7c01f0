// agentauth serve, against its peers in the same run (the whole-process
// `token mint` through serve is a row of bench/startup.mjs):
//  - a shell loop of 100 mints through serve (the Pi script of issue 12);
//  - GET /.well-known/jwks.json with 32 keep-alive connections, against a
//    minimal node:http server returning the same bytes (interleaved rounds,
//    ratio = median of each round's ratio).
// Usage: node bench/serve.mjs [--rounds N] [--seconds N]   (prints markdown)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/agentauth.js');
const arg = (name, fallback) => Number(process.argv[process.argv.indexOf(name) + 1]) || fallback;
const rounds = arg('--rounds', 3);
const seconds = arg('--seconds', 5);

const dir = mkdtempSync(join(tmpdir(), 'agentauth-bench-serve-'));
const passFile = join(dir, 'pass');
writeFileSync(passFile, 'bench passphrase\n', { mode: 0o600 });
const env = { PATH: process.env.PATH, HOME: dir, LANG: 'C.UTF-8', AGENTAUTH_HOME: join(dir, 'home'), AGENTAUTH_PASSPHRASE_FILE: passFile };
const cli = (args) => execFileSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
cli(['init', '--backend', 'file']);
cli(['agent', 'add', 'bench', '--scope', 'docker:restart:*']);

const serve = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
let serveLog = '';
serve.stderr.setEncoding('utf8');
serve.stderr.on('data', (chunk) => (serveLog += chunk));
const url = await new Promise((resolvePromise, reject) => {
  const timer = setInterval(() => {
    const match = / http=(\S+)/.exec(serveLog);
    if (match) {
      clearInterval(timer);
      resolvePromise(match[1]);
    }
    if (serve.exitCode !== null) reject(new Error(`serve exited: ${serveLog}`));
  }, 20);
});

// --- 100 mints in a shell loop ----------------------------------------------------------------
const loopStart = performance.now();
const loop = spawnSync('bash', ['-c', `for i in $(seq 100); do "${process.execPath}" "${BIN}" token mint bench --aud pack.lan >/dev/null || exit 1; done`], { env, encoding: 'utf8' });
const loopSeconds = (performance.now() - loopStart) / 1000;
if (loop.status !== 0) throw new Error(`the mint loop failed: ${loop.stderr}`);

// --- JWKS under load ----------------------------------------------------------------------------
const body = await (await fetch(`${url}/.well-known/jwks.json`)).text();
const peerScript = join(dir, 'peer.mjs');
writeFileSync(
  peerScript,
  `import http from 'node:http';
const body = Buffer.from(${JSON.stringify(body)});
const server = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'application/jwk-set+json', 'content-length': body.length }); res.end(body); });
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`,
);
const peer = spawn(process.execPath, [peerScript], { stdio: ['ignore', 'pipe', 'inherit'] });
const peerPort = await new Promise((resolvePromise) => peer.stdout.once('data', (chunk) => resolvePromise(Number(String(chunk).trim()))));
const servePort = Number(new URL(url).port);
const load = (port, pid) =>
  JSON.parse(
    execFileSync(process.execPath, [join(ROOT, 'bench/gateway-load.mjs'), JSON.stringify({ host: '127.0.0.1', port, path: '/.well-known/jwks.json', connections: 32, durationMs: seconds * 1000, warmupMs: 1000, rssPid: pid })], {
      encoding: 'utf8',
    }),
  );
const jwksRounds = [];
for (let r = 0; r < rounds; r++) jwksRounds.push({ serve: load(servePort, serve.pid), peer: load(peerPort, peer.pid) });
peer.kill();
serve.kill('SIGTERM');
await new Promise((resolvePromise) => serve.once('exit', resolvePromise));

// --- report -------------------------------------------------------------------------------------
console.log(`### agentauth serve (Node ${process.versions.node})\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`100 \`token mint\` in a bash loop through serve: ${loopSeconds.toFixed(2)} s (target: well under 10 s).\n`);
console.log(`GET /.well-known/jwks.json, 32 keep-alive connections, ${seconds} s per peer after 1 s warm-up, ${rounds} interleaved rounds (ratio: median of each round's):\n`);
console.log('| server | req/s (median) | req/s per round | p50 ms | p99 ms | CPU µs/req | RSS MiB (sampled peak) |');
console.log('|---|---|---|---|---|---|---|');
for (const [name, key] of [
  ['agentauth serve', 'serve'],
  ['minimal node:http, same bytes', 'peer'],
]) {
  const rows = jwksRounds.map((round) => round[key]);
  const pick = (field) => median(rows.map((row) => row[field]));
  console.log(
    `| ${name} | ${pick('rps').toFixed(0)} | ${rows.map((row) => row.rps.toFixed(0)).join(' / ')} | ${pick('p50').toFixed(2)} | ${pick('p99').toFixed(2)} | ${pick('cpuUsPerRequest')?.toFixed(0) ?? 'n/a'} | ${(Math.max(...rows.map((row) => row.rssMaxKiB)) / 1024).toFixed(1)} |`,
  );
}
const jwksRatio = median(jwksRounds.map((round) => round.serve.rps / round.peer.rps));
console.log(`\nserve ÷ minimal node:http: ${jwksRatio.toFixed(2)}× (target ≥ 0.8×); errors: ${jwksRounds.reduce((n, round) => n + round.serve.errors + round.serve.statusErrors, 0)}.`);
rmSync(dir, { recursive: true, force: true });
