// serve's HTTP side: public, read-only documents for verifiers. GET and HEAD
// only, conditional GET with strong ETags, and an RFC 9457 problem document
// for everything else. Nothing here can reach a private key or change state.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CheckpointLookup } from './checkpoint.js';
import { JWKS_PATH, type Published, type PublishedDocument } from './documents.js';

export interface HttpDeps {
  documents(): Published;
  checkpoint(): CheckpointLookup;
  health(): Record<string, unknown>;
}

export const METADATA_PATHS = ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'];

export function createHttpHandler(deps: HttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const known = path === JWKS_PATH || path === '/checkpoint' || path === '/healthz' || METADATA_PATHS.includes(path);
    if (!known) return sendProblem(res, 404, 'Not Found', `nothing is published at ${path.slice(0, 200)}; try ${JWKS_PATH}`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendProblem(res, 405, 'Method Not Allowed', 'this server only publishes documents: GET or HEAD');
    }
    try {
      if (path === JWKS_PATH) return sendDocument(req, res, deps.documents().jwks);
      if (path === '/healthz') return sendJson(req, res, 200, deps.health());
      if (path === '/checkpoint') return sendCheckpoint(req, res, deps.checkpoint());
      return sendDocument(req, res, deps.documents().metadata);
    } catch {
      return sendProblem(res, 500, 'Internal Server Error', 'the document could not be built; see the serve log');
    }
  };
}

function sendDocument(req: IncomingMessage, res: ServerResponse, doc: PublishedDocument): void {
  if (matchesEtag(req.headers['if-none-match'], doc.etag)) {
    res.writeHead(304, doc.notModifiedHeaders);
    res.end();
    return;
  }
  res.writeHead(200, doc.headers);
  res.end(req.method === 'HEAD' ? undefined : doc.body);
}

/** If-None-Match uses the weak comparison (RFC 9110 §13.1.2): W/ is ignored; `*` matches anything. */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || tag.replace(/^W\//, '') === etag;
  });
}

function sendCheckpoint(req: IncomingMessage, res: ServerResponse, lookup: CheckpointLookup): void {
  if (lookup.kind === 'none') return sendProblem(res, 404, 'Not Found', 'the audit log has no signed checkpoint yet (agentauth audit checkpoint signs one)');
  if (lookup.kind === 'invalid') return sendProblem(res, 500, 'Internal Server Error', `${lookup.reason}; run agentauth audit verify`);
  const body = Buffer.from(lookup.note, 'utf8');
  const etag = `"${lookup.size}-${body.length}"`;
  // The note is signed: a stale copy is harmless, but verifiers want the latest, so revalidate each time.
  const headers = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache', etag, 'x-content-type-options': 'nosniff' };
  if (matchesEtag(req.headers['if-none-match'], etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** RFC 9457 problem details. */
function sendProblem(res: ServerResponse, status: number, title: string, detail: string): void {
  const body = Buffer.from(JSON.stringify({ type: 'about:blank', title, status, detail }));
  res.writeHead(status, { 'content-type': 'application/problem+json', 'cache-control': 'no-store', 'content-length': body.length, 'x-content-type-options': 'nosniff' });
  res.end(body);
}
