// DPoP (RFC 9449) verification through createVerifier: a valid proof, every
// way a proof can be wrong, and proofs made by an independent implementation
// (Python's cryptography) that must verify too.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { createDpopProof, createReplayCache, generateDpopKey, hashToken, normaliseHtu, parseDpopKey, type DpopKey } from '../../../src/core/dpop.js';
import { createVerifier, VerifyError } from '../../../src/verify/index.js';
import { createTestIssuer, ISSUER, type TestIssuer } from '../../helpers/issuer.js';
import { skipWithout } from '../../helpers/prerequisites.js';
import { createPythonDpopKey, missingPythonCryptography } from '../../helpers/python-dpop.js';

const URL_ = 'https://pack.lan/api/restart';
const dir = mkdtempSync(join(tmpdir(), 'agentauth-dpop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function newKey(alg: 'EdDSA' | 'ES256' = 'EdDSA'): Promise<DpopKey> {
  const { privateJwk } = await generateDpopKey(alg);
  return parseDpopKey(JSON.stringify(privateJwk));
}

async function setup(alg: 'EdDSA' | 'ES256' = 'EdDSA') {
  const issuer: TestIssuer = await createTestIssuer();
  const key = await newKey(alg);
  const token = await issuer.mint({ cnf: { jkt: key.jkt } });
  const verifier = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks });
  return { issuer, key, token, verifier };
}

async function expectCode(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  const error = await promise.then(
    () => new Error('it verified'),
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(VerifyError);
  expect((error as VerifyError).code, (error as Error).message).toBe(code);
  if (message) expect((error as Error).message).toMatch(message);
}

/** A proof with any header and claims, signed by `signer` (default: the key itself). */
async function craftProof(key: DpopKey, header: Record<string, unknown>, claims: Record<string, unknown>, signer: CryptoKey = key.privateKey): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk, ...header } as never).sign(signer);
}

async function claimsFor(token: string, overrides: Record<string, unknown> = {}) {
  return { jti: crypto.randomUUID(), htm: 'POST', htu: URL_, iat: Math.floor(Date.now() / 1000), ath: await hashToken(token), ...overrides };
}

describe('a DPoP-bound token with a valid proof', () => {
  for (const alg of ['EdDSA', 'ES256'] as const) {
    it(`verifies with an ${alg} proof and names the key it is bound to`, async () => {
      const { key, token, verifier } = await setup(alg);
      const proof = await createDpopProof({ key, method: 'POST', url: URL_, token });
      const identity = await verifier.verify(token, { dpop: { proof, method: 'POST', url: URL_ } });
      expect(identity).toMatchObject({ agent: 'bot', jkt: key.jkt });
    });
  }

  it('ignores the query and fragment, and compares normalised URLs (RFC 9449 §4.3)', async () => {
    const { key, token, verifier } = await setup();
    const proof = await createDpopProof({ key, method: 'POST', url: 'HTTPS://Pack.LAN:443/api/%72estart?x=1', token });
    expect(JSON.parse(Buffer.from(proof.split('.')[1]!, 'base64url').toString()).htu).toBe('https://pack.lan/api/restart');
    await expect(verifier.verify(token, { dpop: { proof, method: 'POST', url: `${URL_}?page=2#top` } })).resolves.toBeTruthy();
    expect(normaliseHtu('http://h:80/a/../b/%7e%2f')).toBe('http://h/b/~%2F');
    expect(normaliseHtu('ftp://h/x')).toBeNull();
  });
});

