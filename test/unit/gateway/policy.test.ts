import { describe, expect, it } from 'vitest';
import { buildEffectivePolicy, buildGrant, buildSecretRecord } from '../../../src/core/secrets.js';
import { createRunSecret, decideRequest, type RunSecret } from '../../../src/core/gateway/policy.js';
import { derivePlaceholder, derivePlaceholderKey } from '../../../src/core/gateway/placeholders.js';

const now = new Date('2026-01-01T00:00:00Z');
const VALUE = Buffer.from('real-value-1234567890');
const KEY = derivePlaceholderKey(Buffer.alloc(32, 7));

function secret(name: string, input: Parameters<typeof buildSecretRecord>[1], grant: Parameters<typeof buildGrant>[1] = {}): RunSecret {
  const record = buildSecretRecord(name, input, now);
  return createRunSecret(record, buildEffectivePolicy(record, buildGrant(record, grant)), VALUE, derivePlaceholder(KEY, 'coder', record));
}

const api = secret('api', { hosts: ['api.example.com'], headers: ['Authorization:Bearer {}'], path: '/v1' }, { methods: ['GET', 'POST'] });
const q = secret('q', { hosts: ['*.maps.example.com'], queries: ['key'] });
const open = secret('open', { hosts: ['api.example.com'], headers: ['X-Goog-Api-Key'] });
const view = (over: Partial<Parameters<typeof decideRequest>[0]>) => ({ method: 'GET', scheme: 'https' as const, host: 'api.example.com', port: 443, target: '/v1/models', headers: [] as string[], ...over });

