// The credential-swapping gateway: a forward proxy on loopback (CONNECT and
// absolute-form http/https requests) plus base-URL mode
// (`/_/<run key>/<secret>/…`). This file listens, authenticates and routes;
// every authenticated request becomes an Exchange that goes through
// outbound.ts (checks and swap) and then forward.ts or upgrade.ts.
//
//   connect.ts   CONNECT: terminate (bound host), blind tunnel, or refuse
//   outbound.ts  target form, Host, scheme, placement, grant, swap — for every request
//   forward.ts   one request upstream (undici) and its answer back
//   upgrade.ts   WebSocket and other upgrades (node:http)
//   relay.ts     an answer to the child: decoded, scrubbed, streamed
//   replies.ts   problem documents
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
// Only undici's HTTP/1.1 client: the package's index would also load fetch, WebSocket and caches.
import UndiciAgent from 'undici/lib/dispatcher/agent.js';
import { handleConnect } from './connect.js';
import { Exchange, type Route } from './exchange.js';
import { forwardRequest } from './forward.js';
import { prepareOutbound } from './outbound.js';
import { sendProblem, type ReplyTarget } from './replies.js';
import { isBound, isSelf, type GatewayOptions, type GatewayRuntime, type GatewayStats, type Principal } from './runtime.js';
import { BASE_URL_PREFIX, parseAbsoluteTarget, parseBaseUrlPath, type AbsoluteTarget } from './targets.js';
import { forwardUpgrade, type UpgradeSocket } from './upgrade.js';

export type { GatewayEvent, GatewayOptions, GatewayStats, Principal } from './runtime.js';

