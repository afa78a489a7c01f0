// A throwaway issuer for library tests: an Ed25519 key, its JWKS, and tokens
// shaped as agentauth mints them (or deliberately not).
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';

export const ISSUER = 'https://issuer.test';

export interface TestIssuer {
  kid: string;
  jwks: { keys: Record<string, unknown>[] };
  privateKey: CryptoKey;
  /** Signs exactly these claims and header fields (alg/typ/kid default to agentauth's). */
  sign(claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
  /** An agentauth-shaped token for agent `bot`, audience pack.lan, 15 minutes. */
  mint(overrides?: Record<string, unknown>): Promise<string>;
}

export async function createTestIssuer(): Promise<TestIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('Ed25519', { extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub);
  const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid, ...header } as never).sign(privateKey);
  return {
    kid,
    jwks: { keys: [{ ...pub, kid, alg: 'EdDSA', use: 'sig' }] },
    privateKey,
    sign,
    mint: (overrides = {}) => sign({ ...agentClaims(), ...overrides }),
  };
}

export function agentClaims(now = Math.floor(Date.now() / 1000)): Record<string, unknown> {
  return {
    iss: ISSUER,
    sub: 'agent:bot',
    aud: 'pack.lan',
    iat: now,
    nbf: now,
    exp: now + 900,
    jti: `j-${Math.random().toString(36).slice(2)}`,
    client_id: 'bot',
    agent_id: 'agent:bot',
    scope: 'docker:restart:nginx email:send',
  };
}

/** PKCS#8 for an Ed25519 private key, before its 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * An Ed25519 public key whose kid (its RFC 7638 thumbprint, as agentauth
 * computes it) starts with `prefix`. Seeds are tried in a fixed order, so the
 * same key comes back every time: a test of an unlucky kid needs no luck.
 */
export function findKeyWithKidPrefix(prefix: string): { kid: string; x: string } {
  for (let i = 0; ; i++) {
    const seed = createHash('sha256').update(`agentauth test key ${i}`).digest();
    const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    const x = createPublicKey(privateKey).export({ format: 'jwk' }).x!;
    const kid = createHash('sha256').update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x })).digest('base64url');
    if (kid.startsWith(prefix)) return { kid, x };
  }
}
