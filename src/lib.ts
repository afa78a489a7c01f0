// The library surface (import { … } from 'agentauth'): verify tokens in your
// own service with the same rules the CLI applies. `agentauth/verify` adds
// remote JWKS, middleware and DPoP on top (src/verify/).
export { createTokenVerifier, type VerifyOptions, type VerifiedToken } from './core/token-verify.js';
export { decodeUnverified } from './core/tokens.js';
export { VerifyError } from './core/verify-error.js';
export { scopeCovers } from './core/scopes.js';
export { checkTrustClaim, type TrustCheck, type TrustClaim } from './core/audit/trust-claim.js';
