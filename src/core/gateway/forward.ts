// One request upstream and its answer back, through undici's HTTP/1.1 client:
// pooled keep-alive connections (a TLS handshake per request would dominate)
// at about half the CPU per request of node:http's client (bench/gateway.mjs).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Exchange } from './exchange.js';
import type { Outbound } from './outbound.js';
import { startResponseRelay, type ResponseRelay } from './relay.js';
import { formatHostHeader } from './targets.js';

export function forwardRequest(exchange: Exchange, req: IncomingMessage, res: ServerResponse, outbound: Outbound): void {
  const { route } = exchange;
  let abortUpstream: ((reason?: Error) => void) | null = null;
  let relay: ResponseRelay | null = null;
  res.once('close', () => {
    if (!res.writableFinished) {
      // Recorded before the abort, whose error would otherwise be blamed on the upstream.
      exchange.finish('allow', res.statusCode || 499, 'client-closed');
      abortUpstream?.();
    }
  });
  exchange.gateway.dispatcher.dispatch(
    {
      origin: `${route.scheme}://${formatHostHeader(route.scheme, route.host, route.port)}`,
      path: outbound.target,
      method: exchange.method,
      headers: outbound.headers,
      // RFC 9112 §6.3: a request has a body only with Content-Length or Transfer-Encoding.
      body: req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined ? null : Readable.from(countBody(req, exchange), { objectMode: false }),
    },
    {
      onConnect(abort: (reason?: Error) => void) {
        abortUpstream = abort;
      },
      onHeaders(status: number, rawHeaders: Buffer[], resume: () => void, statusText: string) {
        // 1xx (e.g. 103 Early Hints) precede the real answer; the child gets only that.
        if (status < 200) return true;
        relay = startResponseRelay(exchange, res, { status, statusText, rawHeaders: latin1Pairs(rawHeaders) }, { resume, abort: () => abortUpstream?.() });
        return true;
      },
      onData(chunk: Buffer) {
        return relay ? relay.data(chunk) : true;
      },
      onComplete() {
        relay?.end();
      },
      onError(error: NodeJS.ErrnoException) {
        if (relay) relay.fail();
        else exchange.failUpstream(error);
      },
    },
  );
}

function latin1Pairs(raw: readonly Buffer[]): string[] {
  const out = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = raw[i]!.toString('latin1');
  return out;
}

/** The child's request body for undici, counted as it passes (an async iterable keeps backpressure). */
async function* countBody(req: IncomingMessage, exchange: Exchange): AsyncGenerator<Buffer> {
  for await (const chunk of req) {
    exchange.bytesIn += (chunk as Buffer).length;
    yield chunk as Buffer;
  }
}
