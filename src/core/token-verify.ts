// Verifying agent tokens per tokens.md, for `token verify`, the gateway's
// session tokens and the library `agentauth/verify`. Free of Node-only
// imports so that the library runs in Workers, Deno and Bun as well.
//
// jose verifies the JWS: the signature with a key chosen by kid from the
// pinned set, alg EdDSA only, the protected header. The JWT on top (typ
// at+jwt, the required claims and their types) is checked here once per
// signature, and the claim rules of tokens.md (exp, nbf, iss, one string
// aud, jti, scopes, the agent allowlist, DPoP binding) on EVERY call, also
// when the signature was verified before and is remembered: a remembered
// signature saves the Ed25519 check, never a claim check. One function checks
// the claims on both paths, so the two cannot disagree.
import { compactVerify, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { verifyDpopProof, type DpopPresentation, type ReplayCache } from './dpop.js';
import { createLocalKeySource, type JsonWebKeySet, type KeySource } from './key-source.js';
import { scopeCovers } from './scopes.js';
import { VerifyError } from './verify-error.js';

export const TOKEN_TYP = 'at+jwt';
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;

export interface VerifyOptions {
  /** The pinned key set: a JWKS object, or a source such as a cached remote JWKS. */
  keys: JsonWebKeySet | KeySource;
  issuer?: string;
  /** The token's one `aud` must equal this (or one of these). */
  audience?: string | readonly string[];
  /** Scopes every token must hold. */
  scopes?: readonly string[];
  /** Only tokens of these agents (matched on the token's agent, not a display name). */
  agents?: readonly string[];
  clockToleranceSeconds?: number;
  now?: Date | (() => Date);
  /** Remember up to this many verified signatures, each until its token expires (default 0: off). */
  cacheSize?: number;
  dpop?: DpopPolicy;
}

export interface DpopPolicy {
  /** Refuse tokens that are not DPoP-bound. */
  required?: boolean;
  /** Seen proof ids; shared by every call of one verifier. */
  replay: ReplayCache;
  /** How far a proof's iat may be from now (default: the verifier's clock tolerance). */
  clockToleranceSeconds?: number;
}

export interface CallOptions {
  /** Scopes this call needs, on top of the verifier's. */
  scopes?: readonly string[];
  /** The DPoP proof the token came with; absent means it was presented as a Bearer token. */
  dpop?: DpopPresentation;
}

export interface VerifiedToken {
  header: JWTHeaderParameters & Record<string, unknown>;
  claims: JWTPayload & Record<string, unknown>;
  /** The agent the token speaks for: `home-monitor` for sub `agent:home-monitor` (or act.sub with --on-behalf-of). */
  agent: string | null;
  /** The DPoP key thumbprint the token is bound to (cnf.jkt). */
  jkt: string | null;
}

export type TokenVerifier = (token: string, call?: CallOptions) => Promise<VerifiedToken>;

const FORBIDDEN_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'crit'] as const;
const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'];
const AGENT_SUB = /^agent:([a-z0-9][a-z0-9._-]{0,62})$/;

export function createTokenVerifier(options: VerifyOptions): TokenVerifier {
  const keys = isKeySource(options.keys) ? options.keys : createLocalKeySource(options.keys);
  const tolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  const audiences = options.audience === undefined ? null : typeof options.audience === 'string' ? [options.audience] : [...options.audience];
  const clock = typeof options.now === 'function' ? options.now : options.now ? () => options.now as Date : () => new Date();
  const cache = (options.cacheSize ?? 0) > 0 ? createSignatureCache(options.cacheSize!) : null;
  // jose hands the parsed header to the key resolver: checking it there avoids parsing it twice.
  const getKey = (header: JWTHeaderParameters): Promise<CryptoKey> => {
    for (const name of FORBIDDEN_HEADERS) {
      if (name in header) throw new VerifyError('ERR_JOSE_HEADER_NOT_ALLOWED', `the "${name}" header is not allowed: keys come only from the pinned JWKS`);
    }
    if (typeof header.kid !== 'string') throw new VerifyError('ERR_JWKS_NO_MATCHING_KEY', 'the token has no kid, so no pinned key can be chosen');
    return keys.getKey(header.kid);
  };
  const joseOptions = { algorithms: ['EdDSA'] };

  const verifySignature = async (token: string): Promise<Remembered> => {
    let result;
    try {
      result = await compactVerify(token, getKey, joseOptions);
    } catch (error) {
      throw toVerifyError(error);
    }
    const header = deepFreeze(result.protectedHeader as VerifiedToken['header']);
    const claims = deepFreeze(readClaimsSet(header, result.payload));
    return { header, claims, kid: header.kid as string, until: (claims.exp as number) + tolerance };
  };

  return async (token, call = {}) => {
    if (typeof token !== 'string') throw new VerifyError('ERR_JWS_INVALID', 'the token must be a string');
    const now = clock();
    const nowSeconds = Math.floor(now.getTime() / 1000);
    let remembered = cache?.get(token, nowSeconds) ?? null;
    // A remembered signature counts only while its key is still published.
    if (remembered && !(await keys.hasKey(remembered.kid))) {
      cache!.delete(token);
      remembered = null;
    }
    if (!remembered) {
      remembered = await verifySignature(token);
      cache?.set(token, remembered);
    }
    const { header, claims } = remembered;
    checkClaims(claims, nowSeconds, tolerance, options.issuer, audiences);
    const agent = agentOf(claims);
    if (options.agents && !(agent !== null && options.agents.includes(agent))) {
      throw new VerifyError('ERR_AGENT_NOT_ALLOWED', agent === null ? 'the token names no agent' : `agent "${agent}" is not allowed here`, 'sub');
    }
    const needed = [...(options.scopes ?? []), ...(call.scopes ?? [])];
    if (needed.length > 0) checkScopes(claims, needed);
    const jkt = boundKey(claims);
    // Most tokens are plain bearer tokens presented as such: nothing to wait for then.
    if (jkt !== null || call.dpop !== undefined || options.dpop?.required) await checkPresentation(token, jkt, call.dpop, options.dpop, tolerance, now);
    return { header, claims, agent, jkt };
  };
}

