// In-process token verification throughput, against raw node:crypto Ed25519
// verify in the same run: the library agentauth/verify (every check of
// tokens.md) on fresh tokens and on a token it has verified before, and the
// CLI's verifier (src/core/token-verify.ts) one at a time and 32 in flight.
// Rounds interleave the peers so machine noise hits all alike; ratios are the
// median of each round's ratio.
// Usage: node bench/verify.mjs [--rounds N]   (prints markdown)
import { createHash, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { webcrypto } from 'node:crypto';
import { importJWK, jwtVerify } from 'jose';
import { createTokenVerifier } from '../dist/lib.js';
import { createVerifier } from '../dist/verify.js';

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 5;
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const jwk = publicKey.export({ format: 'jwk' });
const kid = createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${jwk.x}"}`).digest('base64url');
const jwks = { keys: [{ ...jwk, kid, alg: 'EdDSA', use: 'sig' }] };
const b = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = Math.floor(Date.now() / 1000);

function makeToken() {
  const input = `${b({ alg: 'EdDSA', typ: 'at+jwt', kid })}.${b({ iss: 'urn:agentauth:bench', sub: 'agent:bench', aud: 'pack.lan', iat: now, nbf: now, exp: now + 3600, jti: randomBytes(16).toString('base64url'), client_id: 'bench', agent_id: 'agent:bench', scope: 'docker:restart:nginx' })}`;
  return { input, signature: sign(null, Buffer.from(input), privateKey), token: '' };
}
const one = makeToken();
one.token = `${one.input}.${one.signature.toString('base64url')}`;
// Fresh tokens: never seen before by the library's cache (more of them than it holds).
const fresh = Array.from({ length: 20_000 }, () => {
  const t = makeToken();
  return `${t.input}.${t.signature.toString('base64url')}`;
});

const options = { issuer: 'urn:agentauth:bench', audience: 'pack.lan', scopes: ['docker:restart:nginx'] };
const library = createVerifier({ ...options, jwks });
const core = createTokenVerifier({ keys: jwks, ...options });

async function measure(fn, ms = 600) {
  for (let i = 0; i < 200; i++) await fn(i);
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) await fn(n + i);
    n += 50;
  }
  return n / (ms / 1000);
}

async function measureConcurrent(fn, inFlight = 32, ms = 600) {
  await Promise.all(Array.from({ length: 200 }, (_, i) => fn(i)));
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await Promise.all(Array.from({ length: inFlight }, (_, i) => fn(n + i)));
    n += inFlight;
  }
  return n / (ms / 1000);
}

// Where the time of a fresh verification goes: WebCrypto's verify alone, and jose's jwtVerify
// alone with the key already imported (jose verifies through WebCrypto: the mandated path).
const cryptoKey = await importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA');
const signingInput = Buffer.from(one.input);
let cursor = 0;
const peers = {
  raw: () => measure(() => verify(null, Buffer.from(one.input), publicKey, one.signature)),
  libraryFresh: () => measure(() => library.verify(fresh[cursor++ % fresh.length])),
  libraryCached: () => measure(() => library.verify(one.token)),
  subtle: () => measure(() => webcrypto.subtle.verify('Ed25519', cryptoKey, one.signature, signingInput)),
  jose: () => measure((i) => jwtVerify(fresh[i % fresh.length], cryptoKey, { algorithms: ['EdDSA'], typ: 'at+jwt' })),
  coreOne: () => measure(() => core(one.token)),
  coreConcurrent: () => measureConcurrent(() => core(one.token)),
};
const results = Object.fromEntries(Object.keys(peers).map((name) => [name, []]));
for (let r = 0; r < rounds; r++) for (const [name, run] of Object.entries(peers)) results[name].push(await run());

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const ratio = (name) => median(results[name].map((value, i) => value / results.raw[i]));
const rows = [
  ['node:crypto Ed25519 verify (signature only)', 'raw', '—'],
  ['agentauth/verify `verify`, a fresh token each time, one at a time', 'libraryFresh', '≥ 0.6×'],
  ['agentauth/verify `verify`, the same token again (signature cache), one at a time', 'libraryCached', '≥ 10×'],
  ['… of which: WebCrypto `subtle.verify` alone (what jose calls)', 'subtle', '—'],
  ['… of which: jose `jwtVerify` alone, key imported, fresh tokens', 'jose', '—'],
  ['CLI verifier (no cache), one at a time', 'coreOne', '—'],
  ['CLI verifier (no cache), 32 in flight', 'coreConcurrent', '—'],
];
console.log(`### In-process verification (Node ${process.versions.node}, ${rounds} interleaved rounds of 0.6 s per peer)\n`);
console.log('| verifier | ops/s (median) | ratio to raw (median of rounds) | target |');
console.log('|---|---|---|---|');
for (const [label, name, target] of rows) {
  console.log(`| ${label} | ${median(results[name]).toFixed(0)} | ${name === 'raw' ? '1.00×' : `${ratio(name).toFixed(2)}×`} | ${target} |`);
}
