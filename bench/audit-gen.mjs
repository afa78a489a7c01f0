#!/usr/bin/env node
// Generates a valid audit log of N events for benchmarks and the streaming
// test, WITHOUT agentauth's code: node:crypto, the canonicalize package and
// audit-log.md only. That agentauth verifies what this writes is itself a
// check that the spec is implementable from the text.
//
//   node bench/audit-gen.mjs --out FILE --events N [--every 1000] [--seed S]
// Prints {"vkey","origin","events","bytes"} as JSON on stdout.
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { openSync, writeSync, closeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import canonicalize from 'canonicalize';

export function generateLog({ out, events, every = 1000, seed = 'bench' }) {
  const origin = `agentauth.local/${createHash('sha256').update(seed).digest('hex').slice(0, 16)}`;
  // A deterministic Ed25519 key from the seed (PKCS#8 prefix for a raw 32-byte seed).
  const rawSeed = createHash('sha256').update(`key:${seed}`).digest();
  const privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), rawSeed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(12);
  const keyId = createHash('sha256').update(origin).update(Buffer.from([0x0a, 0x01])).update(publicKey).digest().subarray(0, 4);
  const vkey = `${origin}+${keyId.toString('hex')}+${Buffer.concat([Buffer.from([1]), publicKey]).toString('base64')}`;

  const fd = openSync(out, 'w', 0o600);
  const frontier = [];
  let size = 0;
  let prev = null;
  let bytes = 0;
  let pending = [];
  let pendingBytes = 0;
  const flush = () => {
    const text = pending.join('');
    writeSync(fd, text);
    bytes += Buffer.byteLength(text);
    pending = [];
    pendingBytes = 0;
  };
  const emit = (line) => {
    pending.push(`${line}\n`);
    pendingBytes += line.length;
    if (pendingBytes > 1 << 20) flush();
  };
  const node = (l, r) => createHash('sha256').update(Buffer.from([1])).update(l).update(r).digest();
  const root = () => {
    if (frontier.length === 0) return createHash('sha256').digest();
    let acc = frontier[frontier.length - 1];
    for (let i = frontier.length - 2; i >= 0; i--) acc = node(frontier[i], acc);
    return acc;
  };
  const start = Date.parse('2026-11-22T12:00:00.000Z');
  for (let seq = 0; seq < events; seq++) {
    const ts = new Date(start + seq * 7).toISOString();
    const agent = `agent-${seq % 17}`;
    let kind;
    let actor;
    let data;
    if (seq === 0) {
      kind = 'log.init';
      actor = { sub: 'user:bench' };
      data = { origin, vkey };
    } else if (seq % 10 === 1) {
      kind = 'token.mint';
      actor = { sub: 'user:bench' };
      data = { agent, aud: 'api.github.com', exp: Math.floor(start / 1000) + 900 + seq, jti: `jti-${seq}`, kid: 'k1', scope: 'repo:read issues:write' };
    } else {
      kind = 'gateway.request';
      actor = { jti: `jti-${seq - (seq % 10) + 1}`, sub: `agent:${agent}` };
      data = { agent, bytes_in: 512, bytes_out: 20480 + (seq % 1000), decision: 'allow', host: 'api.github.com', method: 'GET', ms: seq % 300, path: `/repos/acme/widgets/issues/${seq}`, rule: 'github', secret: 'github-token', status: 200 };
    }
    const line = canonicalize({ actor, data, kind, log: origin, prev, seq, ts, v: 1 });
    const leaf = createHash('sha256').update(Buffer.from([0])).update(line).digest();
    prev = leaf.toString('hex');
    let h = leaf;
    for (let n = size; n & 1; n >>= 1) h = node(frontier.pop(), h);
    frontier.push(h);
    size++;
    emit(line);
    if (size % every === 0 || seq === events - 1) {
      const r = root();
      const body = `${origin}\n${size}\n${r.toString('base64')}\n`;
      const sig = sign(null, Buffer.from(body), privateKey);
      const note = `${body}\n\u2014 ${origin} ${Buffer.concat([keyId, sig]).toString('base64')}\n`;
      emit(canonicalize({ kind: 'checkpoint', log: origin, note, root: r.toString('hex'), size, v: 1 }));
    }
  }
  flush();
  closeSync(fd);
  return { vkey, origin, events, bytes };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, events: { type: 'string' }, every: { type: 'string' }, seed: { type: 'string' } } });
  if (!values.out || !values.events) {
    process.stderr.write('usage: node bench/audit-gen.mjs --out FILE --events N [--every 1000] [--seed S]\n');
    process.exit(2);
  }
  const result = generateLog({ out: values.out, events: Number(values.events), every: Number(values.every ?? 1000), seed: values.seed ?? 'bench' });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