interface Remembered {
  header: VerifiedToken['header'];
  claims: VerifiedToken['claims'];
  kid: string;
  /** Epoch seconds after which the token can never verify again. */
  until: number;
}

function isKeySource(keys: JsonWebKeySet | KeySource): keys is KeySource {
  return typeof (keys as KeySource).getKey === 'function';
}

/**
 * The JWT inside a verified JWS (RFC 7519, RFC 9068, RFC 8725 §3.11): a JSON
 * object, explicitly typed at+jwt, with the required claims, numeric dates numbers.
 */
function readClaimsSet(header: VerifiedToken['header'], payload: Uint8Array): VerifiedToken['claims'] {
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    claims = null;
  }
  if (!claims || typeof claims !== 'object' || Array.isArray(claims)) {
    throw new VerifyError('ERR_JWS_INVALID', 'this is not a well-formed signed JWT: the claims are not a JSON object');
  }
  // Compared as jose compares media types: case-insensitive, "application/" implied.
  if (typeof header.typ !== 'string' || header.typ.toLowerCase().replace(/^application\//, '') !== TOKEN_TYP) {
    throw claimFailed('typ', 'unexpected "typ" JWT header value');
  }
  const set = claims as VerifiedToken['claims'];
  for (const claim of REQUIRED_CLAIMS) {
    if (!Object.hasOwn(set, claim)) throw claimFailed(claim, `missing required "${claim}" claim`);
  }
  for (const claim of ['exp', 'iat', 'nbf']) {
    if (set[claim] !== undefined && typeof set[claim] !== 'number') throw claimFailed(claim, `"${claim}" claim must be a number`);
  }
  return set;
}

/** tokens.md's claim rules, on every call. The messages match what jose gives for the same fault. */
function checkClaims(claims: VerifiedToken['claims'], now: number, tolerance: number, issuer: string | undefined, audiences: string[] | null): void {
  if (typeof claims.exp !== 'number' || claims.exp <= now - tolerance) {
    throw new VerifyError('ERR_JWT_EXPIRED', 'the token has expired ("exp" claim timestamp check failed)', 'exp');
  }
  if (typeof claims.nbf === 'number' && claims.nbf > now + tolerance) {
    throw claimFailed('nbf', '"nbf" claim timestamp check failed');
  }
  // Say what was expected and what the token holds: "wrong audience" alone sends people guessing.
  if (issuer !== undefined && claims.iss !== issuer) throw claimMismatch('iss', claims.iss, issuer);
  if (typeof claims.aud !== 'string') throw new VerifyError('ERR_JWT_CLAIM_VALIDATION_FAILED', 'the "aud" claim must be one string, not an array', 'aud');
  if (audiences && !audiences.includes(claims.aud)) throw claimMismatch('aud', claims.aud, audiences.length === 1 ? audiences[0] : audiences);
  if (typeof claims.jti !== 'string' || claims.jti.length === 0) {
    throw new VerifyError('ERR_JWT_CLAIM_VALIDATION_FAILED', 'the "jti" claim must be a non-empty string', 'jti');
  }
}

function claimMismatch(claim: string, held: unknown, expected: unknown): VerifyError {
  return new VerifyError('ERR_JWT_CLAIM_VALIDATION_FAILED', `claim "${claim}" is ${JSON.stringify(held)}, expected ${JSON.stringify(expected)}`, claim);
}

