import { usageError } from './errors.js';

// Printable ASCII without space, quote or backslash (RFC 6749 scope-token).
const SCOPE_PATTERN = /^[\x21\x23-\x5b\x5d-\x7e]{1,200}$/;

/** A scope is an opaque string; `*` is allowed only as a whole last segment (`docker:restart:*`). */
export function validateScope(scope: string): string {
  if (!SCOPE_PATTERN.test(scope)) {
    throw usageError('BAD_SCOPE', `invalid scope ${JSON.stringify(scope)}: use printable characters without spaces or quotes (docker:restart:nginx)`);
  }
  const star = scope.indexOf('*');
  if (star !== -1 && !(scope === '*' || (star === scope.length - 1 && scope.endsWith(':*')))) {
    throw usageError('BAD_SCOPE', `invalid scope ${JSON.stringify(scope)}: "*" may only be the whole last segment (docker:restart:*)`);
  }
  return scope;
}

/** True when `pattern` grants `scope`: equal, or a `…:*` prefix of it. */
export function scopeCovers(pattern: string, scope: string): boolean {
  if (pattern === scope || pattern === '*') return true;
  return pattern.endsWith(':*') && scope.startsWith(pattern.slice(0, -1));
}

export function findUncoveredScopes(allowed: readonly string[], requested: readonly string[]): string[] {
  return requested.filter((scope) => !allowed.some((pattern) => scopeCovers(pattern, scope)));
}
