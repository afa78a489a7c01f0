// CONNECT: authenticate, then either terminate the tunnel (a host:port some
// granted secret is bound to: TLS with a leaf from the local CA, or plain
// HTTP for an http:// binding) so its requests can be checked and swapped,
// or open a blind TCP tunnel (any other host), or refuse (--deny-unlisted).
import type { IncomingMessage } from 'node:http';
import net, { type Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { Exchange, type Route } from './exchange.js';
import { sendProblem } from './replies.js';
import { isBound, isSelf, type GatewayRuntime, type Principal } from './runtime.js';
import { DEFAULT_PORTS, parseAuthority } from './targets.js';

export interface ConnectHooks {
  /** The principal for a Proxy-Authorization header; null when it proves nothing. */
  authenticate(header: string | undefined): Principal | null | Promise<Principal | null>;
  /** Hands a terminated tunnel (decrypted, or plain for an http:// binding) to the HTTP server for its requests. */
  serveTunnel(socket: Socket | TLSSocket, route: Route): void;
}

const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';

export async function handleConnect(gateway: GatewayRuntime, req: IncomingMessage, socket: Socket, head: Buffer, hooks: ConnectHooks): Promise<void> {
  const principal = await hooks.authenticate(req.headers['proxy-authorization']);
  if (!principal) {
    gateway.stats.unauthenticated += 1;
    sendProblem(socket, 407, 'proxy-auth-required', 'send the session token as proxy credentials: use the HTTPS_PROXY that agentauth run set', { 'Proxy-Authenticate': 'Basic realm="agentauth"' });
    return;
  }
  const authority = parseAuthority(req.url ?? '', DEFAULT_PORTS.https);
  if (!authority) {
    const exchange = new Exchange(gateway, { scheme: 'https', host: '', port: 0, principal, via: 'tunnel', bound: false }, 'CONNECT', socket);
    exchange.deny(400, 'bad-request', 'CONNECT needs host:port');
    return;
  }
  const { host, port } = authority;
  // An https binding wins; a host:port bound only as http:// gets a plain tunnel whose requests are still checked.
  const scheme = isBound(gateway, 'https', host, port) ? 'https' : isBound(gateway, 'http', host, port) ? 'http' : null;
  const route: Route = { scheme: scheme ?? 'https', host, port, principal, via: 'tunnel', bound: scheme !== null };
  if (isSelf(gateway, host, port)) {
    new Exchange(gateway, route, 'CONNECT', socket).deny(403, 'loop', 'the gateway does not proxy to itself');
    return;
  }
  if (scheme === 'https') {
    const context = await gateway.options.contextForHost(host);
    socket.write(ESTABLISHED);
    if (head.length > 0) socket.unshift(head);
    const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context, ALPNProtocols: ['http/1.1'] });
    secure.on('error', () => secure.destroy());
    gateway.track(secure);
    hooks.serveTunnel(secure, route);
    return;
  }
  if (scheme === 'http') {
    socket.write(ESTABLISHED);
    if (head.length > 0) socket.unshift(head);
    hooks.serveTunnel(socket, route);
    return;
  }
  const exchange = new Exchange(gateway, route, 'CONNECT', socket);
  if (gateway.options.denyUnlisted) {
    exchange.deny(403, 'unlisted-host', `no granted secret is bound to ${exchange.authority}, and this run denies unlisted hosts`);
    return;
  }
  openBlindTunnel(exchange, socket, head);
}

/** Bytes both ways, unread: whatever the child sends there carries no real value (placeholders are worthless away from the gateway). */
function openBlindTunnel(exchange: Exchange, socket: Socket, head: Buffer): void {
  exchange.bytesIn = head.length;
  let connected = false;
  const upstream = net.connect({ host: exchange.route.host, port: exchange.route.port, noDelay: true });
  exchange.gateway.track(upstream);
  upstream.once('connect', () => {
    connected = true;
    socket.write(ESTABLISHED);
    if (head.length > 0) upstream.write(head);
    socket.on('data', (chunk: Buffer) => (exchange.bytesIn += chunk.length));
    upstream.on('data', (chunk: Buffer) => (exchange.bytesOut += chunk.length));
    socket.pipe(upstream);
    upstream.pipe(socket);
  });
  upstream.once('error', (error: NodeJS.ErrnoException) => {
    if (!connected) exchange.failUpstream(error);
    else socket.destroy();
  });
  socket.once('close', () => {
    // The child gave up before the upstream answered: say so, rather than a bare 502.
    if (!connected) exchange.finish('error', 499, 'client-closed');
    upstream.destroy();
  });
  upstream.once('close', () => {
    socket.destroy();
    // Every failure has its reason by now (failUpstream, client-closed); this one is a safety net.
    if (connected) exchange.finish('tunnel', 200);
    else exchange.finish('error', 502, 'upstream-unreachable');
  });
}