export interface Gateway {
  port: number;
  host: string;
  stats: GatewayStats;
  /** The credential of this run's base URLs (`/_/<run key>/<secret>`). */
  runKey: string;
  /** Stops listening and ends every open connection. */
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const listenHost = options.host ?? '127.0.0.1';
  const sockets = new Set<Socket | TLSSocket>();
  const track = (socket: Socket | TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const gateway: GatewayRuntime = {
    options,
    stats: { requests: 0, denied: 0, unauthenticated: 0 },
    scrubRules: options.secrets.flatMap((secret) => secret.scrub).sort((a, b) => b.pattern.length - a.pattern.length),
    // No header or body timeouts: a model may think for minutes before it
    // answers, and an SSE stream may stay quiet for longer. Redirects are never followed.
    dispatcher: new UndiciAgent({ headersTimeout: 0, bodyTimeout: 0, connect: { secureContext: options.upstreamContext } }),
    // 192 bits: the base URL's only credential, new for every run.
    runKey: options.runKey ?? randomBytes(24).toString('base64url'),
    track,
    ownPort: -1,
    listenHost,
  };
  const authenticate = createProxyAuthenticator(options);
  let lastAbsolute: { url: string; parsed: AbsoluteTarget | null } = { url: '', parsed: null };
  const runKey = Buffer.from(gateway.runKey);

  // requestTimeout 0: a long upload or a long-lived stream is not cut at 300 s.
  const serverOptions: http.ServerOptions = { noDelay: true, requestTimeout: 0 };
  const outer = http.createServer(serverOptions);
  // Terminated tunnels are fed to a server that never listens; each socket remembers its route.
  const inner = http.createServer(serverOptions);
  const routes = new WeakMap<object, Route>();
  outer.on('connection', track);

  outer.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    handleConnect(gateway, req, socket, head, {
      authenticate,
      serveTunnel(tunnel, route) {
        routes.set(tunnel, route);
        inner.emit('connection', tunnel);
      },
    }).catch(() => socket.destroy());
  });
  outer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    guard(() => routeOuter(req, res, null), (error) => failInternal(res, error));
  });
  outer.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    guard(() => routeOuter(req, socket, { socket, head }), () => socket.destroy());
  });
  inner.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const route = routes.get(req.socket);
    if (!route) return void res.destroy();
    guard(() => carry(new Exchange(gateway, route, req.method ?? 'GET', res), req, req.url ?? '/', null), (error) => failInternal(res, error));
  });
  inner.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const route = routes.get(socket);
    if (!route) return void socket.destroy();
    socket.on('error', () => socket.destroy());
    guard(() => carry(new Exchange(gateway, route, req.method ?? 'GET', socket), req, req.url ?? '/', { socket, head }), () => socket.destroy());
  });

  /** Requests that reached the listening port itself: base-URL mode, or a forward-proxy request in absolute form. */
  function routeOuter(req: IncomingMessage, reply: ReplyTarget, upgrade: UpgradeSocket | null): void | Promise<void> {
    const url = req.url ?? '/';
    if (url.startsWith(BASE_URL_PREFIX)) return routeBaseUrl(req, reply, upgrade, url);
    if (!/^https?:\/\//i.test(url)) {
      return refuseUnauthenticated(req, reply, 400, 'not-a-proxy-request', 'send requests through HTTPS_PROXY, or to the base URL agentauth run set');
    }
    // A client sends the same URL again and again (an agent polling one endpoint): parse it once.
    if (url !== lastAbsolute.url) lastAbsolute = { url, parsed: parseAbsoluteTarget(url) };
    const absolute = lastAbsolute.parsed;
    const go = (principal: Principal | null): void => {
      if (!principal) {
        return refuseUnauthenticated(req, reply, 407, 'proxy-auth-required', 'send the session token as proxy credentials: use the HTTP_PROXY that agentauth run set', {
          'Proxy-Authenticate': 'Basic realm="agentauth"',
        });
      }
      if (!absolute) {
        req.resume();
        const route: Route = { scheme: 'http', host: '', port: 0, principal, via: 'absolute', bound: false };
        return new Exchange(gateway, route, req.method ?? 'GET', reply).deny(400, 'bad-request', 'unparseable absolute URL');
      }
      // A client that proxies everything may send our own base URL through us.
      if (isSelf(gateway, absolute.host, absolute.port) && absolute.scheme === 'http' && absolute.target.startsWith(BASE_URL_PREFIX)) {
        return void routeBaseUrl(req, reply, upgrade, absolute.target);
      }
      const route: Route = { scheme: absolute.scheme, host: absolute.host, port: absolute.port, principal, via: 'absolute', bound: isBound(gateway, absolute.scheme, absolute.host, absolute.port) };
      const exchange = new Exchange(gateway, route, req.method ?? 'GET', reply);
      if (isSelf(gateway, absolute.host, absolute.port)) {
        exchange.path = absolute.target.split('?')[0]!;
        req.resume();
        return exchange.deny(403, 'loop', 'the gateway does not proxy to itself');
      }
      carry(exchange, req, absolute.target, upgrade);
    };
    const principal = authenticate(req.headers['proxy-authorization']);
    return principal instanceof Promise ? principal.then(go) : go(principal);
  }

  /** `/_/<run key>/<secret>/…`: the run key is the credential; only secrets declared with --base-url-env are served. */
  function routeBaseUrl(req: IncomingMessage, reply: ReplyTarget, upgrade: UpgradeSocket | null, url: string): void {
    const parsed = parseBaseUrlPath(url);
    const given = parsed ? Buffer.from(parsed.runKey) : null;
    if (!parsed || !given || given.length !== runKey.length || !timingSafeEqual(given, runKey)) {
      return refuseUnauthenticated(req, reply, 401, 'run-key-required', "a base URL needs this run's key: use the base-URL variable agentauth run set");
    }
    const secret = options.secrets.find((candidate) => candidate.name === parsed.secret && candidate.record.baseUrlEnv !== undefined);
    const upstream = secret?.policy.hosts.find((pattern) => !pattern.wildcard);
    if (!secret || !upstream) {
      const route: Route = { scheme: 'https', host: '', port: 0, principal: options.baseUrlPrincipal, via: 'base-url', bound: false };
      const exchange = new Exchange(gateway, route, req.method ?? 'GET', reply);
      exchange.path = parsed.target.split('?')[0]!;
      req.resume();
      return exchange.deny(404, 'unknown-secret', `this run has no base URL for "${parsed.secret}" (only secrets added with --base-url-env have one)`);
    }
    const route: Route = { scheme: upstream.scheme, host: upstream.host, port: upstream.port, principal: options.baseUrlPrincipal, via: 'base-url', baseUrlSecret: secret, bound: true };
    carry(new Exchange(gateway, route, req.method ?? 'GET', reply), req, parsed.target, upgrade);
  }

  /** Every authenticated request: one path for checks and swap, then upstream. */
  function carry(exchange: Exchange, req: IncomingMessage, target: string, upgrade: UpgradeSocket | null): void {
    const outbound = prepareOutbound(exchange, req.rawHeaders, target, upgrade !== null);
    if (!outbound) return void req.resume();
    if (upgrade) forwardUpgrade(exchange, upgrade, outbound);
    else forwardRequest(exchange, req, exchange.reply as ServerResponse, outbound);
  }

  /** Anyone on the machine can reach the port: no audit event (it would let them fill the disk), only a count for run.end. */
  function refuseUnauthenticated(req: IncomingMessage, reply: ReplyTarget, status: number, reason: 'not-a-proxy-request' | 'proxy-auth-required' | 'run-key-required', detail: string, headers: Record<string, string> = {}): void {
    gateway.stats.unauthenticated += 1;
    req.resume();
    sendProblem(reply, status, reason, detail, headers);
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
  gateway.ownPort = port;

  return {
    port,
    host: listenHost,
    stats: gateway.stats,
    runKey: gateway.runKey,
    async close() {
      await new Promise<void>((resolve) => {
        outer.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        outer.closeAllConnections();
      });
      inner.closeAllConnections();
      await gateway.dispatcher.destroy().catch(() => {});
    },
  };
}

/**
 * Reads the session token from `Proxy-Authorization: Basic` (the token is the
 * password). The child sends the same header on every request: the last one
 * decoded is remembered.
 */
function createProxyAuthenticator(options: GatewayOptions): (header: string | undefined) => Principal | null | Promise<Principal | null> {
  let lastHeader: string | null = null;
  let lastToken = '';
  return (header) => {
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
  };
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

function failInternal(res: ServerResponse, error: unknown): void {
  void error;
  sendProblem(res, 502, 'gateway-error', 'the gateway failed to handle this request');
}
