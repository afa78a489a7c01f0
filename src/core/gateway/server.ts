// The credential-swapping gateway: a forward proxy on loopback (CONNECT and
// absolute-form http/https requests) plus base-URL mode (`/_/<secret>/…`).
// TLS is terminated only for hosts a granted secret is bound to; everything
// else is a blind tunnel (or refused with denyUnlisted). Responses stream
// through a scrubber so the real value never travels back to the child.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type Socket } from 'node:net';
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { Readable, type Duplex, type Transform } from 'node:stream';
// Only undici's HTTP/1.1 client: the package's index would also load fetch, WebSocket and caches.
import UndiciAgent from 'undici/lib/dispatcher/agent.js';
import { policyBindsHost } from '../secrets.js';
import { decideRequest, formatAuthority, type Decision, type RunSecret } from './policy.js';
import { createStreamScrubber, scrubBuffer, scrubHeaderValue, type ScrubRule, type StreamScrubber } from './scrub.js';
import { createWsFrameScrubber, WsProtocolError } from './ws-scrub.js';

export interface Principal {
  /** The session jti the audit log attributes traffic to (read per event: renewals change it). */
  readonly jti: string;
}

export interface GatewayEvent {
  kind: 'gateway.request' | 'gateway.deny';
  actor: { sub: string; jti: string };
  data: {
    agent: string;
    method: string;
    host: string;
    path: string;
    secret: string | null;
    decision: 'allow' | 'deny' | 'tunnel' | 'error';
    reason?: string;
    status: number;
    ms: number;
    bytes_in: number;
    bytes_out: number;
  };
}

export interface GatewayOptions {
  agent: string;
  secrets: RunSecret[];
  /** Checks a proxy credential (the session token); null = 407. */
  authenticate(token: string): Principal | null | Promise<Principal | null>;
  /** The principal for base-URL requests that prove themselves with a placeholder. */
  placeholderPrincipal: Principal;
  /** TLS context (leaf certificate) for a host we terminate. */
  contextForHost(host: string): Promise<SecureContext>;
  /** Trust for upstream TLS: system roots plus --upstream-ca. */
  upstreamContext: SecureContext;
  denyUnlisted: boolean;
  onEvent(event: GatewayEvent): void;
  host?: string;
  port?: number;
}

export interface GatewayStats {
  requests: number;
  denied: number;
  unauthenticated: number;
}

export interface Gateway {
  port: number;
  host: string;
  stats: GatewayStats;
  /** Stops listening and ends every open connection. */
  close(): Promise<void>;
}

/** One proxied request's bookkeeping for its audit event. */
interface Exchange {
  route: Route;
  method: string;
  path: string;
  secretName: string | null;
  started: number;
  bytesIn: number;
  bytesOut: number;
  finished: boolean;
}

interface Route {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  principal: Principal;
  /** Set inside a terminated CONNECT tunnel: the Host header must agree with it for a swap. */
  tunnel: boolean;
  /** Base-URL mode: the path prefix to strip and the Host header to set. */
  baseUrl?: { prefix: string; secret: RunSecret };
}

// RFC 9110 §7.6.1 plus the de-facto ones; each is meaningful for one hop only.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']);
const DECODERS: Record<string, () => Transform> = { gzip: createGunzip, 'x-gzip': createGunzip, deflate: createInflate, br: createBrotliDecompress };
const BASE_PREFIX = '/_/';
const EMPTY_BODY = Buffer.alloc(0);

interface UpstreamHead {
  status: number;
  statusText: string;
  /** Raw header pairs as latin1 strings, the way node:http presents them. */
  rawHeaders: string[];
}

/** Where the upstream's body goes once its headers are relayed; `data` returns false to pause the upstream. */
interface ResponseRelay {
  data(chunk: Buffer): boolean;
  end(): void;
  fail(): void;
}

