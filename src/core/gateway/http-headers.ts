// Header work for the gateway, on raw header lists: node:http and undici both
// present headers as flat [name, value, name, value…] arrays of latin1
// strings, duplicates and spelling kept. Pure functions, unit-tested alone.
import { scrubHeaderValue, type ScrubRule } from './scrub.js';

// RFC 9110 §7.6.1 plus the de-facto ones; each is meaningful for one hop only.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']);

/**
 * Headers (and query parameters) that frameworks read as "treat this request
 * as method X": Rails, Laravel, Express's method-override, Google and
 * Microsoft APIs. Under a method-limited grant they would widen it.
 */
const METHOD_OVERRIDE_HEADERS = new Set(['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-method']);
export const METHOD_OVERRIDE_PARAMS = new Set(['_method', 'x-http-method-override', 'x-http-method', 'x-method-override']);

/** Codings the gateway can decode to scrub a body (content-coding.ts), offered upstream in this order. */
const ACCEPTED_CODINGS = new Set(['gzip', 'x-gzip', 'br', 'identity']);

export interface RequestHeaders {
  /**
   * Without Proxy-Authorization, hop-by-hop headers, any header Connection
   * names, and Host. For an upgrade, Upgrade stays: it goes upstream, so the
   * placeholder checks must see it.
   */
  headers: string[];
  host: string | undefined;
  hostCount: number;
}

/** The child's request headers as an upstream may see them, plus its Host header(s) for the caller to check. */
export function filterRequestHeaders(raw: readonly string[], upgrade: boolean): RequestHeaders {
  const named = connectionTokens(raw);
  let host: string | undefined;
  let hostCount = 0;
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (lower === 'host') {
      host = raw[i + 1];
      hostCount += 1;
      continue;
    }
    if (upgrade && lower === 'upgrade') {
      headers.push(raw[i]!, raw[i + 1]!);
      continue;
    }
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    // permessage-deflate would compress frames past the scrubber; ask for plain frames.
    if (upgrade && lower === 'sec-websocket-extensions') continue;
    headers.push(raw[i]!, raw[i + 1]!);
  }
  return { headers, host, hostCount };
}

export interface ResponseHead {
  /** Scrubbed names and values, without hop-by-hop headers (and Content-Length / Content-Encoding when asked). */
  headers: string[];
  /** The upstream's Content-Length, when it is one plain decimal number. */
  length: string | undefined;
  /** Content-Encoding layers in the order they were applied: every header, every comma-list item, `identity` left out. */
  contentCodings: string[];
  /** Transfer-Encoding layers in the order applied, without the final `chunked` (which the HTTP parser already undid). */
  transferCodings: string[];
}

/**
 * Reads an upstream response head in one pass: the header list for the
 * child (names and values scrubbed), its declared length and its codings.
 */
export function readResponseHead(raw: readonly string[], rules: readonly ScrubRule[], options: { dropLength: boolean; dropContentEncoding: boolean }): ResponseHead {
  const named = connectionTokens(raw);
  const headers: string[] = [];
  let length: string | undefined;
  let lengthCount = 0;
  let contentCodings: string[] | null = null;
  let transferCodings: string[] | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (lower === 'transfer-encoding') {
      (transferCodings ??= []).push(...splitList(value));
      continue;
    }
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    if (lower === 'content-length') {
      length = value.trim();
      lengthCount += 1;
      if (options.dropLength) continue;
    } else if (lower === 'content-encoding') {
      (contentCodings ??= []).push(...splitList(value));
      if (options.dropContentEncoding) continue;
    }
    headers.push(scrubHeaderValue(name, rules), scrubHeaderValue(value, rules));
  }
  if (transferCodings !== null && transferCodings.at(-1) === 'chunked') transferCodings.pop();
  return {
    headers,
    // Only one plain decimal length is trusted for the whole-body fast path.
    length: lengthCount === 1 && length !== undefined && /^[0-9]{1,15}$/.test(length) ? length : undefined,
    contentCodings: contentCodings?.filter((coding) => coding !== 'identity') ?? [],
    transferCodings: transferCodings ?? [],
  };
}

/** Replaces every header called `name` (any case) by one. */
export function setHeader(headers: string[], name: string, value: string): void {
  const lower = name.toLowerCase();
  for (let i = headers.length - 2; i >= 0; i -= 2) if (headers[i]!.toLowerCase() === lower) headers.splice(i, 2);
  headers.push(name, value);
}

/**
 * Narrows Accept-Encoding to what the gateway can decode, so that a bound
 * host's answer can be scrubbed. Always present: without the header a
 * server may pick any coding (RFC 9110 §12.5.3).
 */
export function restrictAcceptEncoding(headers: string[]): void {
  let seen = false;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() !== 'accept-encoding') continue;
    const kept = splitList(headers[i + 1]!).filter((part) => ACCEPTED_CODINGS.has(part.split(';')[0]!.trim()));
    headers[i + 1] = kept.length > 0 ? kept.join(', ') : 'identity';
    seen = true;
  }
  if (!seen) headers.push('Accept-Encoding', 'identity');
}

/** The methods a request asks to be treated as, through override headers (uppercased). */
export function findMethodOverrides(headers: readonly string[]): string[] {
  const found: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (METHOD_OVERRIDE_HEADERS.has(headers[i]!.toLowerCase())) found.push(headers[i + 1]!.trim().toUpperCase());
  }
  return found;
}

/** A response head for a raw socket (CONNECT and upgrade paths leave node:http's writer behind). */
export function serialiseHead(status: number, statusText: string, headers: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${statusText}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/** Scrubs a status line's reason phrase and every header name and value of a 101 answer. */
export function scrubHeaderList(raw: readonly string[], rules: readonly ScrubRule[]): string[] {
  const out = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = scrubHeaderValue(raw[i]!, rules);
  return out;
}

/**
 * The headers a Connection header names (RFC 9110 §7.6.1), beyond those
 * always dropped; null when none (the usual `Connection: keep-alive`). Runs
 * for every request and answer: the length test spares most names a toLowerCase.
 */
function connectionTokens(raw: readonly string[]): Set<string> | null {
  let named: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 10 || raw[i]!.toLowerCase() !== 'connection') continue;
    for (const token of splitList(raw[i + 1]!)) if (!HOP_BY_HOP.has(token)) (named ??= new Set()).add(token);
  }
  return named;
}

/** A comma-separated header value's items, trimmed and lowercased, empty ones dropped. */
function splitList(value: string): string[] {
  const items: string[] = [];
  for (const part of value.split(',')) {
    const item = part.trim().toLowerCase();
    if (item !== '') items.push(item);
  }
  return items;
}
