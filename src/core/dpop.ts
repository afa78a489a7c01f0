// DPoP (RFC 9449): sender-constrained tokens. A token minted with a proof key
// carries cnf.jkt, the key's RFC 7638 thumbprint; every request then comes
// with a fresh proof JWT signed by that key, naming the method and URL and
// hashing the token, so a stolen token alone is worth nothing.
// Free of Node-only imports: the library runs this in any runtime.
import { EmbeddedJWK, SignJWT, base64url, calculateJwkThumbprint, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify, type JWK } from 'jose';
import { VerifyError } from './verify-error.js';

export const DPOP_TYP = 'dpop+jwt';
export const DPOP_ALGORITHMS = ['EdDSA', 'ES256'] as const;
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

/** A proof and the request it arrived with. */
export interface DpopPresentation {
  proof: string;
  method: string;
  /** The request's absolute URL; its query and fragment are ignored. */
  url: string;
}

export interface DpopCheckContext {
  /** The access token the proof must hash (ath). */
  token: string;
  /** The token's cnf.jkt: the proof key's thumbprint must equal it. */
  jkt: string;
  replay: ReplayCache;
  clockToleranceSeconds: number;
  now: Date;
}

// Members that only a private (or symmetric) JWK has.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const MAX_PROOF_LENGTH = 8192;
const MAX_JTI_LENGTH = 256;
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Checks a proof per RFC 9449 §4.3; resolves when every check passed and its jti was unseen. */
export async function verifyDpopProof(presented: DpopPresentation, context: DpopCheckContext): Promise<void> {
  const { proof } = presented;
  if (typeof proof !== 'string' || proof.length === 0) throw new VerifyError('ERR_DPOP_PROOF_MISSING', 'the DPoP scheme needs a DPoP proof header');
  if (proof.length > MAX_PROOF_LENGTH) throw proofInvalid(`the proof is longer than ${MAX_PROOF_LENGTH} characters`);
  let header;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw proofInvalid('the proof is not a compact JWS');
  }
  if (header.typ !== DPOP_TYP) throw proofInvalid(`the proof's typ must be "${DPOP_TYP}"`, 'typ');
  if (!(DPOP_ALGORITHMS as readonly string[]).includes(header.alg ?? '')) {
    throw proofInvalid(`the proof's alg must be one of ${DPOP_ALGORITHMS.join(', ')}`, 'alg');
  }
  const jwk = header.jwk;
  if (!jwk || typeof jwk !== 'object') throw proofInvalid('the proof has no jwk header', 'jwk');
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) throw proofInvalid("the proof's jwk holds a private key: it must hold the public key only", 'jwk');

  let claims;
  try {
    ({ payload: claims } = await jwtVerify(proof, EmbeddedJWK, {
      algorithms: [...DPOP_ALGORITHMS],
      typ: DPOP_TYP,
      requiredClaims: ['jti', 'htm', 'htu', 'iat'],
      currentDate: context.now,
      clockTolerance: context.clockToleranceSeconds,
    }));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') throw proofInvalid("the proof's signature does not verify with its jwk");
    throw proofInvalid(`the proof is malformed: ${(error as Error).message}`);
  }

  if (claims['htm'] !== presented.method) {
    throw new VerifyError('ERR_DPOP_HTM_MISMATCH', `the proof is for method ${JSON.stringify(claims['htm'])}, not ${presented.method}`, 'htm');
  }
  const expected = normaliseHtu(presented.url);
  const stated = typeof claims['htu'] === 'string' ? normaliseHtu(claims['htu']) : null;
  if (expected === null || stated === null || stated !== expected) {
    throw new VerifyError('ERR_DPOP_HTU_MISMATCH', `the proof is for ${JSON.stringify(claims['htu'])}, not this URL`, 'htu');
  }
  const now = Math.floor(context.now.getTime() / 1000);
  const iat = claims.iat as number;
  if (Math.abs(now - iat) > context.clockToleranceSeconds) {
    throw new VerifyError('ERR_DPOP_IAT', `the proof was made ${now - iat}s ${now >= iat ? 'ago' : 'in the future'}; at most ${context.clockToleranceSeconds}s either way is accepted`, 'iat');
  }
  if (claims['ath'] !== (await hashToken(context.token))) {
    throw new VerifyError('ERR_DPOP_ATH_MISMATCH', 'the proof does not hash this token (ath)', 'ath');
  }
  if ((await calculateJwkThumbprint(jwk as JWK, 'sha256')) !== context.jkt) {
    throw new VerifyError('ERR_DPOP_KEY_MISMATCH', "the proof is signed by a key other than the one the token is bound to (cnf.jkt)", 'jwk');
  }
  const jti = claims.jti;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) throw proofInvalid('the proof needs a jti of 1 to 256 characters', 'jti');
  // Last: only a proof that passed every other check may use up its jti.
  if (!context.replay.remember(`${context.jkt} ${jti}`, iat + context.clockToleranceSeconds, now)) {
    throw new VerifyError('ERR_DPOP_REPLAY', 'this proof was already used (its jti was seen before)', 'jti');
  }
}

function proofInvalid(message: string, claim?: string): VerifyError {
  return new VerifyError('ERR_DPOP_PROOF_INVALID', message, claim);
}

/** base64url(SHA-256(token)): the `ath` claim. */
export async function hashToken(token: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))));
}

