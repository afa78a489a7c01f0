#!/usr/bin/env node
// Audit log benchmarks; prints a markdown table on stdout.
//   node bench/audit.mjs            1M and 2M events (generation takes ~40 s the first time)
//   node bench/audit.mjs --quick    100k and 200k events
// Needs `npm run build` (it runs the real CLI, whole process, like a user would).
// Logs are cached in $AUDIT_BENCH_DIR (default: the OS temp dir).
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, readSync, readFileSync, rmSync, fstatSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import canonicalize from 'canonicalize';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const bin = join(root, 'bin/agentauth.js');

// ---- sub-modes, run as separate processes so every figure is a whole process ----
function* lines(file) {
  const fd = openSync(file, 'r');
  const size = fstatSync(fd).size;
  let carry = Buffer.alloc(0);
  const buf = Buffer.allocUnsafe(1 << 20);
  for (let pos = 0; pos < size; ) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    pos += n;
    const data = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
    let start = 0;
    for (let lf = data.indexOf(10); lf !== -1; lf = data.indexOf(10, start)) {
      yield data.toString('utf8', start, lf);
      start = lf + 1;
    }
    carry = Buffer.from(data.subarray(start));
  }
  closeSync(fd);
}

if (process.argv[2] === '--json-parse') {
  let count = 0;
  for (const line of lines(process.argv[3])) {
    JSON.parse(line);
    count++;
  }
  process.stdout.write(`${count}\n`);
  process.exit(0);
}

if (process.argv[2] === '--naive') {
  // The obvious verifier: parse, canonicalize, compare, hash, link, tree. No signatures (that favours it).
  let count = 0;
  let prev = null;
  const frontier = [];
  let size = 0;
  const node = (l, r) => createHash('sha256').update(Buffer.from([1])).update(l).update(r).digest();
  for (const line of lines(process.argv[3])) {
    const value = JSON.parse(line);
    if (canonicalize(value) !== line) throw new Error(`not canonical at ${count}`);
    count++;
    if (value.kind === 'checkpoint') continue;
    const leaf = createHash('sha256').update(Buffer.from([0])).update(line).digest();
    if (value.prev !== prev) throw new Error(`bad prev at ${count}`);
    prev = leaf.toString('hex');
    let h = leaf;
    for (let n = size; n & 1; n >>= 1) h = node(frontier.pop(), h);
    frontier.push(h);
    size++;
  }
  process.stdout.write(`${count}\n`);
  process.exit(0);
}

// ---- the benchmark ----
const quick = process.argv.includes('--quick');
const sizes = quick ? [100_000, 200_000] : [1_000_000, 2_000_000];
const dir = process.env.AUDIT_BENCH_DIR ?? join(tmpdir(), 'agentauth-bench');
execFileSync('mkdir', ['-p', dir]);
const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const hasTime = existsSync('/usr/bin/time');

function generate(events) {
  const file = join(dir, `audit-${events}.jsonl`);
  const meta = join(dir, `audit-${events}.json`);
  if (!existsSync(meta)) {
    process.stderr.write(`generating ${events} events…\n`);
    const out = execFileSync(process.execPath, [join(here, 'audit-gen.mjs'), '--out', file, '--events', String(events)]);
    execFileSync('sh', ['-c', `cat > ${JSON.stringify(meta)}`], { input: out });
  }
  return { file, ...JSON.parse(readFileSync(meta, 'utf8')) };
}

/** Runs a whole process; returns seconds and peak RSS (MiB). */
function measure(args, { oneCore = false } = {}) {
  const command = [...(oneCore && hasTaskset ? ['taskset', '-c', '0'] : []), process.execPath, ...args];
  const env = { ...process.env, AGENTAUTH_HOME: join(dir, 'no-install') };
  if (hasTime) {
    const started = process.hrtime.bigint();
    const result = spawnSync('/usr/bin/time', ['-f', '%M', ...command], { env, maxBuffer: 1 << 26 });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (result.status !== 0) throw new Error(`${command.join(' ')} failed: ${result.stderr}`);
    const rss = Number(String(result.stderr).trim().split('\n').at(-1)) / 1024;
    return { seconds, rss, stdout: String(result.stdout) };
  }
  const started = process.hrtime.bigint();
  const result = spawnSync(command[0], command.slice(1), { env, maxBuffer: 1 << 26 });
  if (result.status !== 0) throw new Error(`${command.join(' ')} failed: ${result.stderr}`);
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, rss: NaN, stdout: String(result.stdout) };
}

const rows = [];
const fmt = (n) => Math.round(n).toLocaleString('en-US');
for (const events of sizes) {
  const log = generate(events);
  const lineCount = events + Math.ceil(events / 1000);
  const verify = ['audit', 'verify', log.file, '--vkey', log.vkey, '--json'];
  const two = measure([bin, ...verify]);
  const report = JSON.parse(two.stdout);
  if (!report.ok || report.events !== events) throw new Error('the generated log did not verify');
  const one = measure([bin, ...verify], { oneCore: true });
  const naive = measure([fileURLToPath(import.meta.url), '--naive', log.file]);
  const parse = measure([fileURLToPath(import.meta.url), '--json-parse', log.file]);
  const mb = log.bytes / 2 ** 20;
  rows.push([`audit verify, ${fmt(events)} events (${fmt(mb)} MiB), ${report.threads + 1} threads`, `${fmt(lineCount / two.seconds)} lines/s`, `${two.seconds.toFixed(2)} s`, `${two.rss.toFixed(0)} MiB`]);
  rows.push([`audit verify, ${fmt(events)} events, one core${hasTaskset ? ' (taskset)' : ''}`, `${fmt(lineCount / one.seconds)} lines/s`, `${one.seconds.toFixed(2)} s`, `${one.rss.toFixed(0)} MiB`]);
  rows.push([`naive verifier (JSON.parse + canonicalize + sha256, no signatures), ${fmt(events)}`, `${fmt(lineCount / naive.seconds)} lines/s (verify is ×${(naive.seconds / two.seconds).toFixed(1)})`, `${naive.seconds.toFixed(2)} s`, `${naive.rss.toFixed(0)} MiB`]);
  rows.push([`plain JSON.parse of every line, ${fmt(events)}`, `${fmt(lineCount / parse.seconds)} lines/s (verify is ×${(parse.seconds / two.seconds).toFixed(1)})`, `${parse.seconds.toFixed(2)} s`, `${parse.rss.toFixed(0)} MiB`]);
}

