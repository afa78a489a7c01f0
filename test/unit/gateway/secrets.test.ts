import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/core/config.js';
import { buildGrant, buildSecretRecord, hostMatches, parseHostPattern, pathMatches, removeSecret, resolveSecretGrants, validateSecretValue } from '../../../src/core/secrets.js';

const now = new Date('2026-01-01T00:00:00Z');

describe('host patterns', () => {
  it('parses exact hosts, one-label wildcards, ports and IPs', () => {
    expect(parseHostPattern('API.Example.com')).toEqual({ host: 'api.example.com', wildcard: false, port: 443 });
    expect(parseHostPattern('*.example.com:8443')).toEqual({ host: 'example.com', wildcard: true, port: 8443 });
    expect(parseHostPattern('127.0.0.2:9000')).toEqual({ host: '127.0.0.2', wildcard: false, port: 9000 });
    expect(parseHostPattern('[::1]:9000')).toEqual({ host: '::1', wildcard: false, port: 9000 });
    for (const bad of ['https://x.com', '*.com', 'a..b', '*.*.example.com', 'x.com:0', 'x.com:70000', 'user@x.com']) {
      expect(() => parseHostPattern(bad), bad).toThrow(expect.objectContaining({ exitCode: 2 }));
    }
  });

  it('a wildcard matches exactly one label, on the right port', () => {
    const p = parseHostPattern('*.example.com');
    expect(hostMatches(p, 'a.example.com', 443)).toBe(true);
    expect(hostMatches(p, 'A.EXAMPLE.com', 443)).toBe(true);
    expect(hostMatches(p, 'example.com', 443)).toBe(false);
    expect(hostMatches(p, 'a.b.example.com', 443)).toBe(false);
    expect(hostMatches(p, 'a.example.com', 80)).toBe(false);
    expect(hostMatches(p, 'aexample.com', 443)).toBe(false);
  });

  it('path prefixes match on segment boundaries', () => {
    expect(pathMatches('/v1', '/v1')).toBe(true);
    expect(pathMatches('/v1', '/v1/models')).toBe(true);
    expect(pathMatches('/v1', '/v1beta')).toBe(false);
    expect(pathMatches('/v1/', '/v1/x')).toBe(true);
    expect(pathMatches(undefined, '/anything')).toBe(true);
  });
});

describe('secret records', () => {
  it('needs exactly one of --header / --query, and a sane --format', () => {
    expect(() => buildSecretRecord('s', { hosts: ['x.com'] }, now)).toThrow(/exactly one/);
    expect(() => buildSecretRecord('s', { hosts: ['x.com'], header: 'A', query: 'k' }, now)).toThrow(/exactly one/);
    expect(() => buildSecretRecord('s', { hosts: ['x.com'], header: 'A', format: 'Bearer' }, now)).toThrow(/\{\}/);
    expect(() => buildSecretRecord('s', { hosts: ['x.com'], header: 'Host' }, now)).toThrow(/header/);
    expect(() => buildSecretRecord('s', { hosts: ['x.com'], header: 'A', env: 'PATH' }, now)).toThrow(/never overwrites|sets/);
    expect(() => buildSecretRecord('Bad Name', { hosts: ['x.com'], header: 'A' }, now)).toThrow(/invalid secret name/);
    expect(buildSecretRecord('s', { hosts: ['x.com', 'X.com:443'], header: 'Authorization', format: 'Bearer {}', methods: ['get', 'POST'] }, now)).toMatchObject({
      hosts: ['x.com'],
      methods: ['GET', 'POST'],
    });
  });

  it('values: one trailing newline dropped, control characters and short values refused', () => {
    expect(validateSecretValue('abcdefghij\n').toString()).toBe('abcdefghij');
    expect(() => validateSecretValue('abc\ndefghij')).toThrow(/control/);
    expect(() => validateSecretValue('short')).toThrow(/at least 8/);
  });
});

describe('grants', () => {
  const record = buildSecretRecord('s', { hosts: ['x.com'], header: 'A', methods: ['GET', 'POST'], path: '/v1' }, now);

  it('narrow the binding', () => {
    expect(buildGrant(record, { methods: ['get'], paths: ['/v1/models'] })).toEqual({ secret: 's', methods: ['GET'], paths: ['/v1/models'] });
    expect(buildGrant(record, {})).toEqual({ secret: 's' });
  });

  it('never widen it (exit 5)', () => {
    expect(() => buildGrant(record, { methods: ['DELETE'] })).toThrow(expect.objectContaining({ exitCode: 5, code: 'GRANT_WIDENS' }));
    expect(() => buildGrant(record, { paths: ['/v2'] })).toThrow(expect.objectContaining({ exitCode: 5 }));
    expect(() => buildGrant(record, { paths: ['/v1beta'] })).toThrow(expect.objectContaining({ exitCode: 5 }));
  });

  it('resolveSecretGrants (for agent add --secret) requires the secrets to exist', () => {
    const config = { secrets: { s: record }, agents: {} } as unknown as Config;
    expect(resolveSecretGrants(config, ['s', 's'])).toEqual([{ secret: 's' }]);
    expect(() => resolveSecretGrants(config, ['nope'])).toThrow(expect.objectContaining({ exitCode: 3 }));
  });

  it('removing a secret removes every grant of it', () => {
    const config = {
      secrets: { s: record },
      agents: { a: { name: 'a', grants: [{ secret: 's' }], updatedAt: '' }, b: { name: 'b', grants: [], updatedAt: '' } },
    } as unknown as Config;
    expect(removeSecret(config, 's', now).revokedFrom).toEqual(['a']);
    expect(config.agents['a']!.grants).toEqual([]);
    expect(config.secrets['s']).toBeUndefined();
  });
});