/** For an answer already given in full (bodyless, or refused): whatever else the upstream sends is dropped. */
const DISCARDING_RELAY: ResponseRelay = { data: () => true, end: () => {}, fail: () => {} };

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const listenHost = options.host ?? '127.0.0.1';
  const stats: GatewayStats = { requests: 0, denied: 0, unauthenticated: 0 };
  const scrubRules: ScrubRule[] = options.secrets.flatMap((secret) => secret.scrub).sort((a, b) => b.pattern.length - a.pattern.length);
  const sockets = new Set<Socket | TLSSocket>();
  let ownPort = -1;
  const routes = new WeakMap<object, Route>();
  // Upstream requests go through undici: pooled keep-alive connections (a TLS
  // handshake per request would dominate) at about half the CPU per request
  // of node:http's client, measured in bench/gateway.mjs. No header or body
  // timeouts: a model may think for minutes before it answers, and an SSE
  // stream may stay quiet for longer. Redirects are never followed.
  const dispatcher = new UndiciAgent({ headersTimeout: 0, bodyTimeout: 0, connect: { secureContext: options.upstreamContext } });

  // requestTimeout 0: a long upload or a long-lived stream is not cut at 300 s.
  const serverOptions: http.ServerOptions = { noDelay: true, requestTimeout: 0 };
  const outer = http.createServer(serverOptions);
  // Decrypted traffic from terminated tunnels is fed to a server that never listens.
  const inner = http.createServer(serverOptions);

  const track = (socket: Socket | TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  outer.on('connection', track);

  function emit(route: { host: string; principal: Principal } | null, method: string, path: string, secret: string | null, decision: GatewayEvent['data']['decision'], status: number, started: number, bytesIn: number, bytesOut: number, reason?: string): void {
    const denied = decision === 'deny';
    stats.requests += 1;
    if (denied) stats.denied += 1;
    const jti = (route?.principal ?? options.placeholderPrincipal).jti;
    try {
      // Keys in canonical (sorted) order: the audit writer then serialises with one JSON.stringify.
      options.onEvent({
        kind: denied ? 'gateway.deny' : 'gateway.request',
        actor: { jti, sub: `agent:${options.agent}` },
        data: {
          agent: options.agent,
          bytes_in: bytesIn,
          bytes_out: bytesOut,
          decision,
          host: route ? route.host : '',
          method,
          ms: Math.round(performance.now() - started),
          path,
          ...(reason ? { reason } : {}),
          secret,
          status,
        },
      });
    } catch {
      // The audit sink reports its own failures; a request is not failed for it.
    }
  }

  // The child sends the same Proxy-Authorization on every request: remember the last one decoded.
  let lastHeader: string | null = null;
  let lastToken = '';
  function authenticateHeader(header: string | undefined): Principal | null | Promise<Principal | null> {
    if (!header) return null;
    if (header !== lastHeader) {
      const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
      if (!match) return null;
      const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      lastToken = colon === -1 ? decoded : decoded.slice(colon + 1);
      lastHeader = header;
    }
    return options.authenticate(lastToken);
  }

  /** Runs a handler that may finish synchronously or return a promise; any failure goes to onError. */
  function guard(run: () => void | Promise<void>, onError: (error: unknown) => void): void {
    try {
      const result = run();
      if (result) result.catch(onError);
    } catch (error) {
      onError(error);
    }
  }

  // ---- CONNECT -------------------------------------------------------------
  outer.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    void handleConnect(req, socket, head).catch(() => socket.destroy());
  });

  async function handleConnect(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const started = performance.now();
    const principal = await authenticateHeader(req.headers['proxy-authorization']);
    if (!principal) {
      stats.unauthenticated += 1;
      writeRaw(socket, 407, 'proxy-auth-required', 'send the session token as proxy credentials: use the HTTPS_PROXY that agentauth run set', { 'Proxy-Authenticate': 'Basic realm="agentauth"' });
      return;
    }
    const authority = parseAuthority(req.url ?? '', 443);
    if (!authority) {
      writeRaw(socket, 400, 'bad-request', 'CONNECT needs host:port');
      return;
    }
    const route: Route = { scheme: 'https', host: authority.host, port: authority.port, principal, tunnel: true };
    if (isSelf(authority.host, authority.port)) {
      emit(route, 'CONNECT', '', null, 'deny', 403, started, 0, 0, 'loop');
      writeRaw(socket, 403, 'loop', 'the gateway does not proxy to itself');
      return;
    }
    const bound = options.secrets.some((secret) => policyBindsHost(secret.policy, authority.host, authority.port));
    if (bound) {
      const context = await options.contextForHost(authority.host);
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) socket.unshift(head);
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context, ALPNProtocols: ['http/1.1'] });
      secure.on('error', () => secure.destroy());
      routes.set(secure, route);
      track(secure);
      inner.emit('connection', secure);
      return;
    }
    if (options.denyUnlisted) {
      emit(route, 'CONNECT', '', null, 'deny', 403, started, 0, 0, 'unlisted-host');
      writeRaw(socket, 403, 'unlisted-host', `no granted secret is bound to ${formatAuthority(authority.host, authority.port)}, and this run denies unlisted hosts`);
      return;
    }
    openBlindTunnel(route, socket, head, started);
  }

  function openBlindTunnel(route: Route, socket: Socket, head: Buffer, started: number): void {
    let bytesIn = head.length;
    let bytesOut = 0;
    let connected = false;
    const upstream = net.connect({ host: route.host, port: route.port, noDelay: true });
    track(upstream);
    upstream.once('connect', () => {
      connected = true;
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      socket.on('data', (chunk: Buffer) => (bytesIn += chunk.length));
      upstream.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    upstream.once('error', () => {
      if (!connected) writeRaw(socket, 502, 'upstream-unreachable', `cannot connect to ${formatAuthority(route.host, route.port)}`, {}, 'agentauth_upstream_error');
      else socket.destroy();
    });
    socket.once('close', () => upstream.destroy());
    upstream.once('close', () => {
      socket.destroy();
      emit(route, 'CONNECT', '', null, connected ? 'tunnel' : 'error', connected ? 200 : 502, started, bytesIn, bytesOut);
    });
  }

  // ---- plain requests: absolute-form or base-URL mode ------------------------
  outer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    guard(() => handleOuterRequest(req, res, null), (error: unknown) => failInternal(res, error));
  });
  outer.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    guard(() => handleOuterRequest(req, null, { socket, head }), () => socket.destroy());
  });
  inner.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const route = routes.get(req.socket);
    if (!route) return void res.destroy();
    guard(() => forward(req, res, null, route, req.url ?? '/'), (error: unknown) => failInternal(res, error));
  });
  inner.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const route = routes.get(socket);
    if (!route) return void socket.destroy();
    socket.on('error', () => socket.destroy());
    guard(() => forward(req, null, { socket, head }, route, req.url ?? '/'), () => socket.destroy());
  });

  function replyOuter(res: ServerResponse | null, upgrade: { socket: Socket } | null, status: number, reason: string, hint: string, extra: Record<string, string> = {}, error = 'agentauth_denied'): void {
    if (res) writeJson(res, status, reason, hint, extra, error);
    else writeRaw(upgrade!.socket, status, reason, hint, extra, error);
  }

  // Synchronous unless the token is new to the session (then its verification is awaited).
  function handleOuterRequest(req: IncomingMessage, res: ServerResponse | null, upgrade: { socket: Socket; head: Buffer } | null): void | Promise<void> {
    const url = req.url ?? '/';
    const started = performance.now();
    if (url.startsWith(BASE_PREFIX)) {
      const slash = url.indexOf('/', BASE_PREFIX.length);
      const name = url.slice(BASE_PREFIX.length, slash === -1 ? undefined : slash).split('?')[0]!;
      const secret = options.secrets.find((candidate) => candidate.name === name);
      const upstreamHost = secret?.policy.hosts.find((pattern) => !pattern.wildcard);
      if (!secret || !upstreamHost) {
        emit(null, req.method ?? 'GET', stripQuery(url), null, 'deny', 404, started, 0, 0, 'unknown-secret');
        return replyOuter(res, upgrade, 404, 'unknown-secret', `this run has no base URL for "${name}"`);
      }
      const prefix = `${BASE_PREFIX}${name}`;
      const rest = url.slice(prefix.length);
      const target = rest === '' || rest.startsWith('?') ? `/${rest}` : rest;
      const go = (found: Principal | null) => {
        const route: Route = { scheme: 'https', host: upstreamHost.host, port: upstreamHost.port, principal: found ?? options.placeholderPrincipal, tunnel: false, baseUrl: { prefix, secret } };
        forward(req, res, upgrade, route, target);
      };
      const principal = authenticateHeader(req.headers['proxy-authorization']);
      return principal instanceof Promise ? principal.then(go) : go(principal);
    }
    if (!/^https?:\/\//i.test(url)) {
      return replyOuter(res, upgrade, 400, 'not-a-proxy-request', 'send requests through HTTPS_PROXY, or to a base URL http://127.0.0.1:<port>/_/<secret>/…');
    }
    const principal = authenticateHeader(req.headers['proxy-authorization']);
    if (principal instanceof Promise) return principal.then((found) => forwardAbsolute(req, res, upgrade, url, started, found));
    forwardAbsolute(req, res, upgrade, url, started, principal);
  }

  function forwardAbsolute(req: IncomingMessage, res: ServerResponse | null, upgrade: { socket: Socket; head: Buffer } | null, url: string, started: number, principal: Principal | null): void {
    const reply = (status: number, reason: string, hint: string, extra: Record<string, string> = {}) => replyOuter(res, upgrade, status, reason, hint, extra);
    if (!principal) {
      stats.unauthenticated += 1;
      return reply(407, 'proxy-auth-required', 'send the session token as proxy credentials: use the HTTP_PROXY that agentauth run set', { 'Proxy-Authenticate': 'Basic realm="agentauth"' });
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return reply(400, 'bad-request', 'unparseable absolute URL');
    }
    const scheme = parsed.protocol === 'https:' ? 'https' : 'http';
    const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    const port = parsed.port ? Number(parsed.port) : scheme === 'https' ? 443 : 80;
    const route: Route = { scheme, host, port, principal, tunnel: false };
    if (isSelf(host, port)) {
      emit(route, req.method ?? 'GET', parsed.pathname, null, 'deny', 403, started, 0, 0, 'loop');
      return reply(403, 'loop', 'the gateway does not proxy to itself');
    }
    if (options.denyUnlisted && !options.secrets.some((secret) => policyBindsHost(secret.policy, host, port))) {
      emit(route, req.method ?? 'GET', parsed.pathname, null, 'deny', 403, started, 0, 0, 'unlisted-host');
      return reply(403, 'unlisted-host', `no granted secret is bound to ${formatAuthority(host, port)}, and this run denies unlisted hosts`);
    }
    // Absolute-form: RFC 9112 §3.2.2, the URL's authority is the Host.
    return forward(req, res, upgrade, route, `${parsed.pathname}${parsed.search}`, parsed.host);
  }

  // ---- the swap and the upstream request -------------------------------------
  function forward(req: IncomingMessage, res: ServerResponse | null, upgrade: { socket: Socket; head: Buffer } | null, route: Route, target: string, hostOverride?: string): void {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const path = stripQuery(target);
    const { headers, host: hostHeader, hostCount } = filterRequestHeaders(req.rawHeaders, upgrade !== null);
    if (hostCount > 1) {
      // RFC 9112 §3.2: a 400. The check below reads one Host header, an
      // upstream might route by another: never let the two disagree.
      emit(route, method, path, null, 'deny', 400, started, 0, 0, 'duplicate-host');
      req.resume();
      return replyTo(res, upgrade, 400, 'duplicate-host', 'send exactly one Host header');
    }

    const decision: Decision = decideRequest(
      { method, host: route.host, port: route.port, target, headers, ...(route.tunnel && hostHeader !== undefined ? { hostHeader } : {}) },
      options.secrets,
    );
    if (decision.kind === 'deny') {
      emit(route, method, path, decision.secret, 'deny', 403, started, 0, 0, decision.reason);
      req.resume();
      return replyTo(res, upgrade, 403, decision.reason, decision.hint);
    }
    // Base-URL mode without proxy credentials: the placeholder in the declared place is the credential.
    if (route.baseUrl && route.principal === options.placeholderPrincipal && !decision.swapped.includes(route.baseUrl.secret)) {
      stats.unauthenticated += 1;
      req.resume();
      const secret = route.baseUrl.secret;
      const where = secret.record.header !== undefined ? `the ${secret.record.header} header` : `the ${secret.record.query} query parameter`;
      return replyTo(res, upgrade, 401, 'placeholder-required', `send this run's placeholder for "${secret.name}" in ${where}`);
    }

    // decideRequest hands back the filtered array itself when it swapped nothing; that array is ours to change.
    const outHeaders = decision.headers === headers ? headers : decision.headers.slice();
    if (hostOverride !== undefined || route.baseUrl) setHeader(outHeaders, 'Host', hostOverride ?? hostForUpstream(route));
    else if (hostHeader === undefined) setHeader(outHeaders, 'Host', hostForUpstream(route));
    const swapped = decision.swapped.length > 0;
    const secretName = swapped ? (decision.swapped.length === 1 ? decision.swapped[0]!.name : decision.swapped.map((secret) => secret.name).join(',')) : null;
    if (swapped) restrictAcceptEncoding(outHeaders);

    const exchange: Exchange = { route, method, path, secretName, started, bytesIn: 0, bytesOut: 0, finished: false };
    if (upgrade) return forwardUpgrade(req, upgrade, route, exchange, decision.target, outHeaders);

    const response = res!;
    let abortUpstream: ((reason?: Error) => void) | null = null;
    let relay: ResponseRelay | null = null;
    response.once('close', () => {
      if (!response.writableFinished) {
        // Recorded before the abort, whose error would otherwise be blamed on the upstream.
        finishExchange(exchange, 'allow', response.statusCode || 499, 'client-closed');
        abortUpstream?.();
      }
    });
    dispatcher.dispatch(
      {
        origin: `${route.scheme}://${hostForUpstream(route)}`,
        path: decision.target,
        method,
        headers: outHeaders,
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
          relay = startResponseRelay(exchange, response, { status, statusText, rawHeaders: latin1Pairs(rawHeaders) }, swapped, resume, () => abortUpstream?.());
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
          else failUpstream(exchange, error, response, null);
        },
      },
    );
  }

  /** WebSocket and other upgrades: node:http hands over both sockets once the upstream agrees. */
  function forwardUpgrade(req: IncomingMessage, upgrade: { socket: Socket; head: Buffer }, route: Route, exchange: Exchange, target: string, outHeaders: string[]): void {
    outHeaders.push('Connection', 'Upgrade');
    const upgradeValue = req.headers['upgrade'];
    if (upgradeValue) outHeaders.push('Upgrade', upgradeValue);
    const https_ = route.scheme === 'https';
    const requestOptions: https.RequestOptions = {
      method: exchange.method,
      host: route.host,
      port: route.port,
      path: target,
      headers: outHeaders as unknown as http.OutgoingHttpHeaders,
      setHost: false,
      agent: false,
    };
    if (https_) {
      (requestOptions as tls.ConnectionOptions).secureContext = options.upstreamContext;
      if (net.isIP(route.host) === 0) requestOptions.servername = route.host;
    }
    const upstream = https_ ? https.request(requestOptions) : http.request(requestOptions);
    upstream.on('error', (error: NodeJS.ErrnoException) => failUpstream(exchange, error, null, upgrade));
    upstream.on('upgrade', (ures: IncomingMessage, usocket: Socket, uhead: Buffer) => relayUpgrade(exchange, upgrade, ures, usocket, uhead));
    upstream.on('response', (ures: IncomingMessage) => relayDeclinedUpgrade(exchange, upgrade.socket, ures));
    upstream.end();
  }

  /** The upstream failed before it answered (unreachable, untrusted, or not speaking HTTP/1.1): 502 with the reason. */
  function failUpstream(exchange: Exchange, error: NodeJS.ErrnoException, res: ServerResponse | null, upgrade: { socket: Socket } | null): void {
    const { reason, hint } = describeUpstreamFailure(error, formatAuthority(exchange.route.host, exchange.route.port));
    finishExchange(exchange, 'error', 502, reason);
    if (res && !res.headersSent) writeJson(res, 502, reason, hint, {}, 'agentauth_upstream_error');
    else if (res) res.destroy();
    else if (upgrade && !upgrade.socket.destroyed) writeRaw(upgrade.socket, 502, reason, hint, {}, 'agentauth_upstream_error');
  }

  function replyTo(res: ServerResponse | null, upgrade: { socket: Socket } | null, status: number, reason: string, hint: string): void {
    if (res) writeJson(res, status, reason, hint, {}, 'agentauth_denied');
    else writeRaw(upgrade!.socket, status, reason, hint, {}, 'agentauth_denied');
  }

  function finishExchange(exchange: Exchange, decisionKind: GatewayEvent['data']['decision'], status: number, reason?: string): void {
    if (exchange.finished) return;
    exchange.finished = true;
    emit(exchange.route, exchange.method, exchange.path, exchange.secretName, decisionKind, status, exchange.started, exchange.bytesIn, exchange.bytesOut, reason);
  }

  /**
   * Relays an upstream answer to the child: headers filtered and scrubbed,
   * the body scrubbed as it streams (decoded first when a swap made us
   * responsible for a compressed body). `data` returns false while the child
   * is not keeping up; `resumeUpstream` is called once it has drained.
   */
  function startResponseRelay(exchange: Exchange, response: ServerResponse, head: UpstreamHead, swapped: boolean, resumeUpstream: () => void, abortUpstream: () => void): ResponseRelay {
    const { status, statusText } = head;
    const encoding = findHeader(head.rawHeaders, 'content-encoding')?.trim().toLowerCase();
    const encoded = encoding !== undefined && encoding !== '' && encoding !== 'identity';
    const decoderFactory = swapped && encoded ? DECODERS[encoding] : undefined;
    if (swapped && encoded && !decoderFactory) {
      // We could not scrub what we cannot decode: refuse rather than risk echoing the value.
      abortUpstream();
      finishExchange(exchange, 'error', 502, 'unscrubbable-encoding');
      writeJson(response, 502, 'unscrubbable-encoding', `the upstream answered with Content-Encoding ${encoding}, which agentauth cannot inspect`, {}, 'agentauth_upstream_error');
      return DISCARDING_RELAY;
    }
    const bodyless = exchange.method === 'HEAD' || status === 204 || status === 304;
    const scrubbing = scrubRules.length > 0;
    // Scrubbing can change the length. A body that arrives whole in its first
    // chunk (most API answers) is scrubbed whole and keeps an exact
    // Content-Length; anything longer is re-framed as chunked.
    const headersOut = filterResponseHeaders(head.rawHeaders, scrubRules, {
      dropLength: !bodyless && scrubbing,
      dropEncoding: decoderFactory !== undefined,
    });
    if (bodyless) {
      response.writeHead(status, statusText, headersOut.headers);
      response.end();
      finishExchange(exchange, 'allow', status);
      return DISCARDING_RELAY;
    }
    const declared = scrubbing && !decoderFactory && headersOut.length !== undefined ? Number(headersOut.length) : -1;
    let scrubber: StreamScrubber | null = null;
    let headOut = false;
    const sendHead = () => {
      if (headOut) return;
      headOut = true;
      response.writeHead(status, statusText, headersOut.headers);
    };
    // Headers normally leave with the first body chunk (one write); when the
    // body is slow to start (SSE) they are flushed on their own right away.
    let flushTimer: NodeJS.Immediate | null = setImmediate(() => {
      flushTimer = null;
      sendHead();
      response.flushHeaders();
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
        const whole = scrubBuffer(chunk, scrubRules);
        headersOut.headers.push('Content-Length', String(whole.length));
        sendHead();
        exchange.bytesOut += whole.length;
        response.end(whole);
        return true;
      }
      scrubber ??= createStreamScrubber(scrubRules);
      const out = scrubber.push(chunk);
      if (out.length === 0) return true;
      sendHead();
      exchange.bytesOut += out.length;
      return response.write(out);
    };
    const finish = () => {
      stopFlushTimer();
      // Already ended when the whole body came in one chunk.
      if (!response.writableEnded) {
        const rest = scrubber ? scrubber.flush() : EMPTY_BODY;
        exchange.bytesOut += rest.length;
        sendHead();
        response.end(rest);
      }
      finishExchange(exchange, 'allow', status);
    };
    const fail = () => {
      stopFlushTimer();
      finishExchange(exchange, 'error', status, 'upstream-body-error');
      response.destroy();
    };
    let waitingForDrain = false;
    const waitForDrain = (resume: () => void) => {
      if (waitingForDrain) return;
      waitingForDrain = true;
      response.once('drain', () => {
        waitingForDrain = false;
        resume();
      });
    };

    if (!decoderFactory) {
      return {
        data(chunk) {
          if (send(chunk)) return true;
          waitForDrain(resumeUpstream);
          return false;
        },
        end: finish,
        fail,
      };
    }
    const decoder = decoderFactory();
    decoder.on('data', (chunk: Buffer) => {
      if (!send(chunk)) {
        decoder.pause();
        waitForDrain(() => decoder.resume());
      }
    });
    decoder.on('drain', resumeUpstream);
    decoder.once('end', finish);
    decoder.once('error', () => {
      abortUpstream();
      fail();
    });
    return {
      data: (chunk) => decoder.write(chunk),
      end: () => decoder.end(),
      fail: () => {
        decoder.destroy();
        fail();
      },
    };
  }

  function relayUpgrade(exchange: Exchange, upgrade: { socket: Socket; head: Buffer }, ures: IncomingMessage, usocket: Socket, uhead: Buffer): void {
    const client = upgrade.socket;
    usocket.setNoDelay(true);
    track(usocket);
    const lines = [`HTTP/1.1 ${ures.statusCode ?? 101} ${ures.statusMessage ?? 'Switching Protocols'}`];
    for (let i = 0; i < ures.rawHeaders.length; i += 2) lines.push(`${ures.rawHeaders[i]}: ${scrubHeaderValue(ures.rawHeaders[i + 1]!, scrubRules)}`);
    client.write(`${lines.join('\r\n')}\r\n\r\n`);
    const end = () => {
      client.destroy();
      usocket.destroy();
      finishExchange(exchange, 'allow', 101);
    };
    // The upstream's bytes go through the scrubber: WebSocket frames are
    // parsed and re-framed; any other upgraded protocol is scrubbed as a byte stream.
    const websocket = String(ures.headers['upgrade'] ?? '').trim().toLowerCase() === 'websocket';
    const frames = scrubRules.length === 0 ? null : websocket ? createWsFrameScrubber(scrubRules) : null;
    const bytes = scrubRules.length > 0 && !websocket ? createStreamScrubber(scrubRules) : null;
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

  function relayDeclinedUpgrade(exchange: Exchange, sock: Socket, ures: IncomingMessage): void {
    // The server declined the upgrade: relay its answer as a normal response and close.
    const lines = [`HTTP/1.1 ${ures.statusCode} ${ures.statusMessage ?? ''}`];
    for (let i = 0; i < ures.rawHeaders.length; i += 2) {
      const name = ures.rawHeaders[i]!;
      if (HOP_BY_HOP.has(name.toLowerCase()) || name.toLowerCase() === 'content-length') continue;
      lines.push(`${name}: ${scrubHeaderValue(ures.rawHeaders[i + 1]!, scrubRules)}`);
    }
    lines.push('Connection: close');
    sock.write(`${lines.join('\r\n')}\r\n\r\n`);
    const scrubber = createStreamScrubber(scrubRules);
    ures.on('data', (chunk: Buffer) => {
      const out = scrubber.push(chunk);
      exchange.bytesOut += out.length;
      sock.write(out);
    });
    ures.on('end', () => {
      sock.end(scrubber.flush());
      finishExchange(exchange, 'allow', ures.statusCode ?? 502);
    });
  }

  function hostForUpstream(route: Route): string {
    const name = route.host.includes(':') ? `[${route.host}]` : route.host;
    const defaultPort = route.scheme === 'https' ? 443 : 80;
    return route.port === defaultPort ? name : `${name}:${route.port}`;
  }

  function isSelf(host: string, port: number): boolean {
    return port === ownPort && (host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === listenHost);
  }

  await new Promise<void>((resolve, reject) => {
    outer.once('error', reject);
    outer.listen(options.port ?? 0, listenHost, () => {
      outer.off('error', reject);
      resolve();
    });
  });
  const address = outer.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  ownPort = port;

  return {
    port,
    host: listenHost,
    stats,
    async close() {
      await new Promise<void>((resolve) => {
        outer.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        outer.closeAllConnections();
      });
      inner.closeAllConnections();
      await dispatcher.destroy().catch(() => {});
    },
  };
}