describe('decideRequest', () => {
  it('swaps the placeholder in the declared header, applying the format', () => {
    const bare = decideRequest(view({ headers: ['Authorization', api.placeholder] }), [api, q]);
    expect(bare).toMatchObject({ kind: 'forward', headers: ['Authorization', `Bearer ${VALUE}`] });
    const formatted = decideRequest(view({ headers: ['authorization', `Bearer ${api.placeholder}`] }), [api, q]);
    expect(formatted).toMatchObject({ kind: 'forward', headers: ['authorization', `Bearer ${VALUE}`] });
  });

  it('forwards unchanged when no placeholder is present', () => {
    const decision = decideRequest(view({ headers: ['Accept', '*/*'], method: 'DELETE', target: '/admin' }), [api, q]);
    expect(decision).toMatchObject({ kind: 'forward', headers: ['Accept', '*/*'], target: '/admin', swapped: [] });
  });

  it('swaps a query parameter, URL-encoded, on a one-label wildcard host only', () => {
    const ok = decideRequest(view({ host: 'eu.maps.example.com', target: `/geo?key=${q.placeholder}&x=1` }), [api, q]);
    expect(ok).toMatchObject({ kind: 'forward', target: `/geo?key=${encodeURIComponent(VALUE.toString())}&x=1` });
    for (const host of ['maps.example.com', 'a.b.maps.example.com']) {
      expect(decideRequest(view({ host, target: `/geo?key=${q.placeholder}` }), [api, q])).toMatchObject({ kind: 'deny', reason: 'placeholder-misplaced' });
    }
  });

  it('denies a placeholder anywhere else', () => {
    const cases = [
      view({ headers: ['X-Other', api.placeholder] }),
      view({ headers: ['Authorization', `Bearer ${api.placeholder}`, 'X-Trace', api.placeholder] }),
      view({ target: `/v1/models?token=${api.placeholder}` }),
      view({ target: `/v1/${api.placeholder}` }),
      view({ target: `/v1/x?token=${encodeURIComponent(api.placeholder).replace(/-/g, '%2D')}` }),
      view({ headers: ['Authorization', `Basic ${Buffer.from(`u:${api.placeholder}`).toString('base64')}`] }),
      view({ host: 'evil.example.com', headers: ['Authorization', api.placeholder] }),
      view({ port: 8443, headers: ['Authorization', api.placeholder] }),
    ];
    for (const c of cases) expect(decideRequest(c, [api, q]), JSON.stringify(c)).toMatchObject({ kind: 'deny', reason: 'placeholder-misplaced', secret: 'api' });
  });

  it('denies methods and paths outside the grant, and dot segments', () => {
    const auth = ['Authorization', api.placeholder];
    expect(decideRequest(view({ method: 'DELETE', headers: auth }), [api])).toMatchObject({ kind: 'deny', reason: 'not-granted' });
    expect(decideRequest(view({ target: '/v2/models', headers: auth }), [api])).toMatchObject({ kind: 'deny', reason: 'not-granted' });
    expect(decideRequest(view({ target: '/v1beta', headers: auth }), [api])).toMatchObject({ kind: 'deny', reason: 'not-granted' });
    expect(decideRequest(view({ target: '/v1/%2e%2e/admin', headers: auth }), [api])).toMatchObject({ kind: 'deny', reason: 'not-granted' });
    expect(decideRequest(view({ target: '/v1', headers: auth }), [api])).toMatchObject({ kind: 'forward' });
  });

  it('refuses encoded separators, backslashes, ; parameters and encoded dot segments under a path-limited grant', () => {
    const auth = ['Authorization', api.placeholder];
    for (const target of ['/v1/..%2fadmin', '/v1%2f..%2fadmin', '/v1/%5c..%5cadmin', '/v1\\..\\admin', '/v1;/../admin', '/v1/..;/admin', '/v1/.%2e/admin', '/v1/%252e%252e/admin']) {
      expect(decideRequest(view({ target, headers: auth }), [api]), target).toMatchObject({ kind: 'deny', reason: 'not-granted', secret: 'api' });
    }
    // Decoded, an unreserved escape is the same path.
    expect(decideRequest(view({ target: '/%761/models', headers: auth }), [api])).toMatchObject({ kind: 'forward' });
  });

  it('refuses method overrides outside a method-limited grant', () => {
    const auth = ['Authorization', api.placeholder];
    for (const name of ['X-HTTP-Method-Override', 'x-http-method', 'X-Method-Override', 'X-Original-Method']) {
      expect(decideRequest(view({ method: 'POST', headers: [...auth, name, 'DELETE'] }), [api]), name).toMatchObject({ kind: 'deny', reason: 'not-granted' });
    }
    expect(decideRequest(view({ method: 'POST', target: '/v1/x?_method=delete', headers: auth }), [api])).toMatchObject({ kind: 'deny', reason: 'not-granted' });
    expect(decideRequest(view({ method: 'POST', target: '/v1/x?X-HTTP-Method-Override=PUT', headers: auth }), [api])).toMatchObject({ kind: 'deny', reason: 'not-granted' });
    // An override that stays inside the grant changes nothing it could not do anyway.
    expect(decideRequest(view({ method: 'POST', headers: [...auth, 'X-HTTP-Method-Override', 'GET'] }), [api])).toMatchObject({ kind: 'forward' });
    // A grant without a method limit has nothing to widen.
    expect(decideRequest(view({ method: 'POST', headers: ['X-Goog-Api-Key', open.placeholder, 'X-HTTP-Method-Override', 'DELETE'] }), [open])).toMatchObject({ kind: 'forward' });
  });

  it('refuses a placeholder sent over the other scheme (scheme-mismatch), both ways', () => {
    const auth = ['Authorization', api.placeholder];
    expect(decideRequest(view({ scheme: 'http', port: 443, headers: auth }), [api])).toMatchObject({ kind: 'deny', reason: 'scheme-mismatch' });
    expect(decideRequest(view({ scheme: 'http', port: 80, headers: auth }), [api])).toMatchObject({ kind: 'deny', reason: 'scheme-mismatch' });
    const local = secret('local', { hosts: ['http://localhost:11434'], headers: ['Authorization:Bearer {}'] });
    const localView = { method: 'GET', host: 'localhost', port: 11434, target: '/api/tags', headers: ['Authorization', `Bearer ${local.placeholder}`] };
    expect(decideRequest({ ...localView, scheme: 'https' }, [local])).toMatchObject({ kind: 'deny', reason: 'scheme-mismatch' });
    expect(decideRequest({ ...localView, scheme: 'http' }, [local])).toMatchObject({ kind: 'forward', headers: ['Authorization', `Bearer ${VALUE}`] });
  });

  it('placeholders carry no secret material, are stable per agent and secret, and change with rotation, re-adding or the key', () => {
    const record = buildSecretRecord('api', { hosts: ['api.example.com'], headers: ['Authorization'] }, now);
    const first = derivePlaceholder(KEY, 'coder', record);
    expect(first).toMatch(/^aa-ph-api-[A-Za-z0-9]{22}$/);
    expect(derivePlaceholder(KEY, 'coder', { ...record })).toBe(first);
    expect(derivePlaceholder(KEY, 'other-agent', record)).not.toBe(first);
    expect(derivePlaceholder(KEY, 'coder', { ...record, rotation: 1 })).not.toBe(first);
    expect(derivePlaceholder(KEY, 'coder', { ...record, createdAt: '2026-01-02T00:00:00.000Z' })).not.toBe(first);
    expect(derivePlaceholder(derivePlaceholderKey(Buffer.alloc(32, 8)), 'coder', record)).not.toBe(first);
    expect(first).not.toContain(VALUE.toString());
  });
});

