// Where a request is going, read from what the child sent: a CONNECT
// authority, an absolute-form URL, a base-URL path, a Host header. Pure
// string work. Host names are compared in one canonical spelling (lowercase,
// no trailing dot, IPv4 in dotted decimal, IPv6 compressed, IPv4-mapped IPv6
// as IPv4), so `API.example.com.`, `2130706434` or `[::ffff:127.0.0.2]`
// cannot slip past a binding, nor past a Host check, by spelling alone.
import type { Scheme } from '../secrets.js';

export interface Authority {
  /** Canonical host name, without brackets. */
  host: string;
  port: number;
}

export interface AbsoluteTarget extends Authority {
  scheme: Scheme;
  /** The same request in origin form: path and query. */
  target: string;
}

export interface BaseUrlTarget {
  runKey: string;
  secret: string;
  /** What follows `/_/<run key>/<secret>`, in origin form. */
  target: string;
}

export const DEFAULT_PORTS: Record<Scheme, number> = { http: 80, https: 443 };
export const BASE_URL_PREFIX = '/_/';

const AUTHORITY = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/@\s?#\\]+))(?::([0-9]{1,5}))?$/;

/** `host[:port]` or `[v6][:port]` (a CONNECT target, a Host header); null when it is not one. */
export function parseAuthority(text: string, defaultPort: number): Authority | null {
  const match = AUTHORITY.exec(text.trim());
  if (!match) return null;
  const port = match[3] ? Number(match[3]) : defaultPort;
  if (!(port >= 1 && port <= 65535)) return null;
  const host = canonicalHost(match[1] !== undefined ? `[${match[1]}]` : match[2]!);
  return host === null ? null : { host, port };
}

/**
 * The WHATWG URL parser's host for `name` (what Node's own clients connect
 * to), lowercased, with one trailing dot and IPv6 brackets removed, and an
 * IPv4-mapped IPv6 address turned back into IPv4.
 */
export function canonicalHost(name: string): string | null {
  // Only a host: anything the URL parser would read as a path, user or port is refused here.
  if (/[/?#@\\\s]/.test(name) || /:[0-9]*$/.test(name.replace(/^\[.*\]$/, ''))) return null;
  let host: string;
  try {
    host = new URL(`http://${name}/`).hostname;
  } catch {
    return null;
  }
  return finishHost(host);
}

/** The last steps of canonicalHost, for a hostname the URL parser already produced. */
function finishHost(parsed: string): string | null {
  let host = parsed;
  if (host.startsWith('[')) {
    host = host.slice(1, -1);
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
    if (mapped) {
      const high = parseInt(mapped[1]!, 16);
      const low = parseInt(mapped[2]!, 16);
      host = `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
    }
    return host;
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host === '' || host.endsWith('.') ? null : host;
}

/** `http://…` or `https://…` (a forward-proxy request in absolute form); null when the URL cannot be read. */
export function parseAbsoluteTarget(url: string): AbsoluteTarget | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const scheme = parsed.protocol === 'https:' ? 'https' : parsed.protocol === 'http:' ? 'http' : null;
  if (scheme === null || parsed.username !== '' || parsed.password !== '') return null;
  const host = finishHost(parsed.hostname);
  if (host === null) return null;
  const port = parsed.port ? Number(parsed.port) : DEFAULT_PORTS[scheme];
  // The path exactly as the URL parser normalised it (dot segments resolved, as a client would have).
  return { scheme, host, port, target: `${parsed.pathname}${parsed.search}` };
}

/** True for `/path?query` — the only request target accepted inside a terminated tunnel. */
export function isOriginForm(target: string): boolean {
  return target.charCodeAt(0) === 0x2f /* / */;
}

/** `/_/<run key>/<secret>[/rest][?query]`; null when the path does not have that shape. */
export function parseBaseUrlPath(url: string): BaseUrlTarget | null {
  if (!url.startsWith(BASE_URL_PREFIX)) return null;
  const keyEnd = url.indexOf('/', BASE_URL_PREFIX.length);
  if (keyEnd === -1) return null;
  const runKey = url.slice(BASE_URL_PREFIX.length, keyEnd);
  const nameEnd = url.slice(keyEnd + 1).search(/[/?]/);
  const secret = nameEnd === -1 ? url.slice(keyEnd + 1) : url.slice(keyEnd + 1, keyEnd + 1 + nameEnd);
  const rest = nameEnd === -1 ? '' : url.slice(keyEnd + 1 + nameEnd);
  if (runKey === '' || secret === '') return null;
  return { runKey, secret, target: rest === '' || rest.startsWith('?') ? `/${rest}` : rest };
}

/** `host:port` for messages, `[v6]:port` for IPv6. */
export function formatAuthority(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The Host header an upstream request carries: the port only when it is not the scheme's default. */
export function formatHostHeader(scheme: Scheme, host: string, port: number): string {
  const name = host.includes(':') ? `[${host}]` : host;
  return port === DEFAULT_PORTS[scheme] ? name : `${name}:${port}`;
}

/**
 * Whether a Host header names exactly this authority. The common spellings
 * (`host`, `host:port`) are compared as strings: this runs for every request
 * inside a tunnel; anything else is parsed and compared canonically.
 */
export function hostHeaderNames(value: string, scheme: Scheme, host: string, port: number): boolean {
  const name = host.includes(':') ? `[${host}]` : host;
  if (value === `${name}:${port}` || (value === name && port === DEFAULT_PORTS[scheme])) return true;
  const parsed = parseAuthority(value, DEFAULT_PORTS[scheme]);
  return parsed !== null && parsed.host === host && parsed.port === port;
}
