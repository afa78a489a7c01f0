// The per-request decision: where do this run's placeholders appear, may this
// one be swapped here (host, method, path, grant), and what goes upstream.
// Pure string work, no sockets, so it is unit-tested on its own.
import type { HeaderPlacement, SecretRecord } from '../config.js';
import { basicUser, describePlacement, FORMAT_SLOT, formatHostPattern, policyAllows, policyBindsHost, policyBindsOtherScheme, type EffectivePolicy, type Scheme } from '../secrets.js';
import { findMethodOverrides, METHOD_OVERRIDE_PARAMS } from './http-headers.js';
import { buildScrubRules, type ScrubRule } from './scrub.js';
import { formatAuthority } from './targets.js';

/** One granted secret as the running gateway sees it. */
export interface RunSecret {
  name: string;
  record: SecretRecord;
  policy: EffectivePolicy;
  placeholder: string;
  value: Buffer;
  /** Encodings of the placeholder to look for (raw, base64 at any alignment). */
  detect: string[];
  /** Encodings of the real value to scrub from responses. */
  scrub: ScrubRule[];
}

/** The placeholder comes from placeholders.ts: derived, stable per agent and secret until `secret rotate`. */
export function createRunSecret(record: SecretRecord, policy: EffectivePolicy, value: Buffer, placeholder: string): RunSecret {
  const detect = buildScrubRules(Buffer.from(placeholder, 'utf8'), '').map((rule) => rule.pattern.toString('utf8'));
  return { name: record.name, record, policy, placeholder, value, detect, scrub: buildScrubRules(value, placeholder) };
}

export interface RequestView {
  method: string;
  scheme: Scheme;
  /** Canonical host the request will be sent to (CONNECT target, absolute URL or base-URL upstream). */
  host: string;
  port: number;
  /** Origin-form target: path and query as they will be sent. */
  target: string;
  /** Raw header pairs [name, value, name, value…], hop-by-hop ones and Host already removed. */
  headers: string[];
}

export type DenyReason = 'placeholder-misplaced' | 'not-granted' | 'scheme-mismatch';

export type Decision =
  | { kind: 'forward'; target: string; headers: string[]; swapped: RunSecret[] }
  | { kind: 'deny'; reason: DenyReason; hint: string; secret: string | null };

/** Applies every rule of gateway.md's "inside decrypted traffic" list to one request. */
export function decideRequest(view: RequestView, secrets: readonly RunSecret[]): Decision {
  if (secrets.length === 0) return { kind: 'forward', target: view.target, headers: view.headers, swapped: [] };
  const queryAt = view.target.indexOf('?');
  const path = queryAt === -1 ? view.target : view.target.slice(0, queryAt);
  const query = queryAt === -1 ? null : view.target.slice(queryAt + 1);
  let headers = view.headers;
  let target = view.target;
  const swapped: RunSecret[] = [];

  for (const secret of secrets) {
    const placement = locatePlaceholder(secret, headers, path, query);
    if (placement.kind === 'absent') continue;
    if (!policyBindsHost(secret.policy, view.scheme, view.host, view.port)) {
      const other = policyBindsOtherScheme(secret.policy, view.scheme, view.host, view.port);
      if (other) {
        const fix = other.scheme === 'https' ? '; for a service without TLS, add the secret with --host http://…' : '';
        return { kind: 'deny', reason: 'scheme-mismatch', secret: secret.name, hint: `secret "${secret.name}" is bound to ${formatHostPattern(other)}; it is never sent over ${view.scheme}://${fix}` };
      }
      return { kind: 'deny', reason: 'placeholder-misplaced', secret: secret.name, hint: `secret "${secret.name}" is bound to ${secret.record.hosts.join(', ')}, not ${view.scheme}://${formatAuthority(view.host, view.port)}` };
    }
    if (placement.kind === 'misplaced') {
      return { kind: 'deny', reason: 'placeholder-misplaced', secret: secret.name, hint: placement.why ?? `the placeholder for secret "${secret.name}" may only appear in its declared places (${describePlaces(secret.record)})` };
    }
    if (!policyAllows(secret.policy, view.method, path)) {
      return { kind: 'deny', reason: 'not-granted', secret: secret.name, hint: describeGrantLimit(secret, view.method) };
    }
    const override = secret.policy.methods ? findOverride(headers, query, secret.policy.methods) : null;
    if (override !== null) {
      return { kind: 'deny', reason: 'not-granted', secret: secret.name, hint: `${override} asks for another method than ${view.method}; this agent's grant of "${secret.name}" limits methods to ${secret.policy.methods!.join(', ')}` };
    }
    headers = swapHeaders(headers, secret);
    if (query !== null) target = swapQuery(target, secret);
    swapped.push(secret);
  }
  return { kind: 'forward', target, headers, swapped };
}

