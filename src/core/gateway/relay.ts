// An upstream's answer on its way to the child: status line and headers
// scrubbed (reason phrase, names and values), the body decoded through every
// coding layer when it comes from a bound host, then scrubbed as it streams.
// Used for every answer the child gets from an upstream: plain requests
// (forward.ts) and upgrades the upstream declined (upgrade.ts).
import type { Duplex } from 'node:stream';
import { createBodyDecoder, findUndecodable, type BodyDecoder } from './content-coding.js';
import type { Exchange } from './exchange.js';
import { readResponseHead, serialiseHead } from './http-headers.js';
import { createStreamScrubber, scrubBuffer, scrubHeaderValue, type StreamScrubber } from './scrub.js';

export interface UpstreamHead {
  status: number;
  statusText: string;
  /** Raw header pairs as latin1 strings. */
  rawHeaders: string[];
}

/** Where the upstream's body goes once its head is relayed; `data` returns false to pause the upstream. */
export interface ResponseRelay {
  data(chunk: Buffer): boolean;
  end(): void;
  fail(): void;
}

/** What the relay writes to: node:http's ServerResponse as it is, or a raw socket (socketSink). */
export interface ResponseSink {
  writeHead(status: number, statusText: string, headers: string[]): unknown;
  flushHeaders(): void;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer): unknown;
  once(event: 'drain', listener: () => void): unknown;
  destroy(): unknown;
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
}

/** The upstream's side: resume after backpressure, abort on a refusal. */
export interface UpstreamControl {
  resume(): void;
  abort(): void;
}

/** For an answer already given in full (bodyless, or refused): whatever else the upstream sends is dropped. */
const DISCARDING_RELAY: ResponseRelay = { data: () => true, end: () => {}, fail: () => {} };
const EMPTY_BODY = Buffer.alloc(0);

export function startResponseRelay(exchange: Exchange, sink: ResponseSink, upstreamHead: UpstreamHead, upstream: UpstreamControl): ResponseRelay {
  const rules = exchange.gateway.scrubRules;
  const { status } = upstreamHead;
  const bound = exchange.route.bound;
  const bodyless = exchange.method === 'HEAD' || status === 204 || status === 304;
  const scrubbing = rules.length > 0;
  // Scrubbing can change the length. A body that arrives whole in its first
  // chunk (most API answers) is scrubbed whole and keeps an exact
  // Content-Length; anything longer is re-framed (chunked, or to the close).
  const head = readResponseHead(upstreamHead.rawHeaders, rules, { dropLength: !bodyless && scrubbing, dropContentEncoding: bound });
  // Content codings are undone for a bound host only (its answers may hold
  // the value); transfer codings always (they belong to the hop we end).
  const layers = bound ? [...head.contentCodings, ...head.transferCodings] : head.transferCodings;
  const undecodable = bodyless ? undefined : findUndecodable(layers);
  if (undecodable !== undefined) {
    // Bytes we cannot read are bytes we cannot scrub: refuse rather than risk
    // echoing the value. The outcome first: the abort reports a failure too.
    exchange.fail('undecodable-response', `${exchange.authority} answered in the coding "${undecodable}", which agentauth cannot decode to inspect`);
    upstream.abort();
    return DISCARDING_RELAY;
  }
  const statusText = scrubHeaderValue(upstreamHead.statusText, rules);
  if (bodyless) {
    sink.writeHead(status, statusText, head.headers);
    sink.end();
    exchange.finish('allow', status);
    return DISCARDING_RELAY;
  }
  const decoder = createBodyDecoder(layers);
  const declared = scrubbing && decoder === null && head.length !== undefined ? Number(head.length) : -1;
  let scrubber: StreamScrubber | null = null;
  let headOut = false;
  const sendHead = () => {
    if (headOut) return;
    headOut = true;
    sink.writeHead(status, statusText, head.headers);
  };
  // Headers normally leave with the first body chunk (one write); when the
  // body is slow to start (SSE) they are flushed on their own right away.
  let flushTimer: NodeJS.Immediate | null = setImmediate(() => {
    flushTimer = null;
    sendHead();
    sink.flushHeaders();
  });
  const stopFlushTimer = () => {
    if (flushTimer) {
      clearImmediate(flushTimer);
      flushTimer = null;
    }
  };
  /** Scrubs and sends one chunk of the (decoded) body; false while the child's socket is full. */
  const send = (chunk: Buffer): boolean => {
    stopFlushTimer();
    if (!headOut && scrubber === null && chunk.length === declared) {
      const whole = scrubBuffer(chunk, rules);
      head.headers.push('Content-Length', String(whole.length));
      sendHead();
      exchange.bytesOut += whole.length;
      sink.end(whole);
      return true;
    }
    scrubber ??= createStreamScrubber(rules);
    const out = scrubber.push(chunk);
    if (out.length === 0) return true;
    sendHead();
    exchange.bytesOut += out.length;
    return sink.write(out);
  };
  const finish = () => {
    stopFlushTimer();
    // Already ended when the whole body came in one chunk.
    if (!sink.writableEnded) {
      const rest = scrubber ? scrubber.flush() : EMPTY_BODY;
      exchange.bytesOut += rest.length;
      sendHead();
      sink.end(rest);
    }
    exchange.finish('allow', status);
  };
  const fail = () => {
    stopFlushTimer();
    // Already decided (refused, or the child went away): nothing more to undo.
    if (exchange.finished) return;
    exchange.finish('error', status, 'upstream-body-error');
    sink.destroy();
  };
  let waitingForDrain = false;
  const waitForDrain = (resume: () => void) => {
    if (waitingForDrain) return;
    waitingForDrain = true;
    sink.once('drain', () => {
      waitingForDrain = false;
      resume();
    });
  };

  if (!decoder) {
    return {
      data(chunk) {
        if (send(chunk)) return true;
        waitForDrain(upstream.resume);
        return false;
      },
      end: finish,
      fail,
    };
  }
  return relayThroughDecoder(exchange, decoder, { send, finish, fail, waitForDrain, stopFlushTimer, headSent: () => headOut }, upstream);
}