function latin1Pairs(raw: readonly Buffer[]): string[] {
  const out = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = raw[i]!.toString('latin1');
  return out;
}

function findHeader(raw: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === lowerName) return raw[i + 1];
  return undefined;
}

/** The child's request body for undici, counted as it passes (an async iterable keeps backpressure). */
async function* countBody(req: IncomingMessage, exchange: Exchange): AsyncGenerator<Buffer> {
  for await (const chunk of req) {
    exchange.bytesIn += (chunk as Buffer).length;
    yield chunk as Buffer;
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);

/** Why an upstream request failed before its answer began, in the words the child's 502 carries. */
function describeUpstreamFailure(error: NodeJS.ErrnoException, authority: string): { reason: string; hint: string } {
  const code = error.code;
  if (/CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|HOSTNAME/i.test(code ?? '')) {
    return { reason: 'upstream-tls-unverified', hint: `${authority} presented a certificate the system roots do not trust (${code}); for a self-hosted service pass --upstream-ca FILE to agentauth run` };
  }
  if (code !== undefined && UNREACHABLE.has(code)) return { reason: 'upstream-unreachable', hint: `cannot reach ${authority} (${code})` };
  return { reason: 'upstream-bad-response', hint: `${authority} closed the connection or answered with something that is not HTTP/1.1 (${error.message})` };
}

function stripQuery(target: string): string {
  const at = target.indexOf('?');
  return at === -1 ? target : target.slice(0, at);
}

function parseAuthority(text: string, defaultPort: number): { host: string; port: number } | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/@\s]+))(?::([0-9]{1,5}))?$/.exec(text.trim());
  if (!match) return null;
  const port = match[3] ? Number(match[3]) : defaultPort;
  if (!(port >= 1 && port <= 65535)) return null;
  return { host: (match[1] ?? match[2]!).toLowerCase(), port };
}

