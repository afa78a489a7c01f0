// The per-request decision: where do this run's placeholders appear, may this
// one be swapped here (host, method, path, grant), and what goes upstream.
// Pure string work, no sockets, so it is unit-tested on its own.
import { randomBytes } from 'node:crypto';
import type { SecretRecord } from '../config.js';
import { FORMAT_SLOT, formatHostPattern, policyAllows, policyBindsHost, policyBindsOtherScheme, type EffectivePolicy, type Scheme } from '../secrets.js';
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

export const PLACEHOLDER_PREFIX = 'aa-ph-';

/** `aa-ph-<secret>-<128 random bits>`: recognisable, unique to the run, no secret material. */
export function createPlaceholder(secretName: string): string {
  return `${PLACEHOLDER_PREFIX}${secretName}-${randomBytes(16).toString('base64url').replace(/[-_]/g, 'x')}`;
}

export function createRunSecret(record: SecretRecord, policy: EffectivePolicy, value: Buffer, placeholder = createPlaceholder(record.name)): RunSecret {
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
    if (placement === 'absent') continue;
    if (!policyBindsHost(secret.policy, view.scheme, view.host, view.port)) {
      const other = policyBindsOtherScheme(secret.policy, view.scheme, view.host, view.port);
      if (other) {
        const fix = other.scheme === 'https' ? '; for a service without TLS, add the secret with --host http://…' : '';
        return { kind: 'deny', reason: 'scheme-mismatch', secret: secret.name, hint: `secret "${secret.name}" is bound to ${formatHostPattern(other)}; it is never sent over ${view.scheme}://${fix}` };
      }
      return { kind: 'deny', reason: 'placeholder-misplaced', secret: secret.name, hint: `secret "${secret.name}" is bound to ${secret.record.hosts.join(', ')}, not ${view.scheme}://${formatAuthority(view.host, view.port)}` };
    }
    if (placement === 'misplaced') {
      return { kind: 'deny', reason: 'placeholder-misplaced', secret: secret.name, hint: `the placeholder for secret "${secret.name}" may only appear in ${describePlace(secret.record)}` };
    }
    if (!policyAllows(secret.policy, view.method, path)) {
      return { kind: 'deny', reason: 'not-granted', secret: secret.name, hint: describeGrantLimit(secret, view.method) };
    }
    const override = secret.policy.methods ? findOverride(headers, query, secret.policy.methods) : null;
    if (override !== null) {
      return { kind: 'deny', reason: 'not-granted', secret: secret.name, hint: `${override} asks for another method than ${view.method}; this agent's grant of "${secret.name}" limits methods to ${secret.policy.methods!.join(', ')}` };
    }
    if (secret.record.header !== undefined) headers = swapHeader(headers, secret);
    else target = swapQuery(target, secret);
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

type Placement = 'absent' | 'declared' | 'misplaced';

/**
 * 'declared' when the placeholder appears only in the secret's declared header
 * (verbatim) or query parameter; 'misplaced' when it appears anywhere else,
 * in any encoding we can recognise (base64 inside a Basic header, percent-escapes).
 */
function locatePlaceholder(secret: RunSecret, headers: readonly string[], path: string, query: string | null): Placement {
  let declared = false;
  const declaredHeader = secret.record.header?.toLowerCase();
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    if (containsAny(name, secret.detect)) return 'misplaced';
    if (!containsAny(value, secret.detect)) continue;
    if (declaredHeader !== undefined && name.toLowerCase() === declaredHeader && value.includes(secret.placeholder)) {
      // Present verbatim in the right header; any other encoding of it there is still misplaced.
      const rest = value.split(secret.placeholder).join('');
      if (containsAny(rest, secret.detect)) return 'misplaced';
      declared = true;
      continue;
    }
    return 'misplaced';
  }
  if (containsAny(path, secret.detect) || containsAny(safeDecode(path), secret.detect)) return 'misplaced';
  if (query !== null) {
    for (const pair of query.split('&')) {
      const eq = pair.indexOf('=');
      const rawKey = eq === -1 ? pair : pair.slice(0, eq);
      const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
      const key = safeDecode(rawKey);
      const value = safeDecode(rawValue);
      if (containsAny(rawKey, secret.detect) || containsAny(key, secret.detect)) return 'misplaced';
      if (!containsAny(rawValue, secret.detect) && !containsAny(value, secret.detect)) continue;
      if (secret.record.query !== undefined && key === secret.record.query && value.includes(secret.placeholder)) {
        if (containsAny(value.split(secret.placeholder).join(''), secret.detect)) return 'misplaced';
        declared = true;
        continue;
      }
      return 'misplaced';
    }
  }
  return declared ? 'declared' : 'absent';
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

function swapHeader(headers: readonly string[], secret: RunSecret): string[] {
  const name = secret.record.header!.toLowerCase();
  // Header strings are latin1 in node:http; the value's UTF-8 bytes go out as they are.
  const real = secret.value.toString('latin1');
  const formatted = (secret.record.format ?? FORMAT_SLOT).split(FORMAT_SLOT).join(real);
  const out = headers.slice();
  for (let i = 0; i < out.length; i += 2) {
    if (out[i]!.toLowerCase() !== name) continue;
    const value = out[i + 1]!;
    if (!value.includes(secret.placeholder)) continue;
    // The bare placeholder gets the declared format (x-api-key: {} or
    // Authorization: Bearer {}); a client that already formatted it keeps its text.
    out[i + 1] = value.trim() === secret.placeholder ? formatted : value.split(secret.placeholder).join(real);
  }
  return out;
}

function swapQuery(target: string, secret: RunSecret): string {
  const at = target.indexOf('?');
  const real = encodeURIComponent(secret.value.toString('utf8'));
  const pairs = target
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1 || safeDecode(pair.slice(0, eq)) !== secret.record.query) return pair;
      const value = safeDecode(pair.slice(eq + 1));
      if (!value.includes(secret.placeholder)) return pair;
      return `${pair.slice(0, eq)}=${value === secret.placeholder ? real : encodeURIComponent(value).split(secret.placeholder).join(real)}`;
    });
  return `${target.slice(0, at)}?${pairs.join('&')}`;
}

function describePlace(record: SecretRecord): string {
  return record.header !== undefined ? `the ${record.header} header` : `the ${record.query} query parameter`;
}

function describeGrantLimit(secret: RunSecret, method: string): string {
  const { methods, paths } = secret.policy;
  const parts: string[] = [];
  if (methods) parts.push(`methods ${methods.join(', ')}`);
  if (paths) parts.push(`paths under ${paths.join(', ')}, without encoded separators, dot segments or ";" parameters`);
  return `${method} here is outside this agent's grant of "${secret.name}" (allowed: ${parts.join(' and ')})`;
}
