// Express/Connect middleware: `app.use(agentauth({ issuer, audience }))`.
// Sets req.agent, or answers 401/403 with RFC 6750 / RFC 9449 challenges.
// Typed structurally: no web framework (and no @types/node) is needed.
import { VerifyError } from '../core/verify-error.js';
import { describeChallenge } from './challenge.js';
import { readCredentials, type Credentials } from './credentials.js';
import { createVerifier, type AgentIdentity, type Verifier, type VerifierOptions } from './verifier.js';

export interface GuardOptions {
  /** Scopes this route needs (on top of the verifier's). */
  scopes?: string[];
  /** The RFC 9728 metadata URL, sent as resource_metadata in challenges (MCP servers). */
  resourceMetadata?: string;
  /**
   * This service's public origin (https://home.lan), used for DPoP's htu behind
   * a proxy. Default: the request's Host header and whether the socket is TLS.
   */
  publicOrigin?: string;
}

export type AgentAuthOptions = (VerifierOptions | { verifier: Verifier }) & GuardOptions;

export interface NodeLikeRequest {
  method?: string | undefined;
  url?: string | undefined;
  originalUrl?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  /** Read for `encrypted` (TLS): typed loosely so both node:http and framework sockets fit. */
  socket?: unknown;
  agent?: AgentIdentity;
}

export interface NodeLikeResponse {
  statusCode: number;
  setHeader(name: string, value: string | number | readonly string[]): unknown;
  end(body?: string): unknown;
}

export type NextFunction = (error?: unknown) => void;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by agentauth/verify's middleware. */
      agent?: AgentIdentity;
    }
  }
}

export function resolveVerifier(options: AgentAuthOptions): Verifier {
  return 'verifier' in options && options.verifier ? options.verifier : createVerifier(options as VerifierOptions);
}

export function agentauth(options: AgentAuthOptions): (req: NodeLikeRequest, res: NodeLikeResponse, next: NextFunction) => void {
  const verifier = resolveVerifier(options);
  return (req, res, next) => {
    let credentials: Credentials | null = null;
    const check = async (): Promise<AgentIdentity | null> => {
      credentials = readCredentials(single(req.headers['authorization']), req.headers['dpop']);
      if (!credentials) return null;
      return verifier.verify(credentials.token, {
        ...(options.scopes ? { scopes: options.scopes } : {}),
        ...(credentials.scheme === 'DPoP' ? { dpop: { proof: credentials.proof ?? '', method: req.method ?? 'GET', url: requestUrl(req, options.publicOrigin) } } : {}),
      });
    };
    // next() is called outside the promise's error path: a later handler's failure is never taken for ours.
    check().then(
      (agent) => {
        if (!agent) return respond(res, null, options, null);
        req.agent = agent;
        next();
      },
      (error: unknown) => {
        if (error instanceof VerifyError) respond(res, error, options, credentials);
        else next(error);
      },
    );
  };
}

function respond(res: NodeLikeResponse, error: VerifyError | null, options: GuardOptions, credentials: Credentials | null): void {
  const challenge = describeChallenge(error, { resourceMetadata: options.resourceMetadata, scopes: options.scopes, scheme: credentials?.scheme });
  res.statusCode = challenge.status;
  if (challenge.wwwAuthenticate.length) res.setHeader('WWW-Authenticate', challenge.wwwAuthenticate);
  if (challenge.retryAfter) res.setHeader('Retry-After', challenge.retryAfter);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(challenge.body));
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The absolute URL the client sent the request to (for DPoP's htu). */
function requestUrl(req: NodeLikeRequest, publicOrigin: string | undefined): string {
  const path = req.originalUrl ?? req.url ?? '/';
  if (publicOrigin) return `${publicOrigin.replace(/\/+$/, '')}${path}`;
  const host = single(req.headers['host']) ?? 'localhost';
  const tls = (req.socket as { encrypted?: boolean } | null | undefined)?.encrypted === true;
  return `${tls ? 'https' : 'http'}://${host}${path}`;
}