/**
 * Drops Proxy-Authorization, hop-by-hop headers and any header the Connection
 * header names; also returns the Host header and how many there were.
 */
function filterRequestHeaders(raw: readonly string[], upgrade: boolean): { headers: string[]; host: string | undefined; hostCount: number } {
  let named: Set<string> | null = null;
  let host: string | undefined;
  let hostCount = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (lower === 'connection') for (const token of raw[i + 1]!.split(',')) (named ??= new Set()).add(token.trim().toLowerCase());
    else if (lower === 'host') {
      host = raw[i + 1];
      hostCount += 1;
    }
  }
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    // permessage-deflate would compress frames past the scrubber; ask for plain frames.
    if (upgrade && lower === 'sec-websocket-extensions') continue;
    headers.push(raw[i]!, raw[i + 1]!);
  }
  return { headers, host, hostCount };
}

/**
 * The response headers for the child as raw pairs (writeHead takes them as
 * they are, duplicates included), scrubbed; plus the upstream's Content-Length.
 */
function filterResponseHeaders(raw: readonly string[], rules: readonly ScrubRule[], options: { dropLength: boolean; dropEncoding: boolean }): { headers: string[]; length: string | undefined } {
  let named: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') for (const token of raw[i + 1]!.split(',')) (named ??= new Set()).add(token.trim().toLowerCase());
  }
  const headers: string[] = [];
  let length: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    if (lower === 'content-length') {
      length = raw[i + 1]!.trim();
      if (options.dropLength) continue;
    }
    if (options.dropEncoding && lower === 'content-encoding') continue;
    headers.push(name, scrubHeaderValue(raw[i + 1]!, rules));
  }
  // Only a plain decimal length is trusted for the whole-body fast path.
  return { headers, length: length !== undefined && /^[0-9]{1,15}$/.test(length) ? length : undefined };
}

