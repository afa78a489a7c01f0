// Gateway throughput, latency, memory and SSE time-to-first-byte, against its
// peers measured in the same run on the same machine:
//   direct upstream · a plain Node hop that rewrites one header (HTTP, and
//   terminating TLS for HTTPS) · the gateway
//   (through the built CLI: `agentauth run -- <load generator>`, audit on) ·
//   mitmproxy with a header-rewriting addon, when `mitmdump` is installed.
// Usage: node bench/gateway.mjs [--seconds N] [--connections N] [--rounds N] [--only hop,gateway,…]   (needs `npm run build`)
//   --only measures just the named peers (direct, hop, gateway, mitm, directTls, hopTls, gatewayTls, mitmTls) and skips the report.
// Prints a markdown table. Loopback only; every loop is bounded in time.
// The machine is shared and noisy: peers are measured in interleaved rounds
// and each figure is the median over rounds (RSS: the peak over rounds).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/agentauth.js');
const LOAD = join(ROOT, 'bench/gateway-load.mjs');
const SERVERS = join(ROOT, 'bench/gateway-servers.mjs');
const arg = (name, fallback) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback);
const seconds = arg('--seconds', 5);
const connections = arg('--connections', 32);
const rounds = arg('--rounds', 3);
const only = process.argv.includes('--only') ? new Set(process.argv[process.argv.indexOf('--only') + 1].split(',')) : null;
const REAL = 'sk-bench-REAL-0123456789abcdef0123';
const PH = 'aa-ph-bench-placeholder';
const HOST = '127.0.0.2';

const dir = mkdtempSync(join(tmpdir(), 'agentauth-gwbench-'));
const children = [];
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function startServer(args) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolveReady, reject) => {
    child.stdout.once('data', (chunk) => resolveReady({ ...JSON.parse(chunk.toString().split('\n')[0]), pid: child.pid }));
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}`)));
  });
}

function freePort() {
  return new Promise((resolvePort) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

async function waitForPort(port, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolveTry) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolveTry(true);
      });
      socket.on('error', () => resolveTry(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} never opened`);
}

function load(options, wrapper = []) {
  const json = JSON.stringify({ connections, durationMs: seconds * 1000, warmupMs: 1000, ...options });
  const [cmd, ...rest] = wrapper.length ? wrapper : [process.execPath];
  const args = wrapper.length ? [...rest, process.execPath, LOAD, json] : [LOAD, json];
  const out = execFileSync(cmd, args, { env: wrapper.length ? homeEnv : process.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20, timeout: (seconds + 60) * 1000 });
  return JSON.parse(out.trim().split('\n').at(-1));
}

// --- fixtures: certificate, upstream, install ---------------------------------
const keyFile = join(dir, 'up-key.pem');
const certFile = join(dir, 'up-cert.pem');
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${HOST}`, '-addext', `subjectAltName=IP:${HOST}`], { stdio: 'ignore' });
const upstream = await startServer([SERVERS, 'upstream', JSON.stringify({ host: HOST, key: REAL, keyFile, certFile })]);
const passFile = join(dir, 'pass');
writeFileSync(passFile, 'bench passphrase\n', { mode: 0o600 });
const homeEnv = { PATH: process.env.PATH, HOME: dir, LANG: 'C.UTF-8', AGENTAUTH_HOME: join(dir, 'aa'), AGENTAUTH_PASSPHRASE_FILE: passFile };
const cli = (args, input) => execFileSync(process.execPath, [BIN, ...args], { env: homeEnv, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
cli(['init', '--backend', 'file', '--yes']);
cli(['agent', 'add', 'bench', '--scope', 'bench:run']);
cli(['secret', 'add', 'up', '--host', `http://${HOST}:${upstream.http}`, '--header', 'Authorization', '--format', 'Bearer {}', '--env', 'UP_KEY'], REAL);
cli(['secret', 'add', 'ups', '--host', `${HOST}:${upstream.https}`, '--header', 'Authorization', '--format', 'Bearer {}', '--env', 'UPS_KEY'], REAL);
cli(['grant', 'bench', 'up']);
cli(['grant', 'bench', 'ups']);
// The gateway alone: the sandbox around the child has its own suite (bench/sandbox.mjs), and the
// load generator reads the process it measures from /proc, which a sandboxed child cannot.
const run = [process.execPath, BIN, 'run', '--agent', 'bench', '--no-sandbox', '--upstream-ca', certFile, '--'];
// An install's first run creates the gateway CA (once); measured runs find it, as a user's do.
execFileSync(run[0], [...run.slice(1), 'true'], { env: homeEnv, stdio: 'ignore' });

