// agentauth/verify's createVerifier: every bad-token case of tokens.md, the
// pack options (audience per pack, agent allowlist), and the cache of
// verified signatures, which must never hide an expired token, a wrong
// audience or a retired key.
import { createHmac } from 'node:crypto';
import { exportJWK, generateKeyPair, UnsecuredJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createVerifier, VerifyError, type VerifierOptions } from '../../../src/verify/index.js';
import { agentClaims, createTestIssuer, ISSUER } from '../../helpers/issuer.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function expectCode(promise: Promise<unknown>, code: string, claim?: string): Promise<VerifyError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected ${code}, but it verified`);
    },
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(VerifyError);
  expect((error as VerifyError).code).toBe(code);
  if (claim) expect((error as VerifyError).claim).toBe(claim);
  // Library errors carry a code, never an exit code.
  expect(error).not.toHaveProperty('exitCode');
  return error as VerifyError;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('createVerifier accepts what agentauth mints', () => {
  it('resolves to the agent, subject, actor, scopes, jti and exp', async () => {
    const issuer = await createTestIssuer();
    const verifier = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks });
    const token = await issuer.mint({ jti: 'j1' });
    const identity = await verifier.verify(token, { scopes: ['docker:restart:nginx'] });
    expect(identity).toMatchObject({ agent: 'bot', sub: 'agent:bot', actor: undefined, scopes: ['docker:restart:nginx', 'email:send'], jti: 'j1', jkt: undefined });
    expect(identity.exp).toBeGreaterThan(Date.now() / 1000);
    expect(Object.isFrozen(identity.claims)).toBe(true);

    const onBehalf = await issuer.mint({ sub: 'user:alice', act: { sub: 'agent:bot' } });
    expect(await verifier.verify(onBehalf)).toMatchObject({ agent: 'bot', sub: 'user:alice', actor: 'agent:bot' });
  });

  it('a trailing * scope in the token grants the prefix', async () => {
    const issuer = await createTestIssuer();
    const verifier = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks, scopes: ['docker:restart:nginx'] });
    await expect(verifier.verify(await issuer.mint({ scope: 'docker:restart:*' }))).resolves.toMatchObject({ agent: 'bot' });
    await expectCode(verifier.verify(await issuer.mint({ scope: 'docker:stop:*' })), 'ERR_SCOPE_MISSING', 'scope');
  });

  it('refuses to start without an issuer or audience, or with a JWKS that is not one', async () => {
    const issuer = await createTestIssuer();
    expect(() => createVerifier({ audience: 'x', jwks: issuer.jwks } as unknown as VerifierOptions)).toThrow(/issuer is required/);
    expect(() => createVerifier({ issuer: ISSUER, jwks: issuer.jwks } as unknown as VerifierOptions)).toThrow(/audience is required/);
    expect(() => createVerifier({ issuer: 'urn:agentauth:pi', audience: 'x' })).toThrow(/jwks is required/);
    expect(() => createVerifier({ issuer: ISSUER, audience: 'x', jwks: { nope: 1 } as never })).toThrow(/not a JSON Web Key Set/);
  });
});