function setHeader(headers: string[], name: string, value: string): void {
  const lower = name.toLowerCase();
  for (let i = headers.length - 2; i >= 0; i -= 2) if (headers[i]!.toLowerCase() === lower) headers.splice(i, 2);
  headers.push(name, value);
}

/** After a swap the response must be scrubbable: only encodings we can decode. */
function restrictAcceptEncoding(headers: string[]): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() !== 'accept-encoding') continue;
    const kept = headers[i + 1]!
      .split(',')
      .map((part) => part.trim())
      .filter((part) => ['gzip', 'x-gzip', 'deflate', 'br', 'identity'].includes(part.split(';')[0]!.trim().toLowerCase()));
    headers[i + 1] = kept.length ? kept.join(', ') : 'identity';
  }
}

function denialBody(reason: string, hint: string, error: string): string {
  return `${JSON.stringify({ error, reason, hint })}\n`;
}

function writeJson(res: ServerResponse, status: number, reason: string, hint: string, extra: Record<string, string>, error = 'agentauth_denied'): void {
  if (res.headersSent) return void res.destroy();
  const body = denialBody(reason, hint, error);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

/** A response on a socket that left node:http (CONNECT, upgrade): written by hand, then closed. */
function writeRaw(socket: Duplex, status: number, reason: string, hint: string, extra: Record<string, string> = {}, error = 'agentauth_denied'): void {
  const body = denialBody(reason, hint, error);
  const headerLines = Object.entries(extra).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n${headerLines}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function failInternal(res: ServerResponse, error: unknown): void {
  void error;
  if (!res.headersSent) writeJson(res, 502, 'gateway-error', 'the gateway failed to handle this request', {}, 'agentauth_upstream_error');
  else res.destroy();
}