const hop = await startServer([SERVERS, 'hop', JSON.stringify({ key: REAL, placeholder: PH })]);
const hopTls = await startServer([SERVERS, 'hopTls', JSON.stringify({ key: REAL, placeholder: PH, keyFile, certFile })]);

let mitm = null;
const hasMitm = spawnSync('sh', ['-c', 'command -v mitmdump']).status === 0;
if (hasMitm) {
  const port = await freePort();
  const confdir = join(dir, 'mitm');
  const addon = join(dir, 'swap.py');
  writeFileSync(addon, `def request(flow):\n    if flow.request.headers.get("authorization") == "Bearer ${PH}":\n        flow.request.headers["authorization"] = "Bearer ${REAL}"\n`);
  const child = spawn('mitmdump', ['--listen-host', '127.0.0.1', '--listen-port', String(port), '-q', '-s', addon, '--set', `confdir=${confdir}`, '--set', `ssl_verify_upstream_trusted_ca=${certFile}`], { stdio: 'ignore' });
  children.push(child);
  await waitForPort(port);
  mitm = { port, ca: join(confdir, 'mitmproxy-ca-cert.pem'), pid: child.pid };
  if (!existsSync(mitm.ca)) mitm = null;
}

// --- measurements ------------------------------------------------------------
const rows = [];
const results = {};
const samples = {};
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
function measure(name, label, options, wrapper) {
  if (only && !only.has(name)) return;
  const result = load(options, wrapper);
  (samples[name] ??= { label, runs: [] }).runs.push(result);
  console.error(`  ${label}: ${result.rps.toFixed(0)} req/s, p99 ${result.p99.toFixed(2)} ms${result.rssMaxKiB ? `, RSS ${(result.rssMaxKiB / 1024).toFixed(1)} MiB` : ''}${result.cpuUsPerRequest ? `, CPU ${result.cpuUsPerRequest.toFixed(0)} µs/req` : ''}`);
}

