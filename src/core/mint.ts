// The one way a token is minted, whether `token mint` unlocks the keystore
// itself or `agentauth serve` answers on its socket: the same checks, the
// same claims, the same `token.mint` event, written (and fsynced) before the
// token is handed out, so no token exists that the log does not know.
import type { AuditEventInput } from './audit/event.js';
import type { Config } from './config.js';
import { findAgent } from './agents.js';
import { parseDuration } from './duration.js';
import { isAgentAuthError, usageError } from './errors.js';
import type { IssuerSigner } from './issuer.js';
import type { TrustClaim } from './audit/trust.js';
import { checkMintPolicy, describeMintRefusal, prepareToken, signToken, type MintedToken, type MintRequest } from './tokens.js';

/** What a caller asks for, as the CLI flags or the socket request carry it. */
export interface MintCall {
  agent: string;
  /** Optional when the agent allows exactly one audience. */
  aud?: string;
  scopes?: string[];
  /** A duration (`15m`) as typed, or whole seconds. */
  ttl?: string | number;
  onBehalfOf?: string;
  dpopJkt?: string;
}

export interface MintDeps {
  config: Config;
  actor: { sub: string };
  /** The active issuer key; only called once the request passed every policy check. */
  signer(): Promise<IssuerSigner>;
  /** Appends events durably (lock, write, fsync) before resolving. */
  record(events: AuditEventInput[]): Promise<void>;
  /** `--with-trust`: the agentauth_trust claim, computed once the signer (and so the log key) is at hand. */
  trustClaim?(agent: string): Promise<TrustClaim>;
}

/** `token mint --json` minus schemaVersion, and the socket's answer: the same fields in the same order. */
export interface MintAnswer {
  token: string;
  jti: string;
  kid: string;
  exp: number;
  scope: string;
  aud: string;
  trust?: TrustClaim;
}

const USER = /^[A-Za-z0-9._@+-]{1,128}$/;

export function buildMintRequest(config: Config, call: MintCall): MintRequest {
  const agent = findAgent(config, call.agent);
  if (call.onBehalfOf !== undefined && !USER.test(call.onBehalfOf)) {
    throw usageError('BAD_USER', `invalid --on-behalf-of ${JSON.stringify(call.onBehalfOf)}: letters, digits and . _ @ + - only`);
  }
  return {
    agent,
    issuer: config.issuer,
    ...(call.aud !== undefined ? { aud: call.aud } : {}),
    ...(call.scopes ? { scopes: call.scopes } : {}),
    ...(call.ttl !== undefined ? { ttlSeconds: typeof call.ttl === 'number' ? call.ttl : parseDuration(call.ttl, '--ttl') } : {}),
    ...(call.onBehalfOf ? { onBehalfOf: call.onBehalfOf } : {}),
    ...(call.dpopJkt !== undefined ? { dpopJkt: call.dpopJkt } : {}),
  };
}

export async function mintAndRecord(call: MintCall, deps: MintDeps): Promise<{ minted: MintedToken; answer: MintAnswer }> {
  const request = buildMintRequest(deps.config, call);
  // Refuse before touching a key: a refusal needs no unlock. It is recorded
  // (token.refuse) so the log shows what an agent asked for and was denied.
  try {
    checkMintPolicy(request);
  } catch (error) {
    if (isAgentAuthError(error) && error.kind === 'policy') {
      await deps.record([{ kind: 'token.refuse', actor: deps.actor, data: describeMintRefusal(request, error) }]);
    }
    throw error;
  }
  const signer = await deps.signer();
  const trust = deps.trustClaim ? await deps.trustClaim(request.agent.name) : undefined;
  const prepared = prepareToken(trust ? { ...request, trust } : request, signer.kid);
  // The event holds no part of the token (jti, kid, exp…), so it is written while the token is
  // signed; the token is handed out only once both are done. If signing failed, the log would
  // name a token nobody ever held, never the other way round.
  const [minted] = await Promise.all([signToken(prepared, signer), deps.record([mintEvent(deps.actor, request, prepared.minted, trust)])]);
  return {
    minted,
    answer: { token: minted.token, jti: minted.jti, kid: minted.kid, exp: minted.exp, scope: minted.scope.join(' '), aud: minted.aud, ...(trust ? { trust } : {}) },
  };
}

function mintEvent(actor: { sub: string }, request: MintRequest, minted: Omit<MintedToken, 'token'>, trust: TrustClaim | undefined): AuditEventInput {
  return {
    kind: 'token.mint',
    actor,
    data: {
      agent: request.agent.name,
      aud: minted.aud,
      scope: minted.scope.join(' '),
      jti: minted.jti,
      kid: minted.kid,
      exp: minted.exp,
      ...(request.onBehalfOf ? { sub: minted.sub } : {}),
      ...(minted.jkt !== undefined ? { jkt: minted.jkt } : {}),
      ...(trust ? { trust: { root: trust.log.root, score: trust.score, size: trust.log.size } } : {}),
    },
  };
}
