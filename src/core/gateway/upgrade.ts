// Upgrades (WebSocket and others) through node:http, which hands over both
// sockets once the upstream agrees. The request went through the same checks
// and swap as any other (outbound.ts). After a 101 the upstream's bytes are
// scrubbed frame by frame (WebSocket) or as a byte stream; an upstream that
// declines answers like any other response, through the same relay.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import net, { type Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { Exchange } from './exchange.js';
import { scrubHeaderList, serialiseHead } from './http-headers.js';
import type { Outbound } from './outbound.js';
import { createSocketSink, startResponseRelay } from './relay.js';
import { createStreamScrubber, scrubHeaderValue } from './scrub.js';
import { createWsFrameScrubber, WsProtocolError } from './ws-scrub.js';

export interface UpgradeSocket {
  socket: Socket;
  head: Buffer;
}

export function forwardUpgrade(exchange: Exchange, upgrade: UpgradeSocket, outbound: Outbound): void {
  const { route, gateway } = exchange;
  // Upgrade itself is already in the list (outbound.ts let it through the placeholder checks).
  outbound.headers.push('Connection', 'Upgrade');
  const requestOptions: https.RequestOptions = {
    method: exchange.method,
    host: route.host,
    port: route.port,
    path: outbound.target,
    headers: outbound.headers as unknown as http.OutgoingHttpHeaders,
    setHost: false,
    agent: false,
  };
  if (route.scheme === 'https') {
    (requestOptions as ConnectionOptions).secureContext = gateway.options.upstreamContext;
    if (net.isIP(route.host) === 0) requestOptions.servername = route.host;
  }
  const upstream = route.scheme === 'https' ? https.request(requestOptions) : http.request(requestOptions);
  upstream.on('error', (error: NodeJS.ErrnoException) => exchange.failUpstream(error));
  upstream.on('upgrade', (ures: IncomingMessage, usocket: Socket, uhead: Buffer) => relayUpgrade(exchange, upgrade, ures, usocket, uhead));
  upstream.on('response', (ures: IncomingMessage) => relayDeclined(exchange, upgrade.socket, ures));
  upstream.end();
}

/** The upstream agreed: relay the 101 and then both byte streams, the upstream's scrubbed. */
function relayUpgrade(exchange: Exchange, upgrade: UpgradeSocket, ures: IncomingMessage, usocket: Socket, uhead: Buffer): void {
  const rules = exchange.gateway.scrubRules;
  const client = upgrade.socket;
  usocket.setNoDelay(true);
  exchange.gateway.track(usocket);
  client.write(serialiseHead(ures.statusCode ?? 101, scrubHeaderValue(ures.statusMessage ?? 'Switching Protocols', rules), scrubHeaderList(ures.rawHeaders, rules)));
  const end = () => {
    client.destroy();
    usocket.destroy();
    exchange.finish('allow', 101);
  };
  // WebSocket frames are parsed and re-framed; any other upgraded protocol is scrubbed as a byte stream.
  const websocket = String(ures.headers['upgrade'] ?? '').trim().toLowerCase() === 'websocket';
  const frames = rules.length > 0 && websocket ? createWsFrameScrubber(rules) : null;
  const bytes = rules.length > 0 && !websocket ? createStreamScrubber(rules) : null;
  const relay = (chunk: Buffer): boolean => {
    exchange.bytesOut += chunk.length;
    let out = chunk;
    try {
      if (frames) out = frames.push(chunk);
      else if (bytes) out = bytes.push(chunk);
    } catch (error) {
      if (!(error instanceof WsProtocolError)) throw error;
      // A frame we cannot vouch for (masked, extension bits, malformed): end the connection rather than pass it on.
      end();
      return false;
    }
    if (out.length === 0) return true;
    if (!client.write(out)) {
      usocket.pause();
      client.once('drain', () => usocket.resume());
    }
    return true;
  };
  if (uhead.length > 0 && !relay(uhead)) return;
  if (upgrade.head.length > 0) usocket.write(upgrade.head);
  client.on('data', (chunk: Buffer) => (exchange.bytesIn += chunk.length));
  client.pipe(usocket);
  usocket.on('data', relay);
  usocket.on('end', () => {
    const rest = bytes ? bytes.flush() : null;
    if (rest && rest.length > 0) client.end(rest);
    else client.end();
  });
  usocket.once('close', end);
  client.once('close', end);
  usocket.on('error', end);
}

/** The upstream declined the upgrade: its answer goes through the same relay as any response, then the connection closes. */
function relayDeclined(exchange: Exchange, client: Socket, ures: IncomingMessage): void {
  const relay = startResponseRelay(exchange, createSocketSink(client), { status: ures.statusCode ?? 502, statusText: ures.statusMessage ?? '', rawHeaders: ures.rawHeaders }, {
    resume: () => ures.resume(),
    abort: () => ures.destroy(),
  });
  ures.on('data', (chunk: Buffer) => {
    if (!relay.data(chunk)) ures.pause();
  });
  ures.on('end', () => relay.end());
  ures.on('error', () => relay.fail());
  client.once('close', () => {
    // Finished already unless the child hung up before the answer was through.
    exchange.finish('allow', ures.statusCode ?? 502, 'client-closed');
    ures.destroy();
  });
}