describe('several placements per secret', () => {
  const anthropic = secret('anthropic', { hosts: ['api.anthropic.com'], headers: ['x-api-key', 'authorization:Bearer {}'] });
  const at = (headers: string[], target = '/v1/messages') => ({ method: 'POST', scheme: 'https' as const, host: 'api.anthropic.com', port: 443, target, headers });

  it('swaps in whichever declared header holds the placeholder, and in both at once (Claude Code with an apiKeyHelper)', () => {
    expect(decideRequest(at(['x-api-key', anthropic.placeholder]), [anthropic])).toMatchObject({ kind: 'forward', headers: ['x-api-key', `${VALUE}`] });
    expect(decideRequest(at(['Authorization', `Bearer ${anthropic.placeholder}`]), [anthropic])).toMatchObject({ kind: 'forward', headers: ['Authorization', `Bearer ${VALUE}`] });
    expect(decideRequest(at(['authorization', anthropic.placeholder]), [anthropic])).toMatchObject({ kind: 'forward', headers: ['authorization', `Bearer ${VALUE}`] });
    expect(decideRequest(at(['x-api-key', anthropic.placeholder, 'Authorization', `Bearer ${anthropic.placeholder}`]), [anthropic])).toMatchObject({
      kind: 'forward',
      headers: ['x-api-key', `${VALUE}`, 'Authorization', `Bearer ${VALUE}`],
    });
  });

  it('still refuses an undeclared header, and names every declared place', () => {
    const decision = decideRequest(at(['X-Other', anthropic.placeholder]), [anthropic]);
    expect(decision).toMatchObject({ kind: 'deny', reason: 'placeholder-misplaced' });
    expect(decision.kind === 'deny' && decision.hint).toContain('x-api-key; authorization: Bearer {}');
  });

  it('takes a query placement beside header placements (gemini: x-goog-api-key or ?key=)', () => {
    const gemini = secret('gemini', { hosts: ['generativelanguage.googleapis.com'], headers: ['x-goog-api-key'], queries: ['key'] });
    const there = { method: 'POST', scheme: 'https' as const, host: 'generativelanguage.googleapis.com', port: 443 };
    expect(decideRequest({ ...there, target: `/v1beta/models?key=${gemini.placeholder}`, headers: [] }, [gemini])).toMatchObject({ kind: 'forward', target: `/v1beta/models?key=${VALUE}` });
    expect(decideRequest({ ...there, target: '/v1beta/models', headers: ['x-goog-api-key', gemini.placeholder] }, [gemini])).toMatchObject({ kind: 'forward', headers: ['x-goog-api-key', `${VALUE}`] });
    expect(decideRequest({ ...there, target: `/v1beta/models?other=${gemini.placeholder}`, headers: [] }, [gemini])).toMatchObject({ kind: 'deny', reason: 'placeholder-misplaced' });
  });
});

describe('HTTP Basic placements (git over HTTPS)', () => {
  const github = secret('github', { hosts: ['github.com'], headers: ['authorization:Bearer {}', 'authorization:basic:x-access-token'] });
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const at = (headers: string[]) => ({ method: 'GET', scheme: 'https' as const, host: 'github.com', port: 443, target: '/me/repo.git/info/refs?service=git-upload-pack', headers });

  it('swaps the placeholder inside the base64 when it is the password of the declared user', () => {
    const decision = decideRequest(at(['Authorization', basic('x-access-token', github.placeholder)]), [github]);
    expect(decision).toMatchObject({ kind: 'forward', headers: ['Authorization', basic('x-access-token', VALUE.toString())] });
    // gh's own header keeps working beside it.
    expect(decideRequest(at(['Authorization', `token ${github.placeholder}`]), [github])).toMatchObject({ kind: 'forward', headers: ['Authorization', `token ${VALUE}`] });
  });

  it('refuses another Basic user: the grant is for that account only', () => {
    const decision = decideRequest(at(['Authorization', basic('root', github.placeholder)]), [github]);
    expect(decision).toMatchObject({ kind: 'deny', reason: 'placeholder-misplaced' });
    expect(decision.kind === 'deny' && decision.hint).toContain('x-access-token');
  });

  it('refuses the placeholder as the user, twice, in a non-canonical base64, or Basic-encoded in another header', () => {
    for (const headers of [
      ['Authorization', basic(github.placeholder, 'x')],
      ['Authorization', basic('x-access-token', `${github.placeholder}${github.placeholder}`)],
      ['Authorization', basic('x-access-token', github.placeholder).replace(/=+$/, '')],
      ['Proxy-Note', basic('x-access-token', github.placeholder)],
      ['X-Forward-To', Buffer.from(`x-access-token:${github.placeholder}`).toString('base64')],
    ]) {
      expect(decideRequest(at(headers), [github]), headers[1]).toMatchObject({ kind: 'deny', reason: 'placeholder-misplaced' });
    }
  });

  it('a Basic placeholder is refused where the secret only declares a text placement', () => {
    const bearerOnly = secret('bearer', { hosts: ['github.com'], headers: ['authorization:Bearer {}'] });
    expect(decideRequest(at(['Authorization', basic('x-access-token', bearerOnly.placeholder)]), [bearerOnly])).toMatchObject({ kind: 'deny', reason: 'placeholder-misplaced' });
  });
});
