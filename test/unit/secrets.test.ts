import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/core/config.js';
import { buildEffectivePolicy, buildGrant, describePlacement, buildSecretRecord, decodeRequestPath, formatHostPattern, hostMatches, parseHostPattern, pathMatches, policyAllows, removeSecret, resolveSecretGrants, validateSecretValue } from '../../src/core/secrets.js';

const now = new Date('2026-01-01T00:00:00Z');

describe('host patterns', () => {
  it('parses exact hosts, one-label wildcards, ports and IPs; https unless http:// is spelled out', () => {
    expect(parseHostPattern('API.Example.com')).toEqual({ scheme: 'https', host: 'api.example.com', wildcard: false, port: 443 });
    expect(parseHostPattern('*.example.com:8443')).toEqual({ scheme: 'https', host: 'example.com', wildcard: true, port: 8443 });
    expect(parseHostPattern('127.0.0.2:9000')).toEqual({ scheme: 'https', host: '127.0.0.2', wildcard: false, port: 9000 });
    expect(parseHostPattern('[::1]:9000')).toEqual({ scheme: 'https', host: '::1', wildcard: false, port: 9000 });
    expect(parseHostPattern('https://x.com')).toEqual({ scheme: 'https', host: 'x.com', wildcard: false, port: 443 });
    expect(parseHostPattern('http://localhost:11434')).toEqual({ scheme: 'http', host: 'localhost', wildcard: false, port: 11434 });
    expect(parseHostPattern('HTTP://nas.lan/')).toEqual({ scheme: 'http', host: 'nas.lan', wildcard: false, port: 80 });
    for (const bad of ['ftp://x.com', 'http://x.com/v1', '*.com', 'a..b', '*.*.example.com', 'x.com:0', 'x.com:70000', 'user@x.com', 'http://user@x.com']) {
      expect(() => parseHostPattern(bad), bad).toThrow(expect.objectContaining({ kind: 'usage' }));
    }
  });

  it('formats https bindings bare and plain-HTTP ones with their scheme', () => {
    for (const [text, shown] of [
      ['api.example.com', 'api.example.com'],
      ['https://api.example.com:443', 'api.example.com'],
      ['http://localhost:11434', 'http://localhost:11434'],
      ['http://nas.lan:80', 'http://nas.lan'],
      ['http://[::1]:8080', 'http://[::1]:8080'],
    ]) {
      expect(formatHostPattern(parseHostPattern(text!)), text).toBe(shown);
    }
  });

  it('a wildcard matches exactly one label, on the right scheme and port', () => {
    const p = parseHostPattern('*.example.com');
    expect(hostMatches(p, 'https', 'a.example.com', 443)).toBe(true);
    expect(hostMatches(p, 'https', 'example.com', 443)).toBe(false);
    expect(hostMatches(p, 'https', 'a.b.example.com', 443)).toBe(false);
    expect(hostMatches(p, 'https', 'a.example.com', 80)).toBe(false);
    expect(hostMatches(p, 'https', 'aexample.com', 443)).toBe(false);
    expect(hostMatches(p, 'http', 'a.example.com', 443)).toBe(false);
    expect(hostMatches(parseHostPattern('http://localhost:11434'), 'http', 'localhost', 11434)).toBe(true);
    expect(hostMatches(parseHostPattern('http://localhost:11434'), 'https', 'localhost', 11434)).toBe(false);
  });

  it('path prefixes match on segment boundaries', () => {
    expect(pathMatches('/v1', '/v1')).toBe(true);
    expect(pathMatches('/v1', '/v1/models')).toBe(true);
    expect(pathMatches('/v1', '/v1beta')).toBe(false);
    expect(pathMatches('/v1/', '/v1/x')).toBe(true);
    expect(pathMatches(undefined, '/anything')).toBe(true);
  });
});

describe('request paths under a path-limited grant', () => {
  it('are compared decoded', () => {
    expect(decodeRequestPath('/v1/models')).toBe('/v1/models');
    expect(decodeRequestPath('/%761/models')).toBe('/v1/models');
    expect(decodeRequestPath('/v1/caf%C3%A9')).toBe('/v1/café');
  });

  it('are ambiguous (null) when a server could read them differently', () => {
    for (const path of ['/v1/..%2fadmin', '/v1%2F..%2Fadmin', '/v1/%5c../admin', '/v1\\..\\admin', '/v1;x/../admin', '/v1/..;/admin', '/v1/%3b/x', '/v1/%2e%2e/admin', '/v1/.%2E/admin', '/v1/../admin', '/v1/./x', '/v1/%252f', '/v1/%00', '/v1/%zz', '/v1/%C3', '/v1#/../admin', '/v1/%23']) {
      expect(decodeRequestPath(path), path).toBeNull();
    }
  });

  it('cannot match a path-limited grant when ambiguous, and method limits hold', () => {
    const record = buildSecretRecord('s', { hosts: ['x.com'], headers: ['A'], path: '/v1' }, now);
    const policy = buildEffectivePolicy(record, buildGrant(record, { methods: ['GET'] }));
    expect(policyAllows(policy, 'GET', '/v1/models')).toBe(true);
    expect(policyAllows(policy, 'GET', '/%761/models')).toBe(true);
    expect(policyAllows(policy, 'GET', '/v1/..%2fadmin')).toBe(false);
    expect(policyAllows(policy, 'GET', '/v1;/../admin')).toBe(false);
    expect(policyAllows(policy, 'POST', '/v1/models')).toBe(false);
    // Without any path limit the path is not inspected.
    const open = buildSecretRecord('o', { hosts: ['x.com'], headers: ['A'] }, now);
    expect(policyAllows(buildEffectivePolicy(open, { secret: 'o' }), 'GET', '/a/..%2fb')).toBe(true);
  });
});

