// Agent access tokens: EdDSA JWTs per tokens.md (RFC 9068 profile), minted
// within the agent's registry entry and verified against a pinned JWKS.
import { randomBytes } from 'node:crypto';
import { SignJWT, createLocalJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JSONWebKeySet } from 'jose';
import type { AgentRecord } from './config.js';
import { AgentAuthError, ExitCode, policyError, usageError } from './errors.js';
import type { IssuerSigner } from './issuer.js';
import { findUncoveredScopes, scopeCovers, validateScope } from './scopes.js';

export const DEFAULT_TTL_SECONDS = 15 * 60;
export const TOKEN_TYP = 'at+jwt';

export interface MintRequest {
  agent: AgentRecord;
  issuer: string;
  aud: string;
  /** Defaults to every scope in the agent's entry. */
  scopes?: string[];
  ttlSeconds?: number;
  onBehalfOf?: string;
  /** The gateway's own session tokens name an internal audience outside the agent's list. */
  skipAudienceCheck?: boolean;
  /** `token mint --with-trust`: the agentauth_trust claim (core/audit/trust.ts, docs/tokens.md). */
  trust?: object;
  now?: Date;
}

export interface MintedToken {
  token: string;
  jti: string;
  kid: string;
  iat: number;
  exp: number;
  aud: string;
  sub: string;
  scope: string[];
}

/** Refuses (exit 5) anything beyond the agent's entry; never narrows silently. */
export function checkMintPolicy(request: MintRequest): { scopes: string[]; ttl: number } {
  const { agent } = request;
  if (request.aud.trim() === '' || /\s/.test(request.aud)) {
    throw usageError('BAD_AUDIENCE', `invalid audience ${JSON.stringify(request.aud)}: one non-empty value without spaces`);
  }
  if (!request.skipAudienceCheck && agent.audiences && agent.audiences.length > 0 && !agent.audiences.includes(request.aud)) {
    throw policyError('AUDIENCE_NOT_ALLOWED', `agent "${agent.name}" may not hold tokens for audience "${request.aud}"`, {
      hint: `allowed: ${agent.audiences.join(', ')} (change with: agentauth agent update ${agent.name} --aud …)`,
    });
  }
  const scopes = request.scopes ?? agent.scopes;
  for (const scope of scopes) validateScope(scope);
  const uncovered = findUncoveredScopes(agent.scopes, scopes);
  if (uncovered.length > 0) {
    throw policyError('SCOPE_NOT_ALLOWED', `agent "${agent.name}" may not hold ${uncovered.map((s) => `"${s}"`).join(', ')}`, {
      hint: `its entry allows: ${agent.scopes.join(' ')}`,
    });
  }
  const ttl = request.ttlSeconds ?? Math.min(DEFAULT_TTL_SECONDS, agent.maxTtl);
  if (ttl > agent.maxTtl) {
    throw policyError('TTL_NOT_ALLOWED', `a ${ttl}s token is longer than agent "${agent.name}" may hold (max ${agent.maxTtl}s)`, {
      hint: `ask for a shorter --ttl, or raise it with: agentauth agent update ${agent.name} --max-ttl …`,
    });
  }
  return { scopes: [...new Set(scopes)], ttl };
}

export async function mintToken(request: MintRequest, signer: IssuerSigner): Promise<MintedToken> {
  const { scopes, ttl } = checkMintPolicy(request);
  const { agent } = request;
  const iat = Math.floor((request.now ?? new Date()).getTime() / 1000);
  const exp = iat + ttl;
  const jti = randomBytes(16).toString('base64url');
  const agentSub = `agent:${agent.name}`;
  const sub = request.onBehalfOf ? `user:${request.onBehalfOf}` : agentSub;
  const claims: JWTPayload & Record<string, unknown> = {
    iss: request.issuer,
    sub,
    ...(request.onBehalfOf ? { act: { sub: agentSub } } : {}),
    aud: request.aud,
    iat,
    nbf: iat,
    exp,
    jti,
    client_id: agent.name,
    agent_id: agentSub,
    scope: scopes.join(' '),
    al_scopes: scopes,
    al_name: agent.name,
    ...(request.trust ? { agentauth_trust: request.trust } : {}),
  };
  const token = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: TOKEN_TYP, kid: signer.kid }).sign(signer.key);
  return { token, jti, kid: signer.kid, iat, exp, aud: request.aud, sub, scope: scopes };
}

export interface VerifyOptions {
  /** The pinned key set: a local JWKS object or a resolver (e.g. a cached remote set). */
  keys: JSONWebKeySet | JWTVerifyGetKey;
  issuer?: string;
  audience?: string;
  scopes?: string[];
  clockToleranceSeconds?: number;
  now?: Date;
}

