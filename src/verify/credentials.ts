// Reading a request's credentials: `Authorization: Bearer <token>` or
// `Authorization: DPoP <token>` with one `DPoP: <proof>` header (RFC 6750,
// RFC 9449). Never from the query string or a cookie.
import { VerifyError } from '../core/verify-error.js';

export interface Credentials {
  scheme: 'Bearer' | 'DPoP';
  token: string;
  /** The DPoP header, when the scheme is DPoP. */
  proof: string | undefined;
}

// RFC 6750 §2.1 b64token.
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The credentials, or null when the request carries none we understand (then the answer is a bare challenge). */
export function readCredentials(authorization: string | null | undefined, dpop: string | string[] | null | undefined): Credentials | null {
  if (!authorization) return null;
  const space = authorization.indexOf(' ');
  const scheme = (space === -1 ? authorization : authorization.slice(0, space)).toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'dpop') return null;
  const token = authorization.slice(space + 1).trim();
  if (space === -1 || !TOKEN.test(token)) throw new VerifyError('ERR_TOKEN_MALFORMED', 'the Authorization header does not hold a token after its scheme');
  if (scheme === 'bearer') return { scheme: 'Bearer', token, proof: undefined };
  // Several DPoP headers arrive as an array (Node) or joined with ", " (fetch); a JWS has no comma.
  const proof = Array.isArray(dpop) ? (dpop.length === 1 ? dpop[0] : undefined) : dpop;
  if (Array.isArray(dpop) && dpop.length > 1) throw new VerifyError('ERR_DPOP_PROOF_INVALID', 'more than one DPoP header');
  if (proof && proof.includes(',')) throw new VerifyError('ERR_DPOP_PROOF_INVALID', 'more than one DPoP header');
  return { scheme: 'DPoP', token, proof: proof?.trim() || undefined };
}