function claimFailed(claim: string, reason: string): VerifyError {
  return new VerifyError('ERR_JWT_CLAIM_VALIDATION_FAILED', `claim "${claim}" is wrong or missing: ${reason}`, claim);
}

function checkScopes(claims: VerifiedToken['claims'], needed: readonly string[]): void {
  const held = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
  const missing = needed.filter((scope) => !held.some((pattern) => scopeCovers(pattern, scope)));
  if (missing.length > 0) throw new VerifyError('ERR_SCOPE_MISSING', `the token lacks scope ${missing.join(', ')}`, 'scope');
}

/** The agent a token speaks for: act.sub when minted on behalf of a user, else sub. */
export function agentOf(claims: Record<string, unknown>): string | null {
  const act = claims['act'];
  const actor = act && typeof act === 'object' ? (act as Record<string, unknown>)['sub'] : undefined;
  const subject = typeof actor === 'string' ? actor : claims['sub'];
  if (typeof subject !== 'string') return null;
  return AGENT_SUB.exec(subject)?.[1] ?? null;
}

function boundKey(claims: VerifiedToken['claims']): string | null {
  const cnf = claims['cnf'];
  if (cnf === undefined) return null;
  const jkt = cnf && typeof cnf === 'object' ? (cnf as Record<string, unknown>)['jkt'] : undefined;
  if (typeof jkt !== 'string' || jkt.length === 0) throw claimFailed('cnf', 'cnf must be {"jkt": "<thumbprint>"}');
  return jkt;
}

/** Bearer or DPoP (RFC 9449): a bound token only with a proof by its key, a proof only with a bound token. */
async function checkPresentation(
  token: string,
  jkt: string | null,
  presented: DpopPresentation | undefined,
  policy: DpopPolicy | undefined,
  tolerance: number,
  now: Date,
): Promise<void> {
  if (!presented) {
    if (jkt !== null) {
      throw new VerifyError('ERR_DPOP_REQUIRED', 'this token is DPoP-bound: present it with the DPoP scheme and a proof signed by its key, not as a Bearer token', 'cnf');
    }
    if (policy?.required) throw new VerifyError('ERR_DPOP_REQUIRED', 'this service accepts only DPoP-bound tokens', 'cnf');
    return;
  }
  if (jkt === null) throw new VerifyError('ERR_DPOP_NOT_BOUND', 'a DPoP proof came with a token that is not DPoP-bound (no cnf.jkt)', 'cnf');
  if (!policy) throw new VerifyError('ERR_DPOP_UNSUPPORTED', 'this verifier was not set up for DPoP (no replay cache)');
  await verifyDpopProof(presented, {
    token,
    jkt,
    replay: policy.replay,
    clockToleranceSeconds: policy.clockToleranceSeconds ?? tolerance,
    now,
  });
}

/** Maps jose's errors onto tokens.md's codes, with a message a user can act on. */
export function toVerifyError(error: unknown): VerifyError {
  if (error instanceof VerifyError) return error;
  const code = (error as { code?: string }).code ?? 'ERR_JWT_INVALID';
  const claim = (error as { claim?: string }).claim;
  const message = (error as Error).message;
  switch (code) {
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new VerifyError(code, 'the signature does not match: the token was altered or signed by another key');
    case 'ERR_JWT_EXPIRED':
      return new VerifyError(code, `the token has expired (${message})`, 'exp');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return new VerifyError(code, 'this algorithm is not allowed: only EdDSA is accepted (RFC 8725)');
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return new VerifyError('ERR_JWS_INVALID', `this is not a well-formed signed JWT: ${message}`);
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return new VerifyError(code, "no key in the pinned JWKS has this token's kid (retired, rotated away, or another issuer)");
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return new VerifyError(code, `claim "${claim}" is wrong or missing: ${message}`, claim);
    default:
      return new VerifyError(code.startsWith('ERR_') ? code : 'ERR_JWT_INVALID', message);
  }
}

/**
 * Verified signatures, each remembered until its token's exp (plus the
 * clock tolerance), at most `size` of them: the oldest entry goes first.
 * Only tokens whose signature verified get in, so forged tokens cannot
 * crowd out real ones.
 */
function createSignatureCache(size: number) {
  const entries = new Map<string, Remembered>();
  return {
    get(token: string, now: number): Remembered | null {
      const entry = entries.get(token);
      if (!entry) return null;
      if (entry.until <= now) {
        entries.delete(token);
        return null;
      }
      return entry;
    },
    set(token: string, entry: Remembered): void {
      if (entries.size >= size) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
      entries.set(token, entry);
    },
    delete(token: string): void {
      entries.delete(token);
    },
  };
}

/** Claims handed out from the cache are shared between calls: nobody may change them. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}
