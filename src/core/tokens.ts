// Agent access tokens: EdDSA JWTs per tokens.md (RFC 9068 profile), minted
// within the agent's registry entry and verified against a pinned JWKS.
import { randomBytes } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import type { AgentRecord } from './config.js';
import { policyError, usageError, type AgentAuthError } from './errors.js';
import type { IssuerSigner } from './issuer.js';
import { isThumbprint } from './dpop.js';
import { findUncoveredScopes, validateScope } from './scopes.js';
import { TOKEN_TYP } from './token-verify.js';
import { VerifyError } from './verify-error.js';

// Verification lives in token-verify.ts; re-exported for the callers that mint and verify.
export { createTokenVerifier, TOKEN_TYP, type VerifyOptions, type VerifiedToken } from './token-verify.js';

export const DEFAULT_TTL_SECONDS = 15 * 60;

export interface MintRequest {
  agent: AgentRecord;
  issuer: string;
  /** Optional when the agent's entry allows exactly one audience: that one. */
  aud?: string;
  /** Defaults to the agent's concrete scopes (never a wildcard: those must be asked for). */
  scopes?: string[];
  ttlSeconds?: number;
  onBehalfOf?: string;
  /** RFC 7638 thumbprint of the holder's DPoP key: the token gets cnf.jkt (RFC 9449). */
  dpopJkt?: string;
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
  /** cnf.jkt, for a DPoP-bound token. */
  jkt?: string;
}

/**
 * Refuses (exit 5) anything beyond the agent's entry; never narrows silently.
 * Pure and cheap: callers run it before unlocking the keystore, so a refused
 * mint never asks for a passphrase.
 */
export function checkMintPolicy(request: MintRequest): { scopes: string[]; ttl: number; aud: string } {
  const { agent } = request;
  const aud = resolveAudience(request);
  if (!request.skipAudienceCheck && agent.audiences && agent.audiences.length > 0 && !agent.audiences.includes(aud)) {
    throw policyError('AUDIENCE_NOT_ALLOWED', `agent "${agent.name}" may not hold tokens for audience "${aud}"`, {
      hint: `allowed: ${agent.audiences.join(', ')} (change with: agentauth agent update ${agent.name} --aud …)`,
    });
  }
  if (request.dpopJkt !== undefined && !isThumbprint(request.dpopJkt)) {
    throw usageError('BAD_DPOP_JKT', `invalid DPoP key thumbprint ${JSON.stringify(request.dpopJkt)}: expected 43 base64url characters (RFC 7638 SHA-256)`);
  }
  if (agent.dpop && request.dpopJkt === undefined) {
    throw policyError('DPOP_REQUIRED', `agent "${agent.name}" may only hold DPoP-bound tokens`, {
      hint: 'pass --dpop-key FILE (make one with: agentauth dpop keygen FILE) or --dpop-jkt THUMBPRINT',
    });
  }
  const scopes = request.scopes ?? defaultScopes(agent);
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
  return { scopes: [...new Set(scopes)], ttl, aud };
}

function resolveAudience(request: MintRequest): string {
  const { agent, aud } = request;
  if (aud === undefined) {
    if (agent.audiences?.length === 1) return agent.audiences[0]!;
    throw usageError('AUDIENCE_REQUIRED', `say which audience the token is for: --aud AUDIENCE`, {
      hint: agent.audiences?.length ? `agent "${agent.name}" allows: ${agent.audiences.join(', ')}` : `agent "${agent.name}" allows any audience (one allowed audience would make --aud optional)`,
    });
  }
  if (aud.trim() === '' || /\s/.test(aud)) throw usageError('BAD_AUDIENCE', `invalid audience ${JSON.stringify(aud)}: one non-empty value without spaces`);
  return aud;
}

/**
 * Without --scope: the agent's concrete scopes. A wildcard reaches a token
 * only when asked for by name, so an agent holding only wildcards must be
 * told which scope it wants (a usage error, not a policy refusal: nothing
 * beyond the entry was asked for).
 */
function defaultScopes(agent: AgentRecord): string[] {
  const concrete = agent.scopes.filter((scope) => !scope.includes('*'));
  if (concrete.length === 0) {
    throw usageError('SCOPE_REQUIRED', `agent "${agent.name}" holds only wildcard scopes (${agent.scopes.join(' ')}), and a token carries a wildcard only when asked for`, {
      hint: `name the scope: --scope ${agent.scopes[0]!.replace(/\*$/, 'NAME')} (or --scope '${agent.scopes[0]}' for the wildcard itself)`,
    });
  }
  return concrete;
}

/** The `token.refuse` event's data: who asked, for what, and why it was refused. */
export function describeMintRefusal(request: MintRequest, error: AgentAuthError): Record<string, unknown> {
  return {
    agent: request.agent.name,
    ...(request.aud !== undefined ? { aud: request.aud } : {}),
    ...(request.scopes ? { scope: request.scopes.join(' ') } : {}),
    ...(request.ttlSeconds !== undefined ? { ttl: request.ttlSeconds } : {}),
    reason: error.code,
    message: error.message,
  };
}

/** A token's claims, decided (policy checked, jti drawn, times set) but not yet signed. */
export interface PreparedToken {
  claims: JWTPayload & Record<string, unknown>;
  /** Everything but the token itself. */
  minted: Omit<MintedToken, 'token'>;
}

/** Checks the policy and builds the claims of tokens.md, for the key `kid`. */
export function prepareToken(request: MintRequest, kid: string): PreparedToken {
  const { scopes, ttl, aud } = checkMintPolicy(request);
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
    aud,
    iat,
    nbf: iat,
    exp,
    jti,
    client_id: agent.name,
    agent_id: agentSub,
    scope: scopes.join(' '),
    al_scopes: scopes,
    al_name: agent.name,
    ...(request.dpopJkt !== undefined ? { cnf: { jkt: request.dpopJkt } } : {}),
    ...(request.trust ? { agentauth_trust: request.trust } : {}),
  };
  return { claims, minted: { jti, kid, iat, exp, aud, sub, scope: scopes, ...(request.dpopJkt !== undefined ? { jkt: request.dpopJkt } : {}) } };
}

export async function signToken(prepared: PreparedToken, signer: IssuerSigner): Promise<MintedToken> {
  const token = await new SignJWT(prepared.claims).setProtectedHeader({ alg: 'EdDSA', typ: TOKEN_TYP, kid: signer.kid }).sign(signer.key);
  return { token, ...prepared.minted };
}

export async function mintToken(request: MintRequest, signer: IssuerSigner): Promise<MintedToken> {
  return signToken(prepareToken(request, signer.kid), signer);
}

/** Reads a token's parts WITHOUT verifying anything. */
export function decodeUnverified(token: string): { header: unknown; claims: unknown } {
  const parts = token.split('.');
  if (parts.length !== 3) throw new VerifyError('ERR_JWS_INVALID', 'not a compact JWS: expected three parts separated by dots');
  try {
    return {
      header: JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')),
      claims: JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')),
    };
  } catch {
    throw new VerifyError('ERR_JWS_INVALID', 'the header or payload is not base64url-encoded JSON');
  }
}