describe('every faulty proof is refused', () => {
  it('wrong method, wrong URL', async () => {
    const { key, token, verifier } = await setup();
    const proof = await createDpopProof({ key, method: 'POST', url: URL_, token });
    await expectCode(verifier.verify(token, { dpop: { proof, method: 'GET', url: URL_ } }), 'ERR_DPOP_HTM_MISMATCH');
    await expectCode(verifier.verify(token, { dpop: { proof, method: 'POST', url: 'https://pack.lan/api/stop' } }), 'ERR_DPOP_HTU_MISMATCH');
    await expectCode(verifier.verify(token, { dpop: { proof, method: 'POST', url: 'https://evil.lan/api/restart' } }), 'ERR_DPOP_HTU_MISMATCH');
    await expectCode(verifier.verify(token, { dpop: { proof, method: 'POST', url: 'http://pack.lan/api/restart' } }), 'ERR_DPOP_HTU_MISMATCH');
    // None of these used up the proof's jti: the right request still passes.
    await expect(verifier.verify(token, { dpop: { proof, method: 'POST', url: URL_ } })).resolves.toBeTruthy();
  });

  it('a stale or future iat', async () => {
    const { key, token, verifier } = await setup();
    const now = Math.floor(Date.now() / 1000);
    await expectCode(verifier.verify(token, { dpop: { proof: await craftProof(key, {}, await claimsFor(token, { iat: now - 31 })), method: 'POST', url: URL_ } }), 'ERR_DPOP_IAT');
    await expectCode(verifier.verify(token, { dpop: { proof: await craftProof(key, {}, await claimsFor(token, { iat: now + 31 })), method: 'POST', url: URL_ } }), 'ERR_DPOP_IAT');
    await expect(verifier.verify(token, { dpop: { proof: await craftProof(key, {}, await claimsFor(token, { iat: now - 20 })), method: 'POST', url: URL_ } })).resolves.toBeTruthy();
  });

  it('a replayed proof (same jti)', async () => {
    const { key, token, verifier } = await setup();
    const proof = await createDpopProof({ key, method: 'POST', url: URL_, token });
    await verifier.verify(token, { dpop: { proof, method: 'POST', url: URL_ } });
    await expectCode(verifier.verify(token, { dpop: { proof, method: 'POST', url: URL_ } }), 'ERR_DPOP_REPLAY');
  });

  it('a proof for another token (ath), or without ath', async () => {
    const { issuer, key, token, verifier } = await setup();
    const other = await issuer.mint({ cnf: { jkt: key.jkt } });
    const proof = await createDpopProof({ key, method: 'POST', url: URL_, token: other });
    await expectCode(verifier.verify(token, { dpop: { proof, method: 'POST', url: URL_ } }), 'ERR_DPOP_ATH_MISMATCH');
    const noAth = await createDpopProof({ key, method: 'POST', url: URL_ });
    await expectCode(verifier.verify(token, { dpop: { proof: noAth, method: 'POST', url: URL_ } }), 'ERR_DPOP_ATH_MISMATCH');
  });

  it('a proof by a key other than cnf.jkt', async () => {
    const { token, verifier } = await setup();
    const thief = await newKey();
    const proof = await createDpopProof({ key: thief, method: 'POST', url: URL_, token });
    await expectCode(verifier.verify(token, { dpop: { proof, method: 'POST', url: URL_ } }), 'ERR_DPOP_KEY_MISMATCH');
  });

  it('a private key in the proof jwk, a wrong typ or alg, a jwk that did not sign it, no jwk', async () => {
    const issuer = await createTestIssuer();
    const { privateJwk } = await generateDpopKey('EdDSA');
    const key = await parseDpopKey(JSON.stringify(privateJwk));
    const token = await issuer.mint({ cnf: { jkt: key.jkt } });
    const verifier = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks });
    const request = async (proof: string) => verifier.verify(token, { dpop: { proof, method: 'POST', url: URL_ } });
    await expectCode(request(await craftProof(key, { jwk: privateJwk }, await claimsFor(token))), 'ERR_DPOP_PROOF_INVALID', /private key/);
    await expectCode(request(await craftProof(key, { typ: 'JWT' }, await claimsFor(token))), 'ERR_DPOP_PROOF_INVALID', /typ/);
    const { privateKey: other } = await generateKeyPair('Ed25519');
    await expectCode(request(await craftProof(key, {}, await claimsFor(token), other)), 'ERR_DPOP_PROOF_INVALID', /signature/);
    await expectCode(request(await craftProof(key, { jwk: undefined }, await claimsFor(token))), 'ERR_DPOP_PROOF_INVALID', /jwk/);
    const hs = await new SignJWT(await claimsFor(token)).setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256', jwk: key.publicJwk } as never).sign(new Uint8Array(32));
    await expectCode(request(hs), 'ERR_DPOP_PROOF_INVALID', /alg/);
    const none = `${Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'none', jwk: key.publicJwk })).toString('base64url')}.${Buffer.from(JSON.stringify(await claimsFor(token))).toString('base64url')}.`;
    await expectCode(request(none), 'ERR_DPOP_PROOF_INVALID', /alg/);
    const { jti: _jti, ...noJti } = await claimsFor(token);
    await expectCode(request(await craftProof(key, {}, noJti)), 'ERR_DPOP_PROOF_INVALID');
    await expectCode(request('not.a.proof'), 'ERR_DPOP_PROOF_INVALID');
    await expectCode(request(''), 'ERR_DPOP_PROOF_MISSING');
  });

  it('a proof with a token that is not bound, and a bound token without one', async () => {
    const { issuer, key, token, verifier } = await setup();
    const unbound = await issuer.mint();
    const proof = await createDpopProof({ key, method: 'POST', url: URL_, token: unbound });
    await expectCode(verifier.verify(unbound, { dpop: { proof, method: 'POST', url: URL_ } }), 'ERR_DPOP_NOT_BOUND');
    await expectCode(verifier.verify(token), 'ERR_DPOP_REQUIRED');
  });
});

describe('the replay cache', () => {
  it('forgets expired ids first, and stays within its size', () => {
    const cache = createReplayCache(2);
    expect(cache.remember('a', 100, 50)).toBe(true);
    expect(cache.remember('a', 100, 60)).toBe(false);
    expect(cache.remember('b', 70, 60)).toBe(true);
    // Full and nothing expired: 'c' evicts the oldest ('a'), which could then be
    // replayed, but only while its iat is still within the window.
    expect(cache.remember('c', 120, 60)).toBe(true);
    expect(cache.remember('b', 120, 61)).toBe(false);
    expect(cache.remember('a', 100, 61)).toBe(true);
    // {c: 120, a: 100}. At 110 'a' has expired: it goes, not the older but live 'c'.
    expect(cache.remember('d', 200, 110)).toBe(true);
    expect(cache.remember('c', 200, 111)).toBe(false);
  });
});

describe('proofs made by an independent implementation (Python cryptography)', () => {
  for (const alg of ['EdDSA', 'ES256'] as const) {
    it(`an ${alg} proof from Python verifies, and its thumbprint matches ours`, async (context) => {
      skipWithout(context, missingPythonCryptography());
      const python = createPythonDpopKey(dir, alg);
      const issuer = await createTestIssuer();
      const token = await issuer.mint({ cnf: { jkt: python.jkt } });
      const verifier = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks });
      const proof = python.proof('POST', URL_, token);
      await expect(verifier.verify(token, { dpop: { proof, method: 'POST', url: URL_ } })).resolves.toMatchObject({ jkt: python.jkt });
      await expectCode(verifier.verify(token, { dpop: { proof, method: 'POST', url: URL_ } }), 'ERR_DPOP_REPLAY');
      await expectCode(verifier.verify(token, { dpop: { proof: python.proof('GET', URL_, token), method: 'POST', url: URL_ } }), 'ERR_DPOP_HTM_MISMATCH');
    });
  }
});
