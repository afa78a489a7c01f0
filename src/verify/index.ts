// agentauth/verify: verify agentauth tokens in your own service.
//   import { createVerifier, agentauth, withAgentAuth } from 'agentauth/verify';
// The rules are tokens.md's (docs/tokens.md); errors carry its stable codes.
export { createVerifier, type AgentIdentity, type DpopRequest, type Verifier, type VerifierOptions, type VerifyCallOptions } from './verifier.js';
export { VerifyError, isVerifyError } from '../core/verify-error.js';
export { agentauth, type AgentAuthOptions, type GuardOptions, type NextFunction, type NodeLikeRequest, type NodeLikeResponse } from './node.js';
export { challengeResponse, withAgentAuth } from './fetch.js';
export { describeChallenge, type Challenge, type ChallengeOptions } from './challenge.js';
export { protectedResourceMetadata, resourceMetadataUrl, type ProtectedResourceMetadata, type ResourceMetadataInput } from './resource-metadata.js';
export type { JsonWebKeySet } from '../core/key-source.js';
