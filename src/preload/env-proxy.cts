// Loaded into every Node process under `agentauth run` (NODE_OPTIONS gets
// `--require` of this file): makes fetch and the http/https modules' default
// agents honour HTTPS_PROXY, HTTP_PROXY and NO_PROXY on a Node that does not
// do so itself (before 22.21, and 24.0 to 24.4), so that a Node 20 child goes
// through the gateway instead of straight to the provider with a placeholder.
//
// It costs a Node process 6-10 ms at start, nearly all of it loading Node's
// own http and https modules (which a networked program loads anyway; our
// code is ~1.5 ms); the proxy code (undici, ~300 KB) loads only when the
// process first makes a request.
// Requests through an agent a program builds itself (`agent: new https.Agent()`)
// are not covered; base-URL mode covers those (docs/gateway.md).
import http = require('node:http');
import https = require('node:https');
import net = require('node:net');
import path = require('node:path');
import type { Duplex } from 'node:stream';

interface Heavy {
  createEnvDispatcher(): unknown;
  connectThroughProxy(proxy: string, options: ConnectOptions, secure: boolean, callback: (error: Error | null, socket?: Duplex) => void): void;
}
type ConnectOptions = http.ClientRequestArgs & { servername?: string };

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

/** Node itself honours the proxy variables for fetch and http(s) under NODE_USE_ENV_PROXY=1 from these versions on. */
function hasNativeEnvProxy(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major >= 25 || (major === 24 && minor >= 5) || (major === 22 && minor >= 21);
}

let heavy: Heavy | null = null;
let warned = false;
function loadHeavy(): Heavy | null {
  if (heavy) return heavy;
  try {
    // Resolved at run time, beside this file: never bundled into it.
    const file = path.join(__dirname, 'env-proxy-undici.cjs');
    heavy = require(file) as Heavy;
  } catch (error) {
    if (!warned) {
      warned = true;
      process.stderr.write(`agentauth: this Node process cannot be routed through the gateway (${(error as Error).message}); its requests bypass it. Use base-URL mode: agentauth secret add … --base-url-env VAR\n`);
    }
  }
  return heavy;
}

/** NO_PROXY as undici reads it: exact host or a domain suffix, optionally :port; `*` matches all. */
function proxyFor(protocol: string, host: string, port: number): string | null {
  const proxy = protocol === 'https:' ? (process.env['https_proxy'] ?? process.env['HTTPS_PROXY']) : (process.env['http_proxy'] ?? process.env['HTTP_PROXY']);
  if (!proxy) return null;
  const name = host.replace(/^\[|\]$/g, '').toLowerCase();
  for (const entry of (process.env['no_proxy'] ?? process.env['NO_PROXY'] ?? '').split(/[,\s]/)) {
    if (!entry) continue;
    if (entry === '*') return null;
    const parsed = /^(.+):(\d+)$/.exec(entry);
    const entryHost = (parsed ? parsed[1]! : entry).replace(/^\*?\./, '').replace(/^\[|\]$/g, '').toLowerCase();
    if (parsed && Number(parsed[2]) !== port) continue;
    if (name === entryHost || name.endsWith(`.${entryHost}`)) return null;
  }
  return proxy;
}

function connectVia(secure: boolean, options: ConnectOptions, callback: (error: Error | null, socket?: Duplex) => void): boolean {
  const host = options.host ?? options.hostname ?? 'localhost';
  const port = Number(options.port) || DEFAULT_PORTS[secure ? 'https:' : 'http:']!;
  const proxy = proxyFor(secure ? 'https:' : 'http:', host, port);
  if (!proxy || options.socketPath) return false;
  const loaded = loadHeavy();
  if (!loaded) return false;
  loaded.connectThroughProxy(proxy, { ...options, host, port }, secure, callback);
  return true;
}

class ProxyingHttpAgent extends http.Agent {
  override createConnection(options: ConnectOptions, callback: (error: Error | null, socket?: Duplex) => void): Duplex | undefined {
    if (connectVia(false, options, callback)) return undefined;
    return net.createConnection(options as net.NetConnectOpts);
  }
}

class ProxyingHttpsAgent extends https.Agent {
  override createConnection(options: ConnectOptions, callback: (error: Error | null, socket?: Duplex) => void): Duplex | undefined {
    if (connectVia(true, options, callback)) return undefined;
    // https.Agent's own: TLS with its session cache.
    return (https.Agent.prototype as unknown as { createConnection(o: unknown, c: unknown): Duplex }).createConnection.call(this, options, callback);
  }
}

function install(): void {
  // fetch: Node's bundled undici asks globalThis for its dispatcher on every
  // request. A getter that builds ours on first use keeps start-up cheap; an
  // app that sets its own dispatcher (Claude Code does) replaces it.
  const symbol = Symbol.for('undici.globalDispatcher.1');
  if (Object.getOwnPropertyDescriptor(globalThis, symbol) === undefined) {
    let dispatcher: unknown;
    Object.defineProperty(globalThis, symbol, {
      configurable: true,
      enumerable: false,
      get: () => (dispatcher ??= loadHeavy()?.createEnvDispatcher()),
      set: (value: unknown) => Object.defineProperty(globalThis, symbol, { value, writable: true, configurable: true, enumerable: false }),
    });
  }
  http.globalAgent = new ProxyingHttpAgent({ keepAlive: true });
  https.globalAgent = new ProxyingHttpsAgent({ keepAlive: true });
}

if (!hasNativeEnvProxy(process.versions.node) && (process.env['HTTPS_PROXY'] || process.env['https_proxy'] || process.env['HTTP_PROXY'] || process.env['http_proxy'])) install();
