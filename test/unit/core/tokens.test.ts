import { createHash, createPublicKey, verify as verifyRaw } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import type { AgentRecord, Config } from '../../../src/core/config.js';
import { applyRotation, buildJwks, generateIssuerKey, type IssuerSigner } from '../../../src/core/issuer.js';
import { importJWK } from 'jose';
import { checkMintPolicy, createTokenVerifier, mintToken } from '../../../src/core/tokens.js';

const ISSUER = 'https://issuer.test';
const agent: AgentRecord = {
  name: 'home-monitor',
  scopes: ['docker:restart:*', 'email:send'],
  maxTtl: 3600,
  audiences: ['pack.lan', 'mail.lan'],
  grants: [],
  createdAt: '',
  updatedAt: '',
};

async function setup() {
  const now = new Date();
  const generated = await generateIssuerKey(now);
  const signer: IssuerSigner = { kid: generated.record.kid, key: (await importJWK(JSON.parse(generated.privateJwk), 'EdDSA')) as CryptoKey };
  const config = { keys: [generated.record], agents: { [agent.name]: agent } } as unknown as Config;
  return { generated, signer, config, jwks: buildJwks(config, Math.floor(now.getTime() / 1000)) };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('minting', () => {
  it('produces the header and claims of tokens.md', async () => {
    const { signer, jwks } = await setup();
    const minted = await mintToken({ agent, issuer: ISSUER, aud: 'pack.lan', scopes: ['docker:restart:nginx'], ttlSeconds: 600 }, signer);
    const [h, p] = minted.token.split('.');
    expect(JSON.parse(Buffer.from(h!, 'base64url').toString())).toEqual({ alg: 'EdDSA', typ: 'at+jwt', kid: signer.kid });
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    expect(claims).toMatchObject({
      iss: ISSUER,
      sub: 'agent:home-monitor',
      aud: 'pack.lan',
      client_id: 'home-monitor',
      agent_id: 'agent:home-monitor',
      scope: 'docker:restart:nginx',
      al_scopes: ['docker:restart:nginx'],
      al_name: 'home-monitor',
    });
    expect(claims.exp - claims.iat).toBe(600);
    expect(claims.nbf).toBe(claims.iat);
    expect(Buffer.from(claims.jti, 'base64url')).toHaveLength(16);
    expect(claims.act).toBeUndefined();
    const verified = await createTokenVerifier({ keys: jwks, issuer: ISSUER, audience: 'pack.lan', scopes: ['docker:restart:nginx'] })(minted.token);
    expect(verified.claims.jti).toBe(minted.jti);
  });

  it('--on-behalf-of makes sub the user and act.sub the agent (RFC 8693)', async () => {
    const { signer } = await setup();
    const minted = await mintToken({ agent, issuer: ISSUER, aud: 'pack.lan', onBehalfOf: 'alice' }, signer);
    const claims = JSON.parse(Buffer.from(minted.token.split('.')[1]!, 'base64url').toString());
    expect(claims.sub).toBe('user:alice');
    expect(claims.act).toEqual({ sub: 'agent:home-monitor' });
  });

  it('verifies with node:crypto alone, and the kid is the RFC 7638 thumbprint', async () => {
    const { signer, jwks } = await setup();
    const minted = await mintToken({ agent, issuer: ISSUER, aud: 'pack.lan' }, signer);
    const jwk = jwks.keys[0]!;
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    const thumbprint = createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${jwk.x}"}`).digest('base64url');
    expect(jwk.kid).toBe(thumbprint);
    const [h, p, s] = minted.token.split('.');
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
    expect(verifyRaw(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s!, 'base64url'))).toBe(true);
    expect(verifyRaw(null, Buffer.from(`${h}.${p}x`), key, Buffer.from(s!, 'base64url'))).toBe(false);
  });

  it('refuses, never narrows, anything beyond the entry (exit 5)', () => {
    expect(() => checkMintPolicy({ agent, issuer: ISSUER, aud: 'pack.lan', scopes: ['docker:stop:nginx'] })).toThrow(
      expect.objectContaining({ code: 'SCOPE_NOT_ALLOWED', kind: 'policy' }),
    );
    expect(() => checkMintPolicy({ agent, issuer: ISSUER, aud: 'pack.lan', ttlSeconds: 3601 })).toThrow(expect.objectContaining({ code: 'TTL_NOT_ALLOWED', kind: 'policy' }));
    expect(() => checkMintPolicy({ agent, issuer: ISSUER, aud: 'evil.lan' })).toThrow(expect.objectContaining({ code: 'AUDIENCE_NOT_ALLOWED', kind: 'policy' }));
    expect(checkMintPolicy({ agent, issuer: ISSUER, aud: 'evil.lan', skipAudienceCheck: true }).ttl).toBe(900);
    expect(checkMintPolicy({ agent: { ...agent, maxTtl: 300 }, issuer: ISSUER, aud: 'pack.lan' }).ttl).toBe(300);
  });
});

