// The gateway's own answers (denials and failures) as RFC 9457 problem
// documents, so a program can branch on `reason`. Each also carries an
// `error` object shaped like the big model providers' errors, so an agent
// built on their SDKs shows agentauth's reason instead of "unknown error".
import http, { type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export type ProblemReason =
  | 'proxy-auth-required'
  | 'run-key-required'
  | 'not-a-proxy-request'
  | 'bad-request'
  | 'duplicate-host'
  | 'loop'
  | 'unlisted-host'
  | 'unknown-secret'
  | 'scheme-mismatch'
  | 'host-mismatch'
  | 'placeholder-misplaced'
  | 'not-granted'
  | 'upstream-unreachable'
  | 'upstream-tls-unverified'
  | 'upstream-bad-response'
  | 'undecodable-response'
  | 'gateway-error';

const PROBLEM_TYPE_BASE = 'https://agentauth.dev/problems/';

const TITLES: Record<ProblemReason, string> = {
  'proxy-auth-required': 'Proxy credentials required',
  'run-key-required': "This run's base-URL key required",
  'not-a-proxy-request': 'Not a proxy request',
  'bad-request': 'Bad request',
  'duplicate-host': 'More than one Host header',
  loop: 'The gateway does not proxy to itself',
  'unlisted-host': 'Host not listed for this run',
  'unknown-secret': 'No base URL for this secret',
  'scheme-mismatch': 'Scheme differs from the binding',
  'host-mismatch': 'Request target differs from the tunnel',
  'placeholder-misplaced': 'Placeholder in the wrong place',
  'not-granted': 'Outside the grant',
  'upstream-unreachable': 'Upstream unreachable',
  'upstream-tls-unverified': 'Upstream certificate not trusted',
  'upstream-bad-response': 'Upstream answer unusable',
  'undecodable-response': 'Upstream answer cannot be inspected',
  'gateway-error': 'Gateway failure',
};

/** The provider-style error type for a status (Anthropic's and OpenAI's SDKs read `error.type`). */
function errorType(status: number): string {
  if (status === 401 || status === 407) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

export function renderProblem(status: number, reason: ProblemReason, detail: string): string {
  return `${JSON.stringify({
    type: `${PROBLEM_TYPE_BASE}${reason}`,
    title: TITLES[reason],
    status,
    detail,
    reason,
    error: { type: errorType(status), message: `agentauth: ${detail}` },
  })}\n`;
}

/** Where a problem goes: node:http's response, or a socket that left node:http (CONNECT, upgrades). */
export type ReplyTarget = ServerResponse | Duplex;

export function sendProblem(target: ReplyTarget, status: number, reason: ProblemReason, detail: string, headers: Record<string, string> = {}): void {
  const body = renderProblem(status, reason, detail);
  if (target instanceof http.ServerResponse) {
    // Too late for a status line: the child sees the connection end instead.
    if (target.headersSent) return void target.destroy();
    target.writeHead(status, { ...headers, 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body) });
    target.end(body);
    return;
  }
  if (target.destroyed) return;
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  target.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n${lines}Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);

/** Why an upstream request failed before its answer began, in the words the child's 502 carries. */
export function describeUpstreamFailure(error: NodeJS.ErrnoException, authority: string): { reason: ProblemReason; detail: string } {
  const code = error.code;
  if (/CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|HOSTNAME/i.test(code ?? '')) {
    return { reason: 'upstream-tls-unverified', detail: `${authority} presented a certificate the system roots do not trust (${code}); for a self-hosted service pass --upstream-ca FILE to agentauth run` };
  }
  if (code !== undefined && UNREACHABLE.has(code)) return { reason: 'upstream-unreachable', detail: `cannot reach ${authority} (${code})` };
  return { reason: 'upstream-bad-response', detail: `${authority} closed the connection or answered with something that is not HTTP/1.1 (${error.message})` };
}
