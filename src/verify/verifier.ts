// createVerifier: tokens.md's rules for a service that accepts agentauth
// tokens, with the keys from a URL (cached per its Cache-Control and fetched
// again for an unknown kid), a JWKS object or a file.
import { createReplayCache } from '../core/dpop.js';
import { createLocalKeySource, type JsonWebKeySet, type KeySource } from '../core/key-source.js';
import { createRemoteKeySource, isPlainHttpToRemoteHost } from '../core/jwks-remote.js';
import { createTokenVerifier, type TokenVerifier, type VerifiedToken } from '../core/token-verify.js';
import { checkTrustClaim, TRUST_MAX } from '../core/audit/trust-claim.js';
import { VerifyError } from '../core/verify-error.js';
import { readCredentials } from './credentials.js';
import { createFileKeySource } from './file-jwks.js';

export interface VerifierOptions {
  /** The issuer (iss) to accept: agentauth's `config get issuer`, e.g. http://pi.lan:8765. */
  issuer: string;
  /** The audience a token must name: your service (per-pack: 'pack.<name>'). Several allowed. */
  audience: string | string[];
  /**
   * Where the issuer's public keys are: a URL, a JWKS object ({"keys":[…]}) or a
   * file path. Default: `<issuer>/.well-known/jwks.json` when the issuer is a URL.
   */
  jwks?: string | URL | JsonWebKeySet;
  /** Scopes every token must hold. */
  scopes?: string[];
  /** Only these agents (matched on the token's agent, sub `agent:<name>`). */
  agents?: string[];
  /**
   * Require an `agentauth_trust` claim (token mint --with-trust) with at least
   * this score, 0–1000 (docs/trust.md). Codes TRUST_MISSING, TRUST_MALFORMED, TRUST_TOO_LOW.
   */
  minTrust?: number;
  /** Clock tolerance in seconds for exp, nbf and DPoP proofs' iat (default 30). */
  clockSkew?: number;
  /** DPoP (RFC 9449). Bound tokens are always checked against their proofs; `required` refuses unbound ones. */
  dpop?: { required?: boolean; replayCacheSize?: number };
  /** How many verified signatures to remember, each until its token expires (default 1000; 0: off). */
  cacheSize?: number;
  /** Told about risky settings (a JWKS over plain http:// to another host). Default: process.emitWarning, else console.warn. */
  onWarning?: (message: string) => void;
  /** For tests and unusual runtimes. */
  fetch?: typeof fetch;
}

/** Who a verified token speaks for. */
export interface AgentIdentity {
  /** The agent's name: `home-monitor`. */
  agent: string;
  /** `agent:<name>`, or `user:<name>` for a token minted on behalf of a user. */
  sub: string;
  /** The acting agent (`act.sub`) of an on-behalf-of token. */
  actor: string | undefined;
  scopes: string[];
  jti: string;
  /** Epoch seconds. */
  exp: number;
  /** The DPoP key thumbprint a bound token is tied to. */
  jkt: string | undefined;
  /** Every claim, read-only. */
  claims: Readonly<Record<string, unknown>>;
}

export interface DpopRequest {
  proof: string;
  method: string;
  /** The absolute URL the request was sent to. */
  url: string;
}

export interface VerifyCallOptions {
  /** Scopes this call needs, on top of the verifier's. */
  scopes?: string[];
  /** The DPoP proof, when the token came as `Authorization: DPoP`. */
  dpop?: DpopRequest;
}

export interface Verifier {
  /** Resolves to the identity, or rejects with a VerifyError carrying a stable code. */
  verify(token: string, options?: VerifyCallOptions): Promise<AgentIdentity>;
  /** Reads Authorization (and DPoP) from a Fetch API request and verifies them. */
  verifyRequest(request: Request, options?: { scopes?: string[] }): Promise<AgentIdentity>;
}