/**
 * A method-override header or query parameter naming a method outside
 * `allowed`, described for the hint; null when there is none. Frameworks
 * apply these before routing, so they would widen a method-limited grant.
 */
function findOverride(headers: readonly string[], query: string | null, allowed: readonly string[]): string | null {
  for (const method of findMethodOverrides(headers)) if (!allowed.includes(method)) return `a method-override header (${method})`;
  if (query === null) return null;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const key = safeDecode(eq === -1 ? pair : pair.slice(0, eq)).toLowerCase();
    if (!METHOD_OVERRIDE_PARAMS.has(key)) continue;
    const method = safeDecode(eq === -1 ? '' : pair.slice(eq + 1)).trim().toUpperCase();
    if (!allowed.includes(method)) return `the ${key} query parameter (${method || 'empty'})`;
  }
  return null;
}

type Located = { kind: 'absent' } | { kind: 'declared' } | { kind: 'misplaced'; why?: string };

/** How one header carries a secret's placeholder. */
type HeaderUse =
  | { kind: 'none' }
  | { kind: 'misplaced'; why?: string }
  /** The placeholder verbatim: replaced in the text (or the bare placeholder formatted by `placement`). */
  | { kind: 'text'; placement: HeaderPlacement }
  /** `Basic base64(USER:placeholder)`: re-encoded with the value as the password. */
  | { kind: 'basic'; user: Buffer };

function headerPlacements(record: SecretRecord, name: string): (HeaderPlacement)[] {
  const lower = name.toLowerCase();
  return record.placements.filter((placement): placement is HeaderPlacement => 'header' in placement && placement.header.toLowerCase() === lower);
}

/**
 * Whether this header carries the placeholder, and how. It is 'text' or
 * 'basic' only in a header the secret declares, in that placement's form,
 * with no other encoding of the placeholder beside it; anywhere else, in any
 * encoding we recognise (base64 at any alignment, as in a Basic header for
 * another user or in another header), it is 'misplaced'.
 */
function classifyHeader(secret: RunSecret, name: string, value: string): HeaderUse {
  if (containsAny(name, secret.detect)) return { kind: 'misplaced' };
  if (!containsAny(value, secret.detect)) return { kind: 'none' };
  const declared = headerPlacements(secret.record, name);
  const text = declared.find((placement) => basicUser(placement) === null);
  if (text && value.includes(secret.placeholder)) {
    // Present verbatim in the right header; any other encoding of it there is still misplaced.
    return containsAny(value.split(secret.placeholder).join(''), secret.detect) ? { kind: 'misplaced' } : { kind: 'text', placement: text };
  }
  const users = declared.map(basicUser).filter((user): user is string => user !== null);
  if (users.length === 0) return { kind: 'misplaced' };
  const credentials = parseBasic(value);
  if (!credentials) return { kind: 'misplaced' };
  const placeholder = Buffer.from(secret.placeholder, 'utf8');
  if (!credentials.password.equals(placeholder) || containsAny(credentials.user.toString('latin1'), secret.detect)) return { kind: 'misplaced' };
  // The grant is for the declared account only: another user name with this
  // password could open an account the secret was never meant for.
  if (!users.some((user) => credentials.user.equals(Buffer.from(user, 'utf8')))) {
    return { kind: 'misplaced', why: `secret "${secret.name}" is a Basic password for the user ${users.join(' or ')} only, not ${JSON.stringify(credentials.user.toString('utf8'))} (e.g. https://${users[0]}:$TOKEN@host/…)` };
  }
  return { kind: 'basic', user: credentials.user };
}

/** `Basic <canonical base64 of user:password>`; null for anything else. */
function parseBasic(value: string): { user: Buffer; password: Buffer } | null {
  const match = /^\s*Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(value);
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64');
  // Only the one spelling: a lenient decoder elsewhere must not read other bytes than we checked.
  if (decoded.toString('base64') !== match[1]) return null;
  const colon = decoded.indexOf(0x3a);
  if (colon === -1) return null;
  return { user: decoded.subarray(0, colon), password: decoded.subarray(colon + 1) };
}

