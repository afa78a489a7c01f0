// Fetch API helpers for Hono, Next.js route handlers, Bun, Deno and Workers.
import { VerifyError } from '../core/verify-error.js';
import { describeChallenge } from './challenge.js';
import { resolveVerifier, type AgentAuthOptions, type GuardOptions } from './node.js';
import type { AgentIdentity } from './verifier.js';

/**
 * Wraps a handler so it runs only for a verified agent:
 *   export const GET = withAgentAuth((request, agent) => Response.json({ hello: agent.agent }), { issuer, audience });
 */
export function withAgentAuth<Rest extends unknown[]>(
  handler: (request: Request, agent: AgentIdentity, ...rest: Rest) => Response | Promise<Response>,
  options: AgentAuthOptions,
): (request: Request, ...rest: Rest) => Promise<Response> {
  const verifier = resolveVerifier(options);
  return async (request, ...rest) => {
    let agent: AgentIdentity;
    try {
      agent = await verifier.verifyRequest(publicRequest(request, options.publicOrigin), options.scopes ? { scopes: options.scopes } : {});
    } catch (error) {
      if (error instanceof VerifyError) return challengeResponse(error, { ...options, dpop: /^dpop /i.test(request.headers.get('authorization') ?? '') });
      throw error;
    }
    return handler(request, agent, ...rest);
  };
}

/** The 401/403/503 answer for a failed verification (`error` from verify or verifyRequest). */
export function challengeResponse(error: VerifyError, options: GuardOptions & { dpop?: boolean } = {}): Response {
  const missing = error.code === 'ERR_TOKEN_MISSING';
  const challenge = describeChallenge(missing ? null : error, { resourceMetadata: options.resourceMetadata, scopes: options.scopes, scheme: options.dpop ? 'DPoP' : 'Bearer' });
  const headers = new Headers({ 'content-type': 'application/json', 'cache-control': 'no-store' });
  for (const value of challenge.wwwAuthenticate) headers.append('www-authenticate', value);
  if (challenge.retryAfter) headers.set('retry-after', String(challenge.retryAfter));
  return new Response(JSON.stringify(challenge.body), { status: challenge.status, headers });
}

/** Behind a proxy, DPoP proofs name the public URL: rebuild the request's URL on that origin. */
function publicRequest(request: Request, publicOrigin: string | undefined): Request {
  if (!publicOrigin) return request;
  const url = new URL(request.url);
  return new Request(`${publicOrigin.replace(/\/+$/, '')}${url.pathname}${url.search}`, { method: request.method, headers: request.headers });
}
