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
import type { Duplex, Transform } from 'node:stream';
import { policyBindsHost } from '../secrets.js';
import { decideRequest, formatAuthority, type Decision, type RunSecret } from './policy.js';
import { createStreamScrubber, scrubHeaderValue, type ScrubRule } from './scrub.js';

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

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const listenHost = options.host ?? '127.0.0.1';
  const stats: GatewayStats = { requests: 0, denied: 0, unauthenticated: 0 };
  const scrubRules: ScrubRule[] = options.secrets.flatMap((secret) => secret.scrub).sort((a, b) => b.pattern.length - a.pattern.length);
  const sockets = new Set<Socket | TLSSocket>();
  let ownPort = -1;
  const routes = new WeakMap<object, Route>();
  const httpAgent = new http.Agent({ keepAlive: true, scheduling: 'lifo' });
  const httpsAgent = new https.Agent({ keepAlive: true, scheduling: 'lifo', secureContext: options.upstreamContext } as https.AgentOptions);

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
      options.onEvent({
        kind: denied ? 'gateway.deny' : 'gateway.request',
        actor: { sub: `agent:${options.agent}`, jti },
        data: {
          agent: options.agent,
          method,
          host: route ? route.host : '',
          path,
          secret,
          decision,
          ...(reason ? { reason } : {}),
          status,
          ms: Math.round(performance.now() - started),
          bytes_in: bytesIn,
          bytes_out: bytesOut,
        },
      });
    } catch {
      // The audit sink reports its own failures; a request is not failed for it.
    }
  }

  async function authenticateHeader(header: string | undefined): Promise<Principal | null> {
    if (!header) return null;
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (!match) return null;
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const token = colon === -1 ? decoded : decoded.slice(colon + 1);
    return options.authenticate(token);
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
    void handleOuterRequest(req, res, null).catch((error: unknown) => failInternal(res, error));
  });
  outer.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    void handleOuterRequest(req, null, { socket, head }).catch(() => socket.destroy());
  });
  inner.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const route = routes.get(req.socket);
    if (!route) return void res.destroy();
    void forward(req, res, null, route, req.url ?? '/').catch((error: unknown) => failInternal(res, error));
  });
  inner.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const route = routes.get(socket);
    if (!route) return void socket.destroy();
    socket.on('error', () => socket.destroy());
    void forward(req, null, { socket, head }, route, req.url ?? '/').catch(() => socket.destroy());
  });

  async function handleOuterRequest(req: IncomingMessage, res: ServerResponse | null, upgrade: { socket: Socket; head: Buffer } | null): Promise<void> {
    const url = req.url ?? '/';
    const started = performance.now();
    const reply = (status: number, reason: string, hint: string, extra: Record<string, string> = {}, error = 'agentauth_denied') => {
      if (res) writeJson(res, status, reason, hint, extra, error);
      else writeRaw(upgrade!.socket, status, reason, hint, extra, error);
    };
    if (url.startsWith(BASE_PREFIX)) {
      const slash = url.indexOf('/', BASE_PREFIX.length);
      const name = url.slice(BASE_PREFIX.length, slash === -1 ? undefined : slash).split('?')[0]!;
      const secret = options.secrets.find((candidate) => candidate.name === name);
      const upstreamHost = secret?.policy.hosts.find((pattern) => !pattern.wildcard);
      if (!secret || !upstreamHost) {
        emit(null, req.method ?? 'GET', stripQuery(url), null, 'deny', 404, started, 0, 0, 'unknown-secret');
        return reply(404, 'unknown-secret', `this run has no base URL for "${name}"`);
      }
      const prefix = `${BASE_PREFIX}${name}`;
      const rest = url.slice(prefix.length);
      const target = rest === '' || rest.startsWith('?') ? `/${rest}` : rest;
      const principal = (await authenticateHeader(req.headers['proxy-authorization'])) ?? options.placeholderPrincipal;
      const route: Route = { scheme: 'https', host: upstreamHost.host, port: upstreamHost.port, principal, tunnel: false, baseUrl: { prefix, secret } };
      return forward(req, res, upgrade, route, target);
    }
    if (!/^https?:\/\//i.test(url)) {
      return reply(400, 'not-a-proxy-request', 'send requests through HTTPS_PROXY, or to a base URL http://127.0.0.1:<port>/_/<secret>/…');
    }
    const principal = await authenticateHeader(req.headers['proxy-authorization']);
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
  async function forward(req: IncomingMessage, res: ServerResponse | null, upgrade: { socket: Socket; head: Buffer } | null, route: Route, target: string, hostOverride?: string): Promise<void> {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const path = stripQuery(target);
    const headers = filterRequestHeaders(req.rawHeaders, upgrade !== null);
    let hostHeader: string | undefined;
    for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === 'host') hostHeader = req.rawHeaders[i + 1];

    const decision: Decision = decideRequest(
      { method, host: route.host, port: route.port, target, headers, ...(route.tunnel && hostHeader !== undefined ? { hostHeader } : {}) },
      options.secrets,
    );
    const reply = (status: number, reason: string, hint: string, error = 'agentauth_denied') => {
      if (res) writeJson(res, status, reason, hint, {}, error);
      else writeRaw(upgrade!.socket, status, reason, hint, {}, error);
    };
    if (decision.kind === 'deny') {
      emit(route, method, path, decision.secret, 'deny', 403, started, 0, 0, decision.reason);
      req.resume();
      return reply(403, decision.reason, decision.hint);
    }
    // Base-URL mode without proxy credentials: the placeholder in the declared place is the credential.
    if (route.baseUrl && route.principal === options.placeholderPrincipal && !decision.swapped.includes(route.baseUrl.secret)) {
      stats.unauthenticated += 1;
      req.resume();
      const secret = route.baseUrl.secret;
      const where = secret.record.header !== undefined ? `the ${secret.record.header} header` : `the ${secret.record.query} query parameter`;
      return reply(401, 'placeholder-required', `send this run's placeholder for "${secret.name}" in ${where}`);
    }

    const outHeaders = decision.headers.slice();
    if (hostOverride !== undefined || route.baseUrl) setHeader(outHeaders, 'Host', hostOverride ?? hostForUpstream(route));
    else if (hostHeader === undefined) setHeader(outHeaders, 'Host', hostForUpstream(route));
    const swapped = decision.swapped.length > 0;
    const secretName = swapped ? decision.swapped.map((secret) => secret.name).join(',') : null;
    if (swapped) restrictAcceptEncoding(outHeaders);
    if (upgrade) {
      outHeaders.push('Connection', 'Upgrade');
      const upgradeValue = req.headers['upgrade'];
      if (upgradeValue) outHeaders.push('Upgrade', upgradeValue);
    }

    const requestOptions: http.RequestOptions = {
      method,
      host: route.host,
      port: route.port,
      path: decision.target,
      headers: outHeaders as unknown as http.OutgoingHttpHeaders,
      setHost: false,
      agent: upgrade ? false : route.scheme === 'https' ? httpsAgent : httpAgent,
      ...(route.scheme === 'https' && upgrade ? { secureContext: options.upstreamContext } : {}),
    };
    if (route.scheme === 'https' && net.isIP(route.host) === 0) (requestOptions as https.RequestOptions).servername = route.host;
    const upstream = route.scheme === 'https' ? https.request(requestOptions) : http.request(requestOptions);
    let bytesIn = 0;
    let bytesOut = 0;
    let finished = false;
    const finish = (decisionKind: GatewayEvent['data']['decision'], status: number, reason?: string) => {
      if (finished) return;
      finished = true;
      emit(route, method, path, secretName, decisionKind, status, started, bytesIn, bytesOut, reason);
    };

    upstream.on('socket', (socket: Socket) => socket.setNoDelay(true));
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      const tlsProblem = /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|HOSTNAME/i.test(error.code ?? '');
      const reason = tlsProblem ? 'upstream-tls-unverified' : 'upstream-unreachable';
      const hint = tlsProblem
        ? `${formatAuthority(route.host, route.port)} presented a certificate the system roots do not trust (${error.code}); for a self-hosted service pass --upstream-ca FILE to agentauth run`
        : `cannot reach ${formatAuthority(route.host, route.port)} (${error.code ?? error.message})`;
      finish('error', 502, reason);
      if (res && !res.headersSent) writeJson(res, 502, reason, hint, {}, 'agentauth_upstream_error');
      else if (res) res.destroy();
      else if (upgrade && !upgrade.socket.destroyed) writeRaw(upgrade.socket, 502, reason, hint, {}, 'agentauth_upstream_error');
    });

    if (upgrade) {
      upstream.on('upgrade', (ures: IncomingMessage, usocket: Socket, uhead: Buffer) => {
        usocket.setNoDelay(true);
        const lines = [`HTTP/1.1 ${ures.statusCode ?? 101} ${ures.statusMessage ?? 'Switching Protocols'}`];
        for (let i = 0; i < ures.rawHeaders.length; i += 2) lines.push(`${ures.rawHeaders[i]}: ${scrubHeaderValue(ures.rawHeaders[i + 1]!, scrubRules)}`);
        upgrade.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (uhead.length > 0) upgrade.socket.write(uhead);
        if (upgrade.head.length > 0) usocket.write(upgrade.head);
        upgrade.socket.on('data', (chunk: Buffer) => (bytesIn += chunk.length));
        usocket.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
        track(usocket);
        upgrade.socket.pipe(usocket);
        usocket.pipe(upgrade.socket);
        const end = () => {
          upgrade.socket.destroy();
          usocket.destroy();
          finish('allow', 101);
        };
        usocket.once('close', end);
        upgrade.socket.once('close', end);
        usocket.on('error', end);
      });
      upstream.on('response', (ures: IncomingMessage) => {
        // The server declined the upgrade: relay its answer as a normal response and close.
        const sock = upgrade.socket;
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
          bytesOut += out.length;
          sock.write(out);
        });
        ures.on('end', () => {
          sock.end(scrubber.flush());
          finish('allow', ures.statusCode ?? 502);
        });
      });
      upstream.end();
      return;
    }

    const response = res!;
    req.on('data', (chunk: Buffer) => (bytesIn += chunk.length));
    req.pipe(upstream);
    response.once('close', () => {
      if (!response.writableFinished) {
        upstream.destroy();
        finish('allow', response.statusCode || 499, 'client-closed');
      }
    });

    upstream.on('response', (ures: IncomingMessage) => {
      const status = ures.statusCode ?? 502;
      const encoding = String(ures.headers['content-encoding'] ?? '').trim().toLowerCase();
      const decoderFactory = swapped && encoding !== '' && encoding !== 'identity' ? DECODERS[encoding] : undefined;
      if (swapped && encoding !== '' && encoding !== 'identity' && !decoderFactory) {
        // We could not scrub what we cannot decode: refuse rather than risk echoing the value.
        ures.resume();
        finish('error', 502, 'unscrubbable-encoding');
        writeJson(response, 502, 'unscrubbable-encoding', `the upstream answered with Content-Encoding ${encoding}, which agentauth cannot inspect`, {}, 'agentauth_upstream_error');
        return;
      }
      const bodyless = method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
      const headersOut = filterResponseHeaders(ures.rawHeaders, scrubRules, {
        // Scrubbing can change the length; chunked framing replaces Content-Length (kept for bodiless answers).
        dropLength: !bodyless && scrubRules.length > 0,
        dropEncoding: decoderFactory !== undefined,
      });
      response.writeHead(status, ures.statusMessage, headersOut);
      if (bodyless) {
        ures.resume();
        response.end();
        finish('allow', status);
        return;
      }
      // Headers normally leave with the first body chunk (one write); when the
      // body is slow to start (SSE) they are flushed on their own right away.
      const flushTimer = setImmediate(() => response.flushHeaders());
      const source: NodeJS.ReadableStream = decoderFactory ? ures.pipe(decoderFactory()) : ures;
      const scrubber = createStreamScrubber(scrubRules);
      source.on('data', (chunk: Buffer) => {
        const out = scrubber.push(chunk);
        if (out.length === 0) return;
        clearImmediate(flushTimer);
        bytesOut += out.length;
        if (!response.write(out)) {
          source.pause();
          response.once('drain', () => source.resume());
        }
      });
      source.on('end', () => {
        clearImmediate(flushTimer);
        const rest = scrubber.flush();
        bytesOut += rest.length;
        response.end(rest);
        finish('allow', status);
      });
      source.on('error', () => {
        finish('error', status, 'upstream-body-error');
        response.destroy();
      });
      ures.on('aborted', () => response.destroy());
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
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
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

/** Drops Proxy-Authorization, hop-by-hop headers and any header the Connection header names. */
function filterRequestHeaders(raw: readonly string[], upgrade: boolean): string[] {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') for (const token of raw[i + 1]!.split(',')) named.add(token.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower)) continue;
    // permessage-deflate would compress frames past the scrubber; ask for plain frames.
    if (upgrade && lower === 'sec-websocket-extensions') continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

function filterResponseHeaders(raw: readonly string[], rules: readonly ScrubRule[], options: { dropLength: boolean; dropEncoding: boolean }): Record<string, string | string[]> {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') for (const token of raw[i + 1]!.split(',')) named.add(token.trim().toLowerCase());
  }
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower)) continue;
    if (options.dropLength && lower === 'content-length') continue;
    if (options.dropEncoding && lower === 'content-encoding') continue;
    const value = scrubHeaderValue(raw[i + 1]!, rules);
    const existing = out[lower];
    if (existing === undefined) out[lower] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[lower] = [existing, value];
  }
  return out;
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
