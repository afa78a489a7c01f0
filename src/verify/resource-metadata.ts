// RFC 9728 protected resource metadata: what an MCP client fetches to learn
// which authorization server (here: the agentauth issuer) vouches for the
// tokens this resource accepts.
import { DPOP_ALGORITHMS } from '../core/dpop.js';

export interface ResourceMetadataInput {
  /** This resource's identifier, e.g. https://home.lan/mcp. */
  resource: string;
  /** The agentauth issuer (iss) whose tokens it accepts. */
  issuer: string;
  /** Scopes it understands, if you want clients to see them. */
  scopes?: string[];
}

export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  bearer_methods_supported: string[];
  dpop_signing_alg_values_supported: string[];
  scopes_supported?: string[];
}

export function protectedResourceMetadata(input: ResourceMetadataInput): ProtectedResourceMetadata {
  return {
    resource: input.resource,
    authorization_servers: [input.issuer],
    bearer_methods_supported: ['header'],
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
    ...(input.scopes ? { scopes_supported: [...input.scopes] } : {}),
  };
}

/**
 * Where the metadata of `resource` lives (RFC 9728 §3.1): the well-known
 * segment goes between the host and the resource's path.
 * https://home.lan/mcp → https://home.lan/.well-known/oauth-protected-resource/mcp
 */
export function resourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}/.well-known/oauth-protected-resource${path}`;
}