describe('every bad token of tokens.md is refused with its stable code', () => {
  it('edited payload, flipped signature, alg none, HS256 keyed with the public key', async () => {
    const issuer = await createTestIssuer();
    const verifier = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks });
    const token = await issuer.mint();
    const [h, p, s] = token.split('.');
    await expectCode(verifier.verify(`${h}.${b64({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), scope: 'admin' })}.${s}`), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    const sig = Buffer.from(s!, 'base64url');
    sig[5]! ^= 0x01;
    await expectCode(verifier.verify(`${h}.${p}.${sig.toString('base64url')}`), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    await expectCode(verifier.verify(new UnsecuredJWT(agentClaims()).encode()), 'ERR_JOSE_ALG_NOT_ALLOWED');
    const hsInput = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: issuer.kid })}.${p}`;
    const hsSig = createHmac('sha256', Buffer.from(String(issuer.jwks.keys[0]!['x']), 'base64url')).update(hsInput).digest('base64url');
    await expectCode(verifier.verify(`${hsInput}.${hsSig}`), 'ERR_JOSE_ALG_NOT_ALLOWED');
  });

  it('keys only from the pinned JWKS: foreign key under our kid, unknown kid, no kid, jwk/jku/x5u headers', async () => {
    const issuer = await createTestIssuer();
    const verifier = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks });
    const { privateKey } = await generateKeyPair('Ed25519', { extractable: true });
    const foreign = await createTestIssuer();
    // Signed by another key, but claiming our kid: the signature decides.
    await expectCode(foreign.sign(agentClaims(), { kid: issuer.kid }).then((t) => verifier.verify(t)), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    await expectCode(verifier.verify(await issuer.sign(agentClaims(), { kid: 'unknown' })), 'ERR_JWKS_NO_MATCHING_KEY');
    await expectCode(verifier.verify(await issuer.sign(agentClaims(), { kid: undefined })), 'ERR_JWKS_NO_MATCHING_KEY');
    await expectCode(verifier.verify(await issuer.sign(agentClaims(), { jwk: await exportJWK(privateKey) })), 'ERR_JOSE_HEADER_NOT_ALLOWED');
    await expectCode(verifier.verify(await issuer.sign(agentClaims(), { jku: 'https://evil.test/jwks' })), 'ERR_JOSE_HEADER_NOT_ALLOWED');
    await expectCode(verifier.verify(await issuer.sign(agentClaims(), { x5u: 'https://evil.test/cert' })), 'ERR_JOSE_HEADER_NOT_ALLOWED');
    await expectCode(verifier.verify('garbage'), 'ERR_JWS_INVALID');
    await expectCode(verifier.verify('e30.e30.'), 'ERR_JWS_INVALID');
    await expectCode(verifier.verify(42 as unknown as string), 'ERR_JWS_INVALID');
  });

  it('typ, exp, nbf, iss, aud (wrong, array), missing exp/iat/jti/sub, an empty jti, no agent', async () => {
    const issuer = await createTestIssuer();
    const verifier = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks });
    const now = Math.floor(Date.now() / 1000);
    const without = (name: string) => Object.fromEntries(Object.entries(agentClaims()).filter(([key]) => key !== name));
    await expectCode(verifier.verify(await issuer.sign(agentClaims(), { typ: 'JWT' })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'typ');
    await expectCode(verifier.verify(await issuer.mint({ exp: now - 31 })), 'ERR_JWT_EXPIRED', 'exp');
    await expectCode(verifier.verify(await issuer.mint({ nbf: now + 600 })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'nbf');
    await expectCode(verifier.verify(await issuer.mint({ iss: 'https://evil.test' })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'iss');
    await expectCode(verifier.verify(await issuer.mint({ aud: 'other.lan' })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'aud');
    await expectCode(verifier.verify(await issuer.mint({ aud: ['pack.lan', 'other.lan'] })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'aud');
    for (const claim of ['exp', 'iat', 'jti', 'sub', 'iss', 'aud']) {
      await expectCode(verifier.verify(await issuer.sign(without(claim))), 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim);
    }
    await expectCode(verifier.verify(await issuer.mint({ jti: '' })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'jti');
    await expectCode(verifier.verify(await issuer.mint({ exp: String(now + 900) })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'exp');
    await expectCode(verifier.verify(await issuer.mint({ iat: 'yesterday' })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'iat');
    // typ compares as a media type: case-insensitive, "application/" optional (RFC 8725 §3.11).
    expect(await verifier.verify(await issuer.sign(agentClaims(), { typ: 'application/AT+JWT' }))).toMatchObject({ agent: 'bot' });
    // A signed JWS whose payload is not a JSON object is not a JWT.
    const { CompactSign } = await import('jose');
    for (const payload of ['[1,2]', '"text"', 'not json']) {
      const jws = await new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: issuer.kid }).sign(issuer.privateKey);
      await expectCode(verifier.verify(jws), 'ERR_JWS_INVALID');
    }
    await expectCode(verifier.verify(await issuer.mint({ sub: 'user:alice' })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'sub');
    // Within the 30 s tolerance an expired token still passes; past it, not.
    await expect(verifier.verify(await issuer.mint({ exp: now - 10 }))).resolves.toBeTruthy();
    await expectCode(createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks, clockSkew: 0 }).verify(await issuer.mint({ exp: now - 10 })), 'ERR_JWT_EXPIRED');
  });

  it('a DPoP-bound token presented without a proof is refused', async () => {
    const issuer = await createTestIssuer();
    const verifier = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks });
    await expectCode(verifier.verify(await issuer.mint({ cnf: { jkt: 'A'.repeat(43) } })), 'ERR_DPOP_REQUIRED', 'cnf');
    await expectCode(verifier.verify(await issuer.mint({ cnf: { x5t: 'nope' } })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'cnf');
    const strict = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks, dpop: { required: true } });
    await expectCode(strict.verify(await issuer.mint()), 'ERR_DPOP_REQUIRED');
  });
});

describe('pack options', () => {
  it("option A, one audience per pack: 'pack.<name>' (or several)", async () => {
    const issuer = await createTestIssuer();
    const weather = createVerifier({ issuer: ISSUER, audience: 'pack.weather', jwks: issuer.jwks });
    await expect(weather.verify(await issuer.mint({ aud: 'pack.weather' }))).resolves.toMatchObject({ agent: 'bot' });
    await expectCode(weather.verify(await issuer.mint({ aud: 'pack.crm' })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'aud');
    const both = createVerifier({ issuer: ISSUER, audience: ['pack.weather', 'pack.crm'], jwks: issuer.jwks });
    await expect(both.verify(await issuer.mint({ aud: 'pack.crm' }))).resolves.toBeTruthy();
  });

  it('option B, an agent allowlist matched on the token agent, never on its display name', async () => {
    const issuer = await createTestIssuer();
    const verifier = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks, agents: ['home-monitor'] });
    await expect(verifier.verify(await issuer.mint({ sub: 'agent:home-monitor', client_id: 'home-monitor' }))).resolves.toMatchObject({ agent: 'home-monitor' });
    // Display name and client_id say home-monitor, but the token's agent is bot.
    await expectCode(verifier.verify(await issuer.mint({ al_name: 'home-monitor', client_id: 'home-monitor' })), 'ERR_AGENT_NOT_ALLOWED');
    // On behalf of a user: the agent is act.sub.
    await expect(verifier.verify(await issuer.mint({ sub: 'user:alice', act: { sub: 'agent:home-monitor' } }))).resolves.toMatchObject({ agent: 'home-monitor' });
    await expectCode(verifier.verify(await issuer.mint({ sub: 'user:home-monitor' })), 'ERR_AGENT_NOT_ALLOWED');
  });
});

describe('the cache of verified signatures', () => {
  /** A verifier on a fetched JWKS, and a count of Ed25519 signature checks (WebCrypto verify calls). */
  async function countingVerifier(options: Partial<VerifierOptions> = {}) {
    const issuer = await createTestIssuer();
    const fetchJwks = (async () => new Response(JSON.stringify(issuer.jwks), { headers: { 'cache-control': 'max-age=600' } })) as typeof fetch;
    const verifier = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: 'https://issuer.test/.well-known/jwks.json', fetch: fetchJwks, ...options });
    const subtle = vi.spyOn(crypto.subtle, 'verify');
    return { issuer, verifier, subtle, count: () => subtle.mock.calls.length };
  }

  it('a repeat verification skips the signature check, but never the claim checks', async () => {
    const { issuer, verifier, subtle, count } = await countingVerifier();
    try {
      const token = await issuer.mint();
      await verifier.verify(token);
      const after = count();
      expect(after).toBe(1);
      await verifier.verify(token);
      await verifier.verify(token, { scopes: ['email:send'] });
      expect(count()).toBe(1);
      // Claims still checked against the call's needs on a cached signature.
      await expectCode(verifier.verify(token, { scopes: ['docker:stop:nginx'] }), 'ERR_SCOPE_MISSING');
      // A wrong audience fails every time, cached or not.
      const other = await issuer.mint({ aud: 'other.lan' });
      await expectCode(verifier.verify(other), 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'aud');
      await expectCode(verifier.verify(other), 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'aud');
      expect(count()).toBe(2);
    } finally {
      subtle.mockRestore();
    }
  });

  it('never hides expiry: a cached token fails once its exp (plus skew) has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { issuer, verifier, subtle } = await countingVerifier();
    try {
      const token = await issuer.mint();
      await verifier.verify(token);
      vi.setSystemTime(Date.now() + 900_000 + 29_000);
      await expect(verifier.verify(token)).resolves.toBeTruthy();
      vi.setSystemTime(Date.now() + 2_000);
      await expectCode(verifier.verify(token), 'ERR_JWT_EXPIRED', 'exp');
    } finally {
      subtle.mockRestore();
    }
  });

  it('never outlives the key: once the JWKS drops the kid, the cached token fails', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const issuer = await createTestIssuer();
    let published: object = issuer.jwks;
    const fetchJwks = (async () => new Response(JSON.stringify(published), { headers: { 'cache-control': 'max-age=60' } })) as typeof fetch;
    const verifier = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: 'https://issuer.test/jwks', fetch: fetchJwks });
    const token = await issuer.mint();
    await verifier.verify(token);
    published = { keys: [] };
    await expect(verifier.verify(token)).resolves.toBeTruthy();
    vi.setSystemTime(Date.now() + 61_000);
    await expectCode(verifier.verify(token), 'ERR_JWKS_NO_MATCHING_KEY');
  });

  it('holds at most cacheSize tokens, and none with cacheSize 0', async () => {
    const { issuer, verifier, subtle, count } = await countingVerifier({ cacheSize: 2 });
    try {
      const [a, b, c] = await Promise.all([issuer.mint(), issuer.mint(), issuer.mint()]);
      for (const token of [a!, b!, c!]) await verifier.verify(token);
      expect(count()).toBe(3);
      await verifier.verify(c!);
      await verifier.verify(b!);
      expect(count()).toBe(3);
      await verifier.verify(a!); // evicted first
      expect(count()).toBe(4);
      const uncached = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks, cacheSize: 0 });
      await uncached.verify(a!);
      await uncached.verify(a!);
      expect(count()).toBe(6);
    } finally {
      subtle.mockRestore();
    }
  });

  it('forged tokens never enter the cache', async () => {
    const { issuer, verifier, subtle, count } = await countingVerifier();
    try {
      const token = await issuer.mint();
      const [h, p, s] = token.split('.');
      const sig = Buffer.from(s!, 'base64url');
      sig[0]! ^= 0x80;
      const forged = `${h}.${p}.${sig.toString('base64url')}`;
      await expectCode(verifier.verify(forged), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
      await expectCode(verifier.verify(forged), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
      expect(count()).toBe(2);
    } finally {
      subtle.mockRestore();
    }
  });
});

describe('minTrust: the agentauth_trust claim (docs/trust.md)', () => {
  const trust = (score: number) => ({ v: 1, score, log: { origin: 'agentauth.local/x', segment: 1, size: 12, root: 'ab'.repeat(32) }, components: {} });

  it('accepts a score at or above the minimum, refuses one below, a missing claim and a malformed one', async () => {
    const issuer = await createTestIssuer();
    const verifier = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks, minTrust: 600 });
    await expect(verifier.verify(await issuer.mint({ agentauth_trust: trust(600) }))).resolves.toMatchObject({ agent: 'bot' });
    await expectCode(verifier.verify(await issuer.mint({ agentauth_trust: trust(599) })), 'TRUST_TOO_LOW', 'agentauth_trust');
    await expectCode(verifier.verify(await issuer.mint({})), 'TRUST_MISSING', 'agentauth_trust');
    await expectCode(verifier.verify(await issuer.mint({ agentauth_trust: { ...trust(900), v: 2 } })), 'TRUST_MALFORMED', 'agentauth_trust');
    // Without minTrust the claim is ignored, as any unknown claim.
    const lax = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks });
    await expect(lax.verify(await issuer.mint({ agentauth_trust: trust(1) }))).resolves.toMatchObject({ agent: 'bot' });
  });

  it('a remembered signature does not skip the trust check, and a bad minTrust is refused at start', async () => {
    const issuer = await createTestIssuer();
    const token = await issuer.mint({ agentauth_trust: trust(100) });
    const lax = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks });
    const strict = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks, minTrust: 500 });
    await lax.verify(token);
    await expectCode(strict.verify(token), 'TRUST_TOO_LOW');
    await expectCode(strict.verify(token), 'TRUST_TOO_LOW');
    expect(() => createVerifier({ issuer: ISSUER, audience: 'x', jwks: issuer.jwks, minTrust: 1001 })).toThrow(/minTrust/);
    expect(() => createVerifier({ issuer: ISSUER, audience: 'x', jwks: issuer.jwks, minTrust: 0.5 })).toThrow(/minTrust/);
  });
});