/**
 * RFC 9449 §4.3: htu is compared without query and fragment, after RFC 3986
 * syntax- and scheme-based normalisation: case of scheme and host, default
 * port, dot segments (all done by the URL parser), and percent-encoding
 * (hex digits upper case, unreserved characters decoded).
 */
export function normaliseHtu(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  const path = url.pathname.replace(/%[0-9a-fA-F]{2}/g, (escape) => {
    const char = String.fromCharCode(parseInt(escape.slice(1), 16));
    return /[A-Za-z0-9\-._~]/.test(char) ? char : escape.toUpperCase();
  });
  return `${url.protocol}//${url.host}${path}`;
}

/**
 * Proof ids seen recently. An entry is kept until the proof's iat leaves the
 * accepted window (after which the iat check refuses the proof anyway). At
 * most `size` entries: when full, expired ones go, then the oldest, so a flood
 * of valid proofs cannot stop the verifier (a proof evicted that way is the
 * oldest in the cache, and only replayable until its iat window closes).
 */
export interface ReplayCache {
  /** False when `key` was seen and has not expired; otherwise records it until `until` (epoch seconds). */
  remember(key: string, until: number, now: number): boolean;
}

export function createReplayCache(size = 10_000): ReplayCache {
  const seen = new Map<string, number>();
  return {
    remember(key, until, now) {
      const known = seen.get(key);
      if (known !== undefined && known > now) return false;
      if (known !== undefined) seen.delete(key);
      if (seen.size >= size) {
        // Expired entries go first; if none had, the oldest one.
        for (const [oldKey, expiry] of seen) if (expiry <= now) seen.delete(oldKey);
        if (seen.size >= size) seen.delete(seen.keys().next().value as string);
      }
      seen.set(key, until);
      return true;
    },
  };
}

/** A proof key as `dpop keygen` writes it: a private JWK with its alg. */
export interface DpopKey {
  alg: DpopAlgorithm;
  privateKey: CryptoKey;
  publicJwk: JWK;
  jkt: string;
}

export async function generateDpopKey(alg: DpopAlgorithm): Promise<{ privateJwk: JWK; jkt: string }> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  return { privateJwk: { ...jwk, alg, kid: jkt }, jkt };
}

/** Parses a proof key file; the error says what is wrong, never the key. */
export async function parseDpopKey(text: string): Promise<DpopKey> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch {
    throw new VerifyError('ERR_DPOP_KEY_INVALID', 'the DPoP key file is not JSON (expected a private JWK from agentauth dpop keygen)');
  }
  const alg = jwk?.alg ?? (jwk?.kty === 'OKP' ? 'EdDSA' : jwk?.kty === 'EC' ? 'ES256' : undefined);
  const shapeOk = (alg === 'EdDSA' && jwk.kty === 'OKP' && jwk.crv === 'Ed25519') || (alg === 'ES256' && jwk.kty === 'EC' && jwk.crv === 'P-256');
  if (!jwk || typeof jwk !== 'object' || !shapeOk) {
    throw new VerifyError('ERR_DPOP_KEY_INVALID', 'the DPoP key must be an Ed25519 (EdDSA) or P-256 (ES256) JWK');
  }
  const publicJwk: JWK = alg === 'EdDSA' ? { kty: 'OKP', crv: 'Ed25519', x: jwk.x! } : { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! };
  let jkt: string;
  try {
    jkt = await calculateJwkThumbprint(publicJwk, 'sha256');
  } catch {
    throw new VerifyError('ERR_DPOP_KEY_INVALID', 'the DPoP key is missing its public members');
  }
  if (typeof jwk.d !== 'string') {
    throw new VerifyError('ERR_DPOP_KEY_INVALID', 'the DPoP key file holds a public key only; proofs need the private key it was generated with');
  }
  let privateKey: CryptoKey;
  try {
    privateKey = (await importJWK(jwk, alg)) as CryptoKey;
  } catch {
    throw new VerifyError('ERR_DPOP_KEY_INVALID', 'the DPoP key could not be imported (damaged JWK)');
  }
  return { alg: alg as DpopAlgorithm, privateKey, publicJwk, jkt };
}

/** A proof for one request (RFC 9449 §4.2). */
export async function createDpopProof(input: { key: DpopKey; method: string; url: string; token?: string; now?: Date }): Promise<string> {
  if (!METHOD.test(input.method)) throw new VerifyError('ERR_DPOP_BAD_REQUEST', `invalid HTTP method ${JSON.stringify(input.method)}`);
  const htu = normaliseHtu(input.url);
  if (htu === null) throw new VerifyError('ERR_DPOP_BAD_REQUEST', `invalid URL ${JSON.stringify(input.url)}: an absolute http:// or https:// URL`);
  const jti = base64url.encode(crypto.getRandomValues(new Uint8Array(16)));
  const iat = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const claims: Record<string, unknown> = { jti, htm: input.method, htu, iat };
  if (input.token !== undefined) claims['ath'] = await hashToken(input.token);
  return new SignJWT(claims).setProtectedHeader({ typ: DPOP_TYP, alg: input.key.alg, jwk: input.key.publicJwk }).sign(input.key.privateKey);
}

/** The RFC 7638 thumbprint a `--dpop-jkt` must look like: base64url of 32 bytes. */
export function isThumbprint(value: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(value);
}
