// The library surface (import { … } from 'agentauth'): verify tokens in your
// own service with the same rules the CLI applies.
export { createTokenVerifier, decodeUnverified, TokenInvalidError, type VerifyOptions, type VerifiedToken } from './core/tokens.js';
export { scopeCovers } from './core/scopes.js';
export { checkTrustClaim, type TrustCheck, type TrustClaim } from './core/audit/trust-claim.js';
