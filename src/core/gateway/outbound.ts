// The one path from "this request arrived" to "this is what goes upstream",
// for plain requests and upgrades alike, so no phase can skip a check:
// the target's form, the Host header, the scheme against the bindings,
// --deny-unlisted, the placement and grant of every placeholder (policy.ts),
// the swap, and the headers the upstream gets.
import type { Exchange } from './exchange.js';
import { filterRequestHeaders, restrictAcceptEncoding } from './http-headers.js';
import { decideRequest } from './policy.js';
import { isBound } from './runtime.js';
import { formatAuthority, formatHostHeader, hostHeaderNames, isOriginForm, parseAbsoluteTarget } from './targets.js';

export interface Outbound {
  /** Origin form, always: an upstream never sees an absolute-form target from the child. */
  target: string;
  /** Swapped, with Host set to the route's authority and Accept-Encoding narrowed for a bound host. */
  headers: string[];
}

/**
 * Checks one request and builds what goes upstream; null when it was refused
 * (the exchange has then answered the child and written its audit event).
 * `target` is the request target as received (tunnel) or already reduced to
 * origin form (absolute-form and base-URL requests).
 */
export function prepareOutbound(exchange: Exchange, rawHeaders: readonly string[], target: string, upgrade: boolean): Outbound | null {
  const { route, gateway } = exchange;
  if (!isOriginForm(target)) {
    // Inside a tunnel, `GET https://other.vhost/…` would be routed by a server like nginx to that vhost (RFC 9112 §3.2.2).
    const absolute = parseAbsoluteTarget(target);
    exchange.path = absolute ? absolute.target.split('?')[0]! : '';
    if (absolute) {
      exchange.deny(403, 'host-mismatch', `inside a tunnel to ${exchange.authority} only origin-form targets (/path?query) are accepted, not ${absolute.scheme}://${formatAuthority(absolute.host, absolute.port)}`);
    } else {
      exchange.deny(400, 'bad-request', 'the request target must be a path (/path?query)');
    }
    return null;
  }
  const queryAt = target.indexOf('?');
  exchange.path = queryAt === -1 ? target : target.slice(0, queryAt);

  const { headers, host, hostCount } = filterRequestHeaders(rawHeaders, upgrade);
  if (hostCount > 1) {
    // RFC 9112 §3.2: a 400. Whichever Host an upstream reads, it must be the one checked here.
    exchange.deny(400, 'duplicate-host', 'send exactly one Host header');
    return null;
  }
  if (route.via === 'tunnel' && host !== undefined && !hostHeaderNames(host, route.scheme, route.host, route.port)) {
    exchange.deny(403, 'host-mismatch', `the Host header (${host}) differs from the CONNECT target ${exchange.authority}`);
    return null;
  }
  if (!route.bound) {
    if (isBound(gateway, route.scheme === 'https' ? 'http' : 'https', route.host, route.port)) {
      const detail =
        route.scheme === 'http'
          ? `${exchange.authority} is bound to https:// for this run, so http:// to it is refused (the value is never sent in clear); use https://, or, for a service without TLS, add the secret with --host http://${exchange.authority}`
          : `${exchange.authority} is bound to plain http:// for this run; use http://`;
      exchange.deny(403, 'scheme-mismatch', detail);
      return null;
    }
    if (gateway.options.denyUnlisted) {
      exchange.deny(403, 'unlisted-host', `no granted secret is bound to ${route.scheme}://${exchange.authority}, and this run denies unlisted hosts`);
      return null;
    }
  }

  const decision = decideRequest({ method: exchange.method, scheme: route.scheme, host: route.host, port: route.port, target, headers }, gateway.options.secrets);
  if (decision.kind === 'deny') {
    exchange.deny(403, decision.reason, decision.hint, decision.secret);
    return null;
  }
  if (decision.swapped.length > 0) exchange.secret = decision.swapped.length === 1 ? decision.swapped[0]!.name : decision.swapped.map((secret) => secret.name).join(',');
  // decideRequest hands back either the filtered list or a copy: ours to change either way.
  const out = decision.headers;
  out.push('Host', formatHostHeader(route.scheme, route.host, route.port));
  if (route.bound) restrictAcceptEncoding(out);
  return { target: decision.target, headers: out };
}
