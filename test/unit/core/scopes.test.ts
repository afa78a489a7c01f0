import { describe, expect, it } from 'vitest';
import { findUncoveredScopes, scopeCovers, validateScope } from '../../../src/core/scopes.js';

describe('scopes', () => {
  it('a trailing * segment grants a prefix, nothing else does', () => {
    expect(scopeCovers('docker:restart:*', 'docker:restart:nginx')).toBe(true);
    expect(scopeCovers('docker:restart:*', 'docker:restart:nginx:hard')).toBe(true);
    expect(scopeCovers('docker:restart:*', 'docker:restarter')).toBe(false);
    expect(scopeCovers('docker:restart:*', 'docker:stop:nginx')).toBe(false);
    expect(scopeCovers('docker:restart:nginx', 'docker:restart:nginx')).toBe(true);
    expect(scopeCovers('docker:restart:nginx', 'docker:restart:nginx2')).toBe(false);
    expect(scopeCovers('docker:*', 'docker:restart:*')).toBe(true);
    expect(scopeCovers('docker:restart:*', 'docker:*')).toBe(false);
  });

  it('lists exactly the requested scopes the entry does not cover', () => {
    expect(findUncoveredScopes(['email:send', 'docker:restart:*'], ['email:send', 'docker:restart:x', 'email:read'])).toEqual(['email:read']);
  });

  it('rejects spaces, quotes and a * anywhere but a whole last segment', () => {
    for (const bad of ['a b', '', 'a"b', 'docker*', 'do*cker:x', 'docker:*:x', 'a\\b']) {
      expect(() => validateScope(bad), bad).toThrow(expect.objectContaining({ code: 'BAD_SCOPE', kind: 'usage' }));
    }
    expect(validateScope('docker:restart:*')).toBe('docker:restart:*');
    expect(validateScope('*')).toBe('*');
  });
});