/** 'declared' when every appearance of the placeholder is in a declared placement, in its form; 'misplaced' at the first that is not. */
function locatePlaceholder(secret: RunSecret, headers: readonly string[], path: string, query: string | null): Located {
  let declared = false;
  for (let i = 0; i < headers.length; i += 2) {
    const use = classifyHeader(secret, headers[i]!, headers[i + 1]!);
    if (use.kind === 'none') continue;
    if (use.kind === 'misplaced') return use.why === undefined ? { kind: 'misplaced' } : { kind: 'misplaced', why: use.why };
    declared = true;
  }
  if (containsAny(path, secret.detect) || containsAny(safeDecode(path), secret.detect)) return { kind: 'misplaced' };
  if (query !== null) {
    const params = new Set(secret.record.placements.flatMap((placement) => ('query' in placement ? [placement.query] : [])));
    for (const pair of query.split('&')) {
      const eq = pair.indexOf('=');
      const rawKey = eq === -1 ? pair : pair.slice(0, eq);
      const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
      const key = safeDecode(rawKey);
      const value = safeDecode(rawValue);
      if (containsAny(rawKey, secret.detect) || containsAny(key, secret.detect)) return { kind: 'misplaced' };
      if (!containsAny(rawValue, secret.detect) && !containsAny(value, secret.detect)) continue;
      if (params.has(key) && value.includes(secret.placeholder)) {
        if (containsAny(value.split(secret.placeholder).join(''), secret.detect)) return { kind: 'misplaced' };
        declared = true;
        continue;
      }
      return { kind: 'misplaced' };
    }
  }
  return declared ? { kind: 'declared' } : { kind: 'absent' };
}

/**
 * One compiled alternation per list of forms: every header name and value of
 * every request is checked against ~24 forms per secret, and one regex scan
 * beats 24 `includes` calls (profiled in the gateway's request path).
 */
const formMatchers = new WeakMap<readonly string[], RegExp | boolean>();

function containsAny(text: string, forms: readonly string[]): boolean {
  let matcher = formMatchers.get(forms);
  if (matcher === undefined) {
    // No forms: nothing can match; an empty form is contained in every text.
    matcher = forms.length === 0 ? false : forms.includes('') ? true : new RegExp(forms.map((form) => form.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('|'));
    formMatchers.set(forms, matcher);
  }
  return typeof matcher === 'boolean' ? matcher : matcher.test(text);
}

function safeDecode(text: string): string {
  // Most paths and parameters hold no escapes: nothing to decode (this runs for every request).
  if (!text.includes('%') && !text.includes('+')) return text;
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

function swapHeaders(headers: readonly string[], secret: RunSecret): string[] {
  // Header strings are latin1 in node:http; the value's UTF-8 bytes go out as they are.
  const real = secret.value.toString('latin1');
  const out = headers.slice();
  for (let i = 0; i < out.length; i += 2) {
    const use = classifyHeader(secret, out[i]!, out[i + 1]!);
    if (use.kind === 'text') {
      const value = out[i + 1]!;
      // The bare placeholder gets the declared format (x-api-key: {} or
      // Authorization: Bearer {}); a client that already formatted it keeps its text.
      out[i + 1] = value.trim() === secret.placeholder ? (use.placement.format ?? FORMAT_SLOT).split(FORMAT_SLOT).join(real) : value.split(secret.placeholder).join(real);
    } else if (use.kind === 'basic') {
      out[i + 1] = `Basic ${Buffer.concat([use.user, Buffer.from(':'), secret.value]).toString('base64')}`;
    }
  }
  return out;
}

function swapQuery(target: string, secret: RunSecret): string {
  const params = new Set(secret.record.placements.flatMap((placement) => ('query' in placement ? [placement.query] : [])));
  if (params.size === 0) return target;
  const at = target.indexOf('?');
  const real = encodeURIComponent(secret.value.toString('utf8'));
  const pairs = target
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1 || !params.has(safeDecode(pair.slice(0, eq)))) return pair;
      const value = safeDecode(pair.slice(eq + 1));
      if (!value.includes(secret.placeholder)) return pair;
      return `${pair.slice(0, eq)}=${value === secret.placeholder ? real : encodeURIComponent(value).split(secret.placeholder).join(real)}`;
    });
  return `${target.slice(0, at)}?${pairs.join('&')}`;
}

function describePlaces(record: SecretRecord): string {
  return record.placements.map(describePlacement).join('; ');
}

function describeGrantLimit(secret: RunSecret, method: string): string {
  const { methods, paths } = secret.policy;
  const parts: string[] = [];
  if (methods) parts.push(`methods ${methods.join(', ')}`);
  if (paths) parts.push(`paths under ${paths.join(', ')}, without encoded separators, dot segments or ";" parameters`);
  return `${method} here is outside this agent's grant of "${secret.name}" (allowed: ${parts.join(' and ')})`;
}