interface RelaySteps {
  send(chunk: Buffer): boolean;
  finish(): void;
  fail(): void;
  waitForDrain(resume: () => void): void;
  stopFlushTimer(): void;
  headSent(): boolean;
}

/** The body goes through the decoder first; its output is what gets scrubbed and sent. */
function relayThroughDecoder(exchange: Exchange, decoder: BodyDecoder, steps: RelaySteps, upstream: UpstreamControl): ResponseRelay {
  decoder.onData((chunk) => {
    if (!steps.send(chunk)) {
      decoder.pause();
      steps.waitForDrain(() => decoder.resume());
    }
  });
  decoder.onDrain(upstream.resume);
  decoder.onEnd(steps.finish);
  decoder.onError(() => {
    if (steps.headSent()) steps.fail();
    else {
      // Nothing of the answer has left yet: the child gets the reason.
      steps.stopFlushTimer();
      exchange.fail('undecodable-response', `${exchange.authority} sent a body that does not decode as its Content-Encoding says`);
    }
    upstream.abort();
  });
  return {
    data: (chunk) => decoder.write(chunk),
    end: () => decoder.end(),
    fail: () => {
      decoder.destroy();
      steps.fail();
    },
  };
}

/**
 * A ResponseSink over a raw socket, for an answer to an upgrade request that
 * the upstream declined: HTTP/1.1 with `Connection: close`, so a body without
 * Content-Length ends with the connection.
 */
export function createSocketSink(socket: Duplex): ResponseSink {
  let headersSent = false;
  let ended = false;
  return {
    writeHead(status, statusText, headers) {
      headersSent = true;
      socket.write(serialiseHead(status, statusText, [...headers, 'Connection', 'close']));
    },
    flushHeaders() {},
    write: (chunk) => socket.write(chunk),
    end(chunk) {
      ended = true;
      socket.end(chunk);
    },
    once(event, listener) {
      socket.once(event, listener);
    },
    destroy: () => socket.destroy(),
    get headersSent() {
      return headersSent;
    },
    get writableEnded() {
      return ended;
    },
  };
}