const http = { host: HOST, port: upstream.http, path: '/v1/bench' };
const tlsTarget = { host: HOST, port: upstream.https, path: '/v1/bench', https: true };
for (let round = 1; round <= rounds; round += 1) {
  console.error(`round ${round}/${rounds}`);
  measure('direct', 'HTTP: direct to upstream', { ...http, key: REAL });
  measure('hop', 'HTTP: plain Node hop (rewrites one header)', { ...http, via: 'absolute', proxy: `http://127.0.0.1:${hop.port}`, key: PH, rssPid: hop.pid });
  measure('gateway', 'HTTP: agentauth gateway (audit on)', { ...http, via: 'absolute', envProxy: true, keyEnv: 'UP_KEY', rssOfParent: true }, run);
  if (mitm) measure('mitm', 'HTTP: mitmproxy (header-rewriting addon)', { ...http, via: 'absolute', proxy: `http://127.0.0.1:${mitm.port}`, key: PH, rssPid: mitm.pid });
  measure('directTls', 'HTTPS: direct to upstream', { ...tlsTarget, ca: certFile, key: REAL });
  measure('hopTls', 'HTTPS: plain Node hop, TLS terminated (rewrites one header)', { ...tlsTarget, via: 'connect', proxy: `http://127.0.0.1:${hopTls.port}`, ca: certFile, key: PH, rssPid: hopTls.pid });
  measure('gatewayTls', 'HTTPS: agentauth gateway, TLS terminated (audit on)', { ...tlsTarget, via: 'connect', envProxy: true, keyEnv: 'UPS_KEY', ca: join(dir, 'aa', 'ca.pem'), rssOfParent: true }, run);
  if (mitm) measure('mitmTls', 'HTTPS: mitmproxy, TLS terminated', { ...tlsTarget, via: 'connect', proxy: `http://127.0.0.1:${mitm.port}`, ca: mitm.ca, key: PH, rssPid: mitm.pid });
}
if (only) process.exit(0);
const mib = (kib) => (kib ? (kib / 1024).toFixed(1) : '');
for (const [name, { label, runs }] of Object.entries(samples)) {
  // A run of the gateway is a fresh process: the first TLS one issues the
  // host's leaf (loading the X.509 writer); later runs reuse it from the keystore.
  const steady = name === 'gatewayTls' && runs.length > 1 ? runs.slice(1) : runs;
  const result = {
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    cpu: runs.every((r) => r.cpuUsPerRequest) ? median(runs.map((r) => r.cpuUsPerRequest)) : null,
    errors: runs.reduce((sum, r) => sum + r.errors + r.statusErrors, 0),
    rssMaxKiB: Math.max(...steady.map((r) => r.rssMaxKiB ?? 0)),
    hwmKiB: Math.max(...steady.map((r) => r.hwmKiB ?? 0)),
    firstRssKiB: runs[0].rssMaxKiB ?? 0,
    firstHwmKiB: runs[0].hwmKiB ?? 0,
    all: runs.map((r) => r.rps.toFixed(0)).join(' / '),
  };
  results[name] = result;
  rows.push([label, result.rps.toFixed(0), result.all, result.p50.toFixed(2), result.p99.toFixed(2), result.cpu ? result.cpu.toFixed(0) : '', String(result.errors), result.rssMaxKiB ? `${mib(result.rssMaxKiB)} / ${mib(result.hwmKiB)}` : '']);
}

const ttfbDirect = load({ ...tlsTarget, path: '/sse', ca: certFile, key: REAL, ttfb: true });
const ttfbGateway = load({ ...tlsTarget, path: '/sse', via: 'connect', envProxy: true, keyEnv: 'UPS_KEY', ca: join(dir, 'aa', 'ca.pem'), ttfb: true }, run);