describe('verification rejects', () => {
  type Jwks = Awaited<ReturnType<typeof setup>>['jwks'];
  async function reject(jwks: Jwks, token: string, code: string, options: Partial<Parameters<typeof createTokenVerifier>[0]> = {}) {
    await expect(createTokenVerifier({ keys: jwks, issuer: ISSUER, ...options })(token)).rejects.toMatchObject({ code, name: 'VerifyError' });
  }

  it('an edited payload and a flipped signature bit', async () => {
    const { signer, jwks } = await setup();
    const { token } = await mintToken({ agent, issuer: ISSUER, aud: 'pack.lan' }, signer);
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const edited = `${h}.${b64({ ...claims, scope: 'admin' })}.${s}`;
    const sig = Buffer.from(s!, 'base64url');
    sig[10]! ^= 0x01;
    const verify = createTokenVerifier({ keys: jwks, issuer: ISSUER });
    await expect(verify(edited)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    await expect(verify(`${h}.${p}.${sig.toString('base64url')}`)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  it('alg none and HS256 keyed with the public key bytes', async () => {
    const { jwks } = await setup();
    const none = new UnsecuredJWT({ iss: ISSUER, sub: 'agent:x', aud: 'a', jti: 'j' }).setIssuedAt().setExpirationTime('5m').encode();
    const verify = createTokenVerifier({ keys: jwks, issuer: ISSUER });
    await expect(verify(none)).rejects.toMatchObject({ code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
    const hs = await new SignJWT({ iss: ISSUER, sub: 'agent:x', aud: 'a', jti: 'j' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jwks.keys[0]!.kid })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(Buffer.from(jwks.keys[0]!.x, 'base64url'));
    await expect(verify(hs)).rejects.toMatchObject({ code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
  });

  it('typ, exp, nbf, iss, aud, missing claims, unknown kid and embedded keys', async () => {
    const { signer, generated, jwks } = await setup();
    const now = Math.floor(Date.now() / 1000);
    const base = { iss: ISSUER, sub: 'agent:x', aud: 'pack.lan', iat: now, exp: now + 300, jti: 'abc' };
    const make = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: signer.kid, ...header }).sign(signer.key);
    await reject(jwks, await make(base, { typ: 'JWT' }), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    await reject(jwks, await make({ ...base, exp: now - 120 }), 'ERR_JWT_EXPIRED');
    await reject(jwks, await make({ ...base, nbf: now + 600 }), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    await reject(jwks, await make({ ...base, iss: 'https://evil.test' }), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    await reject(jwks, await make(base), 'ERR_JWT_CLAIM_VALIDATION_FAILED', { audience: 'other.lan' });
    await reject(jwks, await make({ ...base, aud: ['pack.lan', 'other.lan'] }), 'ERR_JWT_CLAIM_VALIDATION_FAILED', { audience: 'pack.lan' });
    const { exp: _exp, ...noExp } = base;
    await reject(jwks, await make(noExp), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    const { jti: _jti, ...noJti } = base;
    await reject(jwks, await make(noJti), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    await reject(jwks, await make(base, { kid: 'not-a-known-kid' }), 'ERR_JWKS_NO_MATCHING_KEY');
    await reject(jwks, await make(base, { jwk: generated.record.jwk }), 'ERR_JOSE_HEADER_NOT_ALLOWED');
    await reject(jwks, await make(base, { jku: 'https://evil.test/jwks' }), 'ERR_JOSE_HEADER_NOT_ALLOWED');
    await reject(jwks, await make(base), 'ERR_SCOPE_MISSING', { scopes: ['docker:restart:nginx'] });
    await reject(jwks, 'not a token', 'ERR_JWS_INVALID');
    await reject(jwks, 'a.b.c', 'ERR_JWS_INVALID');
  });

  it('accepts a rotated-out key until it is retired from the JWKS', async () => {
    const { signer, generated, config } = await setup();
    const { token } = await mintToken({ agent, issuer: ISSUER, aud: 'pack.lan' }, signer);
    const now = Math.floor(Date.now() / 1000);
    const next = await generateIssuerKey(new Date());
    applyRotation(config, next.record, now);
    const during = buildJwks(config, now);
    expect(during.keys.map((key) => key.kid)).toEqual([next.record.kid, generated.record.kid]);
    await expect(createTokenVerifier({ keys: during, issuer: ISSUER })(token)).resolves.toBeTruthy();
    const after = buildJwks(config, now + 3600 + 601);
    expect(after.keys.map((key) => key.kid)).toEqual([next.record.kid]);
    await expect(createTokenVerifier({ keys: after, issuer: ISSUER })(token)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });
});

