// A throwaway issuer for library tests: an Ed25519 key, its JWKS, and tokens
// shaped as agentauth mints them (or deliberately not).
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';

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
