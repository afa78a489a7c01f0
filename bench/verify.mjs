// In-process token verification throughput: agentauth's verifier (every
// check of tokens.md) against raw node:crypto Ed25519 verify, same run.
// Usage: node bench/verify.mjs   (prints a markdown table)
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { createTokenVerifier } from '../dist/lib.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const jwk = publicKey.export({ format: 'jwk' });
const { createHash } = await import('node:crypto');
const kid = createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${jwk.x}"}`).digest('base64url');
const b = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const input = `${b({ alg: 'EdDSA', typ: 'at+jwt', kid })}.${b({ iss: 'urn:agentauth:bench', sub: 'agent:bench', aud: 'pack.lan', iat: now, nbf: now, exp: now + 900, jti: randomBytes(16).toString('base64url'), scope: 'docker:restart:nginx' })}`;
const signature = sign(null, Buffer.from(input), privateKey);
const token = `${input}.${signature.toString('base64url')}`;

const verifyToken = createTokenVerifier({ keys: { keys: [{ ...jwk, kid, alg: 'EdDSA', use: 'sig' }] }, issuer: 'urn:agentauth:bench', audience: 'pack.lan', scopes: ['docker:restart:nginx'] });

async function measure(fn, ms = 1500) {
  for (let i = 0; i < 500; i++) await fn(); // warm-up
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) await fn();
    n += 100;
  }
  return n / (ms / 1000);
}

// A service verifies many requests at once; WebCrypto (which jose uses) runs
// them on libuv's thread pool, so concurrency is measured too.
async function measureConcurrent(fn, inFlight = 32, ms = 1500) {
  await Promise.all(Array.from({ length: 500 }, fn));
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await Promise.all(Array.from({ length: inFlight }, fn));
    n += inFlight;
  }
  return n / (ms / 1000);
}

const rounds = [];
for (let r = 0; r < 3; r++) {
  const raw = await measure(() => verify(null, Buffer.from(input), publicKey, signature));
  const ours = await measure(() => verifyToken(token));
  const oursConcurrent = await measureConcurrent(() => verifyToken(token));
  rounds.push({ raw, ours, oursConcurrent });
}
const best = (key) => Math.max(...rounds.map((r) => r[key]));
console.log(`### In-process verification (Node ${process.versions.node}, best of 3 rounds of 1.5 s)\n`);
console.log('| verifier | ops/s | ratio to raw |');
console.log('|---|---|---|');
console.log(`| node:crypto Ed25519 verify (signature only) | ${best('raw').toFixed(0)} | 1.00× |`);
console.log(`| agentauth verifyToken (all checks), one at a time | ${best('ours').toFixed(0)} | ${(best('ours') / best('raw')).toFixed(2)}× |`);
console.log(`| agentauth verifyToken (all checks), 32 in flight | ${best('oursConcurrent').toFixed(0)} | ${(best('oursConcurrent') / best('raw')).toFixed(2)}× |`);
