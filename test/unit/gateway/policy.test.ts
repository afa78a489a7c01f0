import { describe, expect, it } from 'vitest';
import { buildEffectivePolicy, buildGrant, buildSecretRecord } from '../../../src/core/secrets.js';
import { createRunSecret, decideRequest, type RunSecret } from '../../../src/core/gateway/policy.js';

const now = new Date('2026-01-01T00:00:00Z');
const VALUE = Buffer.from('real-value-1234567890');

function secret(name: string, input: Parameters<typeof buildSecretRecord>[1], grant: Parameters<typeof buildGrant>[1] = {}): RunSecret {
  const record = buildSecretRecord(name, input, now);
  return createRunSecret(record, buildEffectivePolicy(record, buildGrant(record, grant)), VALUE);
}

const api = secret('api', { hosts: ['api.example.com'], header: 'Authorization', format: 'Bearer {}', path: '/v1' }, { methods: ['GET', 'POST'] });
const q = secret('q', { hosts: ['*.maps.example.com'], query: 'key' });
const view = (over: Partial<Parameters<typeof decideRequest>[0]>) => ({ method: 'GET', host: 'api.example.com', port: 443, target: '/v1/models', headers: [] as string[], ...over });

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

  it('inside a tunnel, a swap needs the Host header to name the CONNECT target', () => {
    const auth = ['Authorization', api.placeholder];
    expect(decideRequest(view({ headers: auth, hostHeader: 'other.example.com' }), [api])).toMatchObject({ kind: 'deny', reason: 'host-mismatch' });
    expect(decideRequest(view({ headers: auth, hostHeader: 'API.example.com' }), [api])).toMatchObject({ kind: 'forward' });
    expect(decideRequest(view({ headers: auth, hostHeader: 'api.example.com:443' }), [api])).toMatchObject({ kind: 'forward' });
  });

  it('placeholders carry no secret material and differ per run', () => {
    const again = secret('api', { hosts: ['api.example.com'], header: 'Authorization' });
    expect(api.placeholder).toMatch(/^aa-ph-api-[A-Za-z0-9]{22}$/);
    expect(again.placeholder).not.toBe(api.placeholder);
    expect(api.placeholder).not.toContain(VALUE.toString());
  });
});
