// Where a verifier finds issuer keys: by `kid`, in a pinned JWKS, never in the
// token. Keys are imported once per kid and reused: importing per token cost
// more than the signature check itself.
import { importJWK } from 'jose';
import { VerifyError } from './verify-error.js';

export interface KeySource {
  /** The Ed25519 verification key published under `kid`; rejects with ERR_JWKS_NO_MATCHING_KEY. */
  getKey(kid: string): Promise<CryptoKey>;
  /** Whether `kid` is still published: a remembered signature counts only while its key is. */
  hasKey(kid: string): boolean | Promise<boolean>;
}

export interface JsonWebKeySet {
  keys: unknown[];
}

/** A key set that never changes: a JWKS object or file, or this install's keys. */
export function createLocalKeySource(jwks: JsonWebKeySet): KeySource {
  const usable = indexUsableKeys(jwks);
  const imported = new Map<string, Promise<CryptoKey>>();
  return {
    getKey(kid) {
      let key = imported.get(kid);
      if (!key) {
        const jwk = usable.get(kid);
        if (!jwk) return Promise.reject(noMatchingKey());
        key = importJWK({ kty: 'OKP', crv: 'Ed25519', x: jwk.x }, 'EdDSA') as Promise<CryptoKey>;
        imported.set(kid, key);
      }
      return key;
    },
    hasKey: (kid) => usable.has(kid),
  };
}

export function noMatchingKey(): VerifyError {
  return new VerifyError('ERR_JWKS_NO_MATCHING_KEY', "no key in the pinned JWKS has this token's kid (retired, rotated away, or another issuer)");
}

/**
 * The keys a token of ours can be checked with: Ed25519, for signing, EdDSA
 * or no alg. Anything else is skipped, so that a JWKS shared with other key
 * types still works; a private member (`d`) is never used, only `x`.
 */
function indexUsableKeys(jwks: JsonWebKeySet): Map<string, { x: string }> {
  if (!jwks || typeof jwks !== 'object' || !Array.isArray(jwks.keys)) {
    throw new VerifyError('ERR_JWKS_INVALID', 'the JWKS is not a JSON Web Key Set (expected {"keys":[…]})');
  }
  const usable = new Map<string, { x: string }>();
  for (const candidate of jwks.keys) {
    if (!candidate || typeof candidate !== 'object') continue;
    const jwk = candidate as Record<string, unknown>;
    if (jwk['kty'] !== 'OKP' || jwk['crv'] !== 'Ed25519' || typeof jwk['x'] !== 'string' || typeof jwk['kid'] !== 'string') continue;
    if (jwk['alg'] !== undefined && jwk['alg'] !== 'EdDSA') continue;
    if (jwk['use'] !== undefined && jwk['use'] !== 'sig') continue;
    // The first key under a kid wins: a later duplicate cannot replace it.
    if (!usable.has(jwk['kid'])) usable.set(jwk['kid'], { x: jwk['x'] });
  }
  return usable;
}
