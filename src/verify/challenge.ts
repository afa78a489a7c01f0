// What a protected resource answers when a request fails: the status, the
// WWW-Authenticate challenges (RFC 6750 §3, RFC 9449 §7.1, with RFC 9728's
// resource_metadata for MCP clients) and a small JSON body.
import { DPOP_ALGORITHMS } from '../core/dpop.js';
import { VerifyError } from '../core/verify-error.js';

export interface ChallengeOptions {
  /** The RFC 9728 metadata URL, sent as resource_metadata in every challenge. */
  resourceMetadata?: string | undefined;
  /** The scopes the request needed (a 403's scope parameter). */
  scopes?: readonly string[] | undefined;
  /** The scheme the credentials came with (DPoP challenges answer DPoP). */
  scheme?: 'Bearer' | 'DPoP' | undefined;
}

export interface Challenge {
  status: number;
  /** One WWW-Authenticate value per scheme. */
  wwwAuthenticate: string[];
  body: { error: string; error_description?: string; code?: string };
  retryAfter?: number;
}

const PROOF_CODES = new Set([
  'ERR_DPOP_PROOF_MISSING',
  'ERR_DPOP_PROOF_INVALID',
  'ERR_DPOP_HTM_MISMATCH',
  'ERR_DPOP_HTU_MISMATCH',
  'ERR_DPOP_IAT',
  'ERR_DPOP_REPLAY',
  'ERR_DPOP_ATH_MISMATCH',
  'ERR_DPOP_KEY_MISMATCH',
]);
// Authenticated, but not allowed this: 403 rather than 401 (a fresh token would not help).
const FORBIDDEN_CODES = new Set(['ERR_SCOPE_MISSING', 'ERR_AGENT_NOT_ALLOWED', 'TRUST_TOO_LOW']);
const UNAVAILABLE_CODES = new Set(['ERR_JWKS_UNAVAILABLE', 'ERR_JWKS_INVALID']);
const DPOP_ALGS = `algs="${DPOP_ALGORITHMS.join(' ')}"`;

/** `error` null: the request had no credentials (RFC 6750 §3.1: a challenge without an error code). */
export function describeChallenge(error: VerifyError | null, options: ChallengeOptions = {}): Challenge {
  const metadata = options.resourceMetadata ? [`resource_metadata="${quote(options.resourceMetadata)}"`] : [];
  if (error === null) {
    return {
      status: 401,
      wwwAuthenticate: [join('Bearer', metadata), join('DPoP', [DPOP_ALGS, ...metadata])],
      body: { error: 'invalid_request', error_description: 'no access token: send Authorization: Bearer <token> (or DPoP <token> with a DPoP proof)', code: 'ERR_TOKEN_MISSING' },
    };
  }
  const description = `error_description="${quote(error.message)}"`;
  if (UNAVAILABLE_CODES.has(error.code)) {
    return { status: 503, wwwAuthenticate: [], body: { error: 'temporarily_unavailable', error_description: error.message, code: error.code }, retryAfter: 30 };
  }
  const dpop = options.scheme === 'DPoP' || error.code.startsWith('ERR_DPOP_') || error.claim === 'cnf';
  if (FORBIDDEN_CODES.has(error.code)) {
    const scope = options.scopes?.length ? [`scope="${quote(options.scopes.join(' '))}"`] : [];
    const params = ['error="insufficient_scope"', description, ...scope, ...metadata];
    return {
      status: 403,
      wwwAuthenticate: [dpop ? join('DPoP', [...params, DPOP_ALGS]) : join('Bearer', params)],
      body: { error: 'insufficient_scope', error_description: error.message, code: error.code },
    };
  }
  if (PROOF_CODES.has(error.code)) {
    return {
      status: 401,
      wwwAuthenticate: [join('DPoP', ['error="invalid_dpop_proof"', description, DPOP_ALGS, ...metadata])],
      body: { error: 'invalid_dpop_proof', error_description: error.message, code: error.code },
    };
  }
  const params = ['error="invalid_token"', description, ...metadata];
  return {
    status: 401,
    wwwAuthenticate: [dpop ? join('DPoP', [...params, DPOP_ALGS]) : join('Bearer', params)],
    body: { error: 'invalid_token', error_description: error.message, code: error.code },
  };
}

function join(scheme: string, params: string[]): string {
  return params.length ? `${scheme} ${params.join(', ')}` : scheme;
}

/** A quoted-string may not hold `"` or `\` unescaped, nor control characters (RFC 9110 §5.6.4); RFC 6750 allows less still. */
function quote(text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, ' ');
}