// Append latency (lock + write + fsync), in-process, through the real writer bundled on the fly.
const { build } = await import('esbuild');
const work = mkdtempSync(join(tmpdir(), 'agentauth-bench-append-'));
try {
  const entry = join(work, 'entry.mjs');
  await build({
    stdin: {
      contents: `export { appendEvents } from ${JSON.stringify(join(root, 'src/core/audit/writer.ts'))};
export { createAuditAppender } from ${JSON.stringify(join(root, 'src/core/audit/appender.ts'))};
export { createLogKey, loadLogSigner } from ${JSON.stringify(join(root, 'src/core/audit/log-key.ts'))};`,
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: entry,
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'warning',
  });
  const { appendEvents, createAuditAppender, createLogKey, loadLogSigner } = await import(entry);
  const origin = 'agentauth.local/bench';
  const key = await createLogKey(origin);
  const signer = await loadLogSigner(key.privateJwk, origin);
  const file = join(work, 'audit.jsonl');
  const event = (i) => ({ kind: 'gateway.request', actor: { sub: 'agent:bench', jti: 'j1' }, data: { agent: 'bench', method: 'GET', host: 'api.github.com', path: `/x/${i}`, secret: 's', decision: 'allow', status: 200, ms: 3 } });
  await appendEvents(file, [{ kind: 'log.init', actor: { sub: 'user:bench' }, data: { origin, vkey: key.vkey } }], { origin, vkey: key.vkey });
  const samples = [];
  const n = quick ? 300 : 1000;
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await appendEvents(file, [event(i)], { origin, vkey: key.vkey, signer: () => signer });
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  samples.sort((a, b) => a - b);
  const pct = (p) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))];
  rows.push([`one-event append (lock + write + fsync), ${n} appends`, `median ${pct(0.5).toFixed(2)} ms`, `p99 ${pct(0.99).toFixed(2)} ms`, '']);
  // The fsync alone, on the same disk: what "acknowledged = written" costs per event.
  const raw = openSync(join(work, 'fsync-only'), 'a');
  const line = Buffer.from(`${JSON.stringify(event(0))}\n`);
  const syncs = [];
  for (let i = 0; i < n; i++) {
    writeSync(raw, line);
    const t = process.hrtime.bigint();
    fsyncSync(raw);
    syncs.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  closeSync(raw);
  syncs.sort((a, b) => a - b);
  rows.push([`of which the fsync of one ${line.length}-byte line alone (this disk), ${n} times`, `median ${syncs[Math.floor(n / 2)].toFixed(2)} ms`, `p99 ${syncs[Math.min(n - 1, Math.floor(0.99 * n))].toFixed(2)} ms`, '']);
  const appender = createAuditAppender({ file, origin, vkey: key.vkey, signer });
  const total = quick ? 20_000 : 100_000;
  const t = process.hrtime.bigint();
  // 256 requests in flight at a time, as a busy gateway would have.
  for (let done = 0; done < total; done += 256) await Promise.all(Array.from({ length: Math.min(256, total - done) }, (_, i) => appender.append(event(done + i))));
  await appender.close();
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  rows.push([`group-commit appender (gateway), ${fmt(total)} events, 256 in flight`, `${fmt(total / seconds)} events/s`, `${seconds.toFixed(2)} s`, '']);
  // After 1,000 events written by another process: a checkpoint (the writer first verifies the
  // log from the last checkpoint, then signs), and a rotation (the same check and seal, then the
  // new segment written, linked, renamed, fsynced).
  const afterThousand = async (extra) => {
    const times = [];
    for (let round = 0; round < (quick ? 5 : 15); round++) {
      const unsigned = createAuditAppender({ file, origin, vkey: key.vkey });
      await Promise.all(Array.from({ length: 1000 }, (_, i) => unsigned.append(event(i))));
      await unsigned.close();
      const started = process.hrtime.bigint();
      await appendEvents(file, [], { origin, vkey: key.vkey, signer: () => signer, ...extra });
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    times.sort((a, b) => a - b);
    return [`median ${times[Math.floor(times.length / 2)].toFixed(2)} ms`, `max ${times.at(-1).toFixed(2)} ms`, ''];
  };
  rows.push([`checkpoint after 1,000 events (check from the last checkpoint, sign, fsync)`, ...(await afterThousand({ forceCheckpoint: true }))]);
  rows.push([`audit rotate after 1,000 events (check, seal, new segment, link, rename)`, ...(await afterThousand({ rotate: true }))]);
} finally {
  rmSync(work, { recursive: true, force: true });
}

process.stdout.write(`| audit benchmark | throughput | time | peak RSS |\n|---|---|---|---|\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}\n`);