export function createVerifier(options: VerifierOptions): Verifier {
  if (!options || typeof options.issuer !== 'string' || options.issuer.length === 0) throw new TypeError('createVerifier: issuer is required');
  if (options.audience === undefined || (Array.isArray(options.audience) && options.audience.length === 0)) {
    throw new TypeError("createVerifier: audience is required (your service's name in the token's aud, e.g. 'pack.lan')");
  }
  const check: TokenVerifier = createTokenVerifier({
    keys: openKeys(options),
    issuer: options.issuer,
    audience: options.audience,
    ...(options.scopes ? { scopes: options.scopes } : {}),
    ...(options.agents ? { agents: options.agents } : {}),
    clockToleranceSeconds: options.clockSkew ?? 30,
    cacheSize: options.cacheSize ?? 1000,
    dpop: { required: options.dpop?.required === true, replay: createReplayCache(options.dpop?.replayCacheSize ?? 10_000) },
  });

  const { minTrust } = options;
  if (minTrust !== undefined && !(Number.isSafeInteger(minTrust) && minTrust >= 0 && minTrust <= TRUST_MAX)) {
    throw new TypeError(`createVerifier: minTrust must be a whole number from 0 to ${TRUST_MAX}`);
  }
  const verify = async (token: string, call: VerifyCallOptions = {}): Promise<AgentIdentity> => {
    const verified = await check(token, call);
    // After the signature and claims: the trust claim is only as good as the issuer that signed it.
    if (minTrust !== undefined) {
      const trust = checkTrustClaim(verified.claims, minTrust);
      if (!trust.ok) throw new VerifyError(trust.code, trust.message, 'agentauth_trust');
    }
    return toIdentity(verified);
  };

  return {
    verify,
    async verifyRequest(request, call = {}) {
      const credentials = readCredentials(request.headers.get('authorization'), request.headers.get('dpop'));
      if (!credentials) throw new VerifyError('ERR_TOKEN_MISSING', 'no access token: send Authorization: Bearer <token> (or DPoP <token> with a DPoP proof)');
      return verify(credentials.token, {
        ...(call.scopes ? { scopes: call.scopes } : {}),
        ...(credentials.scheme === 'DPoP' ? { dpop: { proof: credentials.proof ?? '', method: request.method, url: request.url } } : {}),
      });
    },
  };
}

function openKeys(options: VerifierOptions): KeySource | JsonWebKeySet {
  const source = options.jwks ?? (/^https?:\/\//i.test(options.issuer) ? `${options.issuer.replace(/\/+$/, '')}/.well-known/jwks.json` : undefined);
  if (source === undefined) throw new TypeError('createVerifier: jwks is required when the issuer is not a URL (a URL, a JWKS object or a file path)');
  if (typeof source === 'object' && !(source instanceof URL)) {
    // Checked now, so a wrong object fails at start-up rather than on the first request.
    createLocalKeySource(source);
    return source;
  }
  const text = source.toString();
  if (/^https?:\/\//i.test(text)) {
    if (isPlainHttpToRemoteHost(text)) {
      warn(options, `agentauth/verify: the JWKS ${text} is fetched over plain http:// from another host; anyone on the network path could swap the keys (use https:// or a loopback address where you can)`);
    }
    return createRemoteKeySource({ url: text, ...(options.fetch ? { fetch: options.fetch } : {}) });
  }
  return createFileKeySource(text.startsWith('file:') ? decodeURIComponent(new URL(text).pathname) : text);
}

function warn(options: VerifierOptions, message: string): void {
  if (options.onWarning) return options.onWarning(message);
  const proc = (globalThis as { process?: { emitWarning?: (message: string, type: string) => void } }).process;
  if (proc?.emitWarning) proc.emitWarning(message, 'AgentAuthWarning');
  else console.warn(message);
}

function toIdentity(verified: VerifiedToken): AgentIdentity {
  const { claims } = verified;
  const act = claims['act'] as { sub?: unknown } | undefined;
  return {
    // createTokenVerifier refuses tokens without an agent only when an allowlist is set; a service needs one always.
    agent: verified.agent ?? missingAgent(),
    sub: claims.sub as string,
    actor: typeof act?.sub === 'string' ? act.sub : undefined,
    scopes: typeof claims['scope'] === 'string' ? claims['scope'].split(' ').filter(Boolean) : [],
    jti: claims.jti as string,
    exp: claims.exp as number,
    jkt: verified.jkt ?? undefined,
    claims,
  };
}

function missingAgent(): never {
  throw new VerifyError('ERR_JWT_CLAIM_VALIDATION_FAILED', 'claim "sub" is wrong or missing: the token names no agent (sub or act.sub agent:<name>)', 'sub');
}