export interface VerifiedToken {
  header: Record<string, unknown>;
  claims: JWTPayload & Record<string, unknown>;
}

/** A verification failure with one of the stable codes from tokens.md. */
export class TokenInvalidError extends AgentAuthError {
  readonly claim: string | undefined;
  constructor(code: string, message: string, claim?: string) {
    super(code, ExitCode.checkFailed, message, claim ? { details: { claim } } : {});
    this.claim = claim;
  }
}

const FORBIDDEN_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'crit'] as const;
const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'];

/**
 * Builds a verifier once (key import and JWKS indexing are amortised), then
 * checks tokens per RFC 8725: EdDSA only, typ at+jwt, the key chosen by kid
 * from the pinned set and never from the token.
 */
export function createTokenVerifier(options: VerifyOptions): (token: string) => Promise<VerifiedToken> {
  const pinned = typeof options.keys === 'function' ? options.keys : createLocalJWKSet(options.keys);
  // jose hands the parsed header to the key resolver: checking it there avoids parsing it twice.
  const getKey: JWTVerifyGetKey = (header, token) => {
    for (const name of FORBIDDEN_HEADERS) {
      if (name in header) throw new TokenInvalidError('ERR_JOSE_HEADER_NOT_ALLOWED', `the "${name}" header is not allowed: keys come only from the pinned JWKS`);
    }
    return pinned(header, token);
  };
  const verifyOptions = {
    algorithms: ['EdDSA'],
    typ: TOKEN_TYP,
    requiredClaims: REQUIRED_CLAIMS,
    clockTolerance: options.clockToleranceSeconds ?? 30,
    ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
    ...(options.audience !== undefined ? { audience: options.audience } : {}),
    ...(options.now ? { currentDate: options.now } : {}),
  };
  return async (token) => {
    let result;
    try {
      result = await jwtVerify(token, getKey, verifyOptions);
    } catch (error) {
      throw toTokenError(error);
    }
    const claims = result.payload as VerifiedToken['claims'];
    if (typeof claims.aud !== 'string') {
      throw new TokenInvalidError('ERR_JWT_CLAIM_VALIDATION_FAILED', 'the "aud" claim must be one string, not an array', 'aud');
    }
    if (typeof claims.jti !== 'string' || claims.jti.length === 0) {
      throw new TokenInvalidError('ERR_JWT_CLAIM_VALIDATION_FAILED', 'the "jti" claim must be a non-empty string', 'jti');
    }
    if (options.scopes && options.scopes.length > 0) {
      const held = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
      const missing = options.scopes.filter((scope) => !held.some((pattern) => scopeCovers(pattern, scope)));
      if (missing.length > 0) throw new TokenInvalidError('ERR_SCOPE_MISSING', `the token lacks scope ${missing.join(', ')}`, 'scope');
    }
    return { header: result.protectedHeader as Record<string, unknown>, claims };
  };
}

function toTokenError(error: unknown): TokenInvalidError {
  if (error instanceof TokenInvalidError) return error;
  const code = (error as { code?: string }).code ?? 'ERR_JWT_INVALID';
  const claim = (error as { claim?: string }).claim;
  const message = (error as Error).message;
  switch (code) {
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new TokenInvalidError(code, 'the signature does not match: the token was altered or signed by another key');
    case 'ERR_JWT_EXPIRED':
      return new TokenInvalidError(code, `the token has expired (${message})`, 'exp');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return new TokenInvalidError(code, 'this algorithm is not allowed: only EdDSA is accepted (RFC 8725)');
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return new TokenInvalidError('ERR_JWS_INVALID', `this is not a well-formed signed JWT: ${message}`);
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return new TokenInvalidError(code, 'no key in the pinned JWKS has this token\'s kid (retired, rotated away, or another issuer)');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return new TokenInvalidError(code, `claim "${claim}" is wrong or missing: ${message}`, claim);
    default:
      return new TokenInvalidError(code.startsWith('ERR_') ? code : 'ERR_JWT_INVALID', message);
  }
}

/** Reads a token's parts WITHOUT verifying anything. */
export function decodeUnverified(token: string): { header: unknown; claims: unknown } {
  const parts = token.split('.');
  if (parts.length !== 3) throw new TokenInvalidError('ERR_JWS_INVALID', 'not a compact JWS: expected three parts separated by dots');
  try {
    return {
      header: JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')),
      claims: JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')),
    };
  } catch {
    throw new TokenInvalidError('ERR_JWS_INVALID', 'the header or payload is not base64url-encoded JSON');
  }
}