describe('secret records', () => {
  it('needs a placement, and sane formats', () => {
    expect(() => buildSecretRecord('s', { hosts: ['x.com'] }, now)).toThrow(/--header NAME\[:FORMAT\] or --query PARAM/);
    expect(() => buildSecretRecord('s', { hosts: ['x.com'], headers: ['A'], format: 'Bearer' }, now)).toThrow(/\{\}/);
    expect(() => buildSecretRecord('s', { hosts: ['x.com'], headers: ['A:Bearer'] }, now)).toThrow(/\{\}/);
    expect(() => buildSecretRecord('s', { hosts: ['x.com'], headers: ['Host'] }, now)).toThrow(/header/);
    expect(() => buildSecretRecord('s', { hosts: ['x.com'], headers: ['A'], env: ['PATH'] }, now)).toThrow(/never overwrites|sets/);
    expect(() => buildSecretRecord('s', { hosts: ['x.com'], queries: ['k'], format: 'Bearer {}' }, now)).toThrow(/--header only/);
    expect(() => buildSecretRecord('Bad Name', { hosts: ['x.com'], headers: ['A'] }, now)).toThrow(/invalid secret name/);
    for (const bad of ['authorization:basic:', 'authorization:basic:a:b', 'authorization:basic:{}']) {
      expect(() => buildSecretRecord('s', { hosts: ['x.com'], headers: [bad] }, now), bad).toThrow(/basic:USER/);
    }
    expect(buildSecretRecord('s', { hosts: ['x.com', 'X.com:443'], headers: ['Authorization'], format: 'Bearer {}', methods: ['get', 'POST'] }, now)).toMatchObject({
      hosts: ['x.com'],
      methods: ['GET', 'POST'],
      placements: [{ header: 'Authorization', format: 'Bearer {}' }],
    });
  });

  it('takes several placements (duplicates once) and several variables', () => {
    const record = buildSecretRecord('gh', { hosts: ['github.com'], headers: ['authorization:Bearer {}', 'authorization:Basic:x-access-token', 'authorization:Bearer {}'], queries: ['access_token'], env: ['GH_TOKEN', 'GITHUB_TOKEN', 'GH_TOKEN'] }, now);
    expect(record.placements).toEqual([{ header: 'authorization', format: 'Bearer {}' }, { header: 'authorization', format: 'basic:x-access-token' }, { query: 'access_token' }]);
    expect(record.env).toEqual(['GH_TOKEN', 'GITHUB_TOKEN']);
    expect(record.placements.map(describePlacement)).toEqual(['authorization: Bearer {}', 'authorization: Basic x-access-token:{}', '?access_token=']);
    expect(() => buildSecretRecord('s', { hosts: ['x.com'], headers: ['A'], env: ['X_URL'], baseUrlEnv: 'X_URL' }, now)).toThrow(/both/);
  });

  it('values: one trailing newline dropped, control characters and short values refused', () => {
    expect(validateSecretValue('abcdefghij\n').toString()).toBe('abcdefghij');
    expect(() => validateSecretValue('abc\ndefghij')).toThrow(/control/);
    expect(() => validateSecretValue('short')).toThrow(/at least 8/);
  });
});

describe('grants', () => {
  const record = buildSecretRecord('s', { hosts: ['x.com'], headers: ['A'], methods: ['GET', 'POST'], path: '/v1' }, now);

  it('narrow the binding', () => {
    expect(buildGrant(record, { methods: ['get'], paths: ['/v1/models'] })).toEqual({ secret: 's', methods: ['GET'], paths: ['/v1/models'] });
    expect(buildGrant(record, {})).toEqual({ secret: 's' });
  });

  it('never widen it (exit 5)', () => {
    expect(() => buildGrant(record, { methods: ['DELETE'] })).toThrow(expect.objectContaining({ kind: 'policy', code: 'GRANT_WIDENS' }));
    expect(() => buildGrant(record, { paths: ['/v2'] })).toThrow(expect.objectContaining({ kind: 'policy' }));
    expect(() => buildGrant(record, { paths: ['/v1beta'] })).toThrow(expect.objectContaining({ kind: 'policy' }));
    expect(() => buildGrant(record, { paths: ['/v1/..%2fadmin'] })).toThrow(expect.objectContaining({ kind: 'usage', code: 'BAD_PATH' }));
  });

  it('resolveSecretGrants (for agent add --secret) requires the secrets to exist', () => {
    const config = { secrets: { s: record }, agents: {} } as unknown as Config;
    expect(resolveSecretGrants(config, ['s', 's'])).toEqual([{ secret: 's' }]);
    expect(() => resolveSecretGrants(config, ['nope'])).toThrow(expect.objectContaining({ kind: 'notFound' }));
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