// --- report ------------------------------------------------------------------
// Peers of a round are measured back to back, so each round gives a ratio
// taken on the machine as it was then; the median of those is the figure
// (steadier than a ratio of medians when the machine's speed drifts).
const ratio = (a, b) => {
  const ours = samples[a]?.runs;
  const theirs = samples[b]?.runs;
  if (!ours || !theirs) return NaN;
  return median(ours.map((run, i) => (theirs[i] ? run.rps / theirs[i].rps : NaN)).filter(Number.isFinite));
};
const fmt = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : 'n/a');
const check = (ok) => (ok === null ? 'n/a' : ok ? 'met' : 'NOT met');
const rssMiB = Math.max(results.gateway.rssMaxKiB, results.gatewayTls.rssMaxKiB) / 1024;
const cpuRatio = results.gateway.cpu && results.hop.cpu ? results.gateway.cpu / results.hop.cpu : NaN;
const cpuRatioTls = results.gatewayTls.cpu && results.hopTls?.cpu ? results.gatewayTls.cpu / results.hopTls.cpu : NaN;
// Memory against the hop on the same Node: both are Node processes serving the same load.
const rssRatio = results.hop.rssMaxKiB ? results.gateway.rssMaxKiB / results.hop.rssMaxKiB : NaN;
const rssRatioTls = results.hopTls?.rssMaxKiB ? results.gatewayTls.rssMaxKiB / results.hopTls.rssMaxKiB : NaN;
const targets = [
  ['gateway ÷ direct (HTTP / HTTPS), for scale', `${fmt(ratio('gateway', 'direct'))} / ${fmt(ratio('gatewayTls', 'directTls'))}`, '—', ''],
  ['gateway ÷ plain Node hop (HTTP)', fmt(ratio('gateway', 'hop')), '≥ 0.9×', check(ratio('gateway', 'hop') >= 0.9)],
  ['gateway ÷ plain Node hop (HTTPS, both terminating TLS)', fmt(ratio('gatewayTls', 'hopTls')), '≥ 0.9×', check(ratio('gatewayTls', 'hopTls') >= 0.9)],
  ['… CPU per request ÷ the hop\'s, medians (HTTP / HTTPS; lower is cheaper)', `${fmt(cpuRatio)} / ${fmt(cpuRatioTls)}`, '—', ''],
  ['gateway ÷ mitmproxy (HTTP)', mitm ? fmt(ratio('gateway', 'mitm')) : 'mitmproxy unavailable', '≥ 8×', mitm ? check(ratio('gateway', 'mitm') >= 8) : 'n/a'],
  ['gateway ÷ mitmproxy (HTTPS termination)', mitm ? fmt(ratio('gatewayTls', 'mitmTls')) : 'mitmproxy unavailable', '≥ 8×', mitm ? check(ratio('gatewayTls', 'mitmTls') >= 8) : 'n/a'],
  ['gateway RSS ÷ plain Node hop RSS, sampled peaks (HTTP / HTTPS)', `${fmt(rssRatio)} / ${fmt(rssRatioTls)}`, '≤ 1.2×', check(rssRatio <= 1.2 && rssRatioTls <= 1.2)],
  ['gateway p99 (HTTP / HTTPS)', `${results.gateway.p99.toFixed(2)} / ${results.gatewayTls.p99.toFixed(2)} ms`, '≤ 15 ms', check(results.gateway.p99 <= 15 && results.gatewayTls.p99 <= 15)],
  [`gateway RSS under ${connections} connections, peak sampled every 100 ms (HTTP / HTTPS)`, `${mib(results.gateway.rssMaxKiB)} / ${mib(results.gatewayTls.rssMaxKiB)} MiB`, '≤ 80 MiB', rssMiB ? check(rssMiB <= 80) : 'n/a'],
  ['… the kernel\'s high-water mark, set-up included (HTTP / HTTPS)', `${mib(results.gateway.hwmKiB)} / ${mib(results.gatewayTls.hwmKiB)} MiB`, '—', ''],
  ['… the first HTTPS run, which issues the host\'s leaf (sampled / high-water)', `${mib(results.gatewayTls.firstRssKiB)} / ${mib(results.gatewayTls.firstHwmKiB)} MiB`, '—', ''],
  ['… for scale: plain Node hop HTTP / HTTPS / mitmproxy, same load (sampled)', `${mib(results.hop.rssMaxKiB)} / ${mib(results.hopTls?.rssMaxKiB)} / ${mitm ? `${mib(Math.max(results.mitm.rssMaxKiB, results.mitmTls.rssMaxKiB))} MiB` : 'n/a'}`, '—', ''],
  ['SSE time to first byte, median (direct / gateway)', `${ttfbDirect.median.toFixed(2)} / ${ttfbGateway.median.toFixed(2)} ms`, '≤ direct + 5 ms', check(ttfbGateway.median - ttfbDirect.median <= 5)],
];
const table = (header, body) => [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...body.map((row) => `| ${row.join(' | ')} |`)].join('\n');
console.log(`## gateway

${connections} keep-alive connections, ${seconds} s per peer after 1 s warm-up, ${rounds} interleaved round(s), median shown (ratios: the median of each round's ratio; RSS: the largest over rounds; for the TLS-terminating gateway, over the rounds after the first, which issues the host's leaf certificate; a warm-up run created the install's CA before), loopback, Node ${process.versions.node}, ${cpus().length} CPU(s); load generator, proxy and upstream share the machine's cores.${mitm ? '' : ' mitmproxy: not installed (`apt-get install mitmproxy`), so its rows are missing.'}

${table(['path', 'req/s (median)', 'req/s per round', 'p50 ms', 'p99 ms', 'proxy CPU µs/req', 'errors', 'proxy RSS MiB: sampled peak / high-water'], rows)}

${table(['target', 'measured', 'goal', ''], targets)}
`);
process.exit(0);
