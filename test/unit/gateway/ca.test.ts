import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLeafCache, generateCa, issueLeafCertificate, loadCa, readStoredLeaf, type LeafCertificate } from '../../../src/core/gateway/ca.js';

describe('local CA', () => {
  it('issues P-256 leaves with SAN = host, AKI/SKI, short validity, chaining to the CA', async () => {
    const now = new Date();
    const { ca, keyPem } = await generateCa('test', now);
    const caCert = new X509Certificate(ca.certPem);
    expect(caCert.ca).toBe(true);
    expect(caCert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    for (const host of ['api.example.com', '127.0.0.2']) {
      const leafPem = await issueLeafCertificate(ca, host, now);
      const leaf = new X509Certificate(leafPem.certPem);
      expect(leaf.ca).toBe(false);
      expect(leaf.checkIssued(caCert)).toBe(true);
      expect(leaf.verify(caCert.publicKey)).toBe(true);
      expect(leaf.subjectAltName).toBe(host.startsWith('127') ? `IP Address:${host}` : `DNS:${host}`);
      expect(host.startsWith('127') ? leaf.checkIP(host) : leaf.checkHost(host)).toBe(host);
      expect(new Date(leaf.validTo).getTime() - now.getTime()).toBeLessThanOrEqual(3 * 86_400_000);
      const text = leaf.toLegacyObject() as unknown as { ext_key_usage?: string[]; infoAccess?: unknown };
      expect(text.ext_key_usage).toContain('1.3.6.1.5.5.7.3.1');
      // AKI of the leaf = SKI of the CA (read from the DER).
      const der = leaf.raw.toString('hex');
      expect(der).toContain('0603551d23'); // id-ce-authorityKeyIdentifier
      expect(der).toContain('0603551d0e'); // id-ce-subjectKeyIdentifier
    }
    // Reloading from the stored key keeps the certificate when it is fresh and matches.
    const reloaded = await loadCa(keyPem, ca.certPem, 'test', now);
    expect(reloaded.reissued).toBe(false);
    const other = await generateCa('other', now);
    expect((await loadCa(keyPem, other.ca.certPem, 'test', now)).reissued).toBe(true);
  });

  it('caches one context per host and issues it once under concurrency', async () => {
    const { ca } = await generateCa('test', new Date());
    let issued = 0;
    const cache = createLeafCache(ca, () => {
      issued += 1;
      return {} as never;
    });
    await Promise.all([cache('a.example.com'), cache('A.example.com'), cache('a.example.com')]);
    await cache('b.example.com');
    expect(issued).toBe(2);
  });

  it('keeps at most maxContexts hosts in memory, evicting the least recently used', async () => {
    const { ca } = await generateCa('test', new Date());
    const issuedFor: string[] = [];
    const cache = createLeafCache(ca, (leaf) => (issuedFor.push(new X509Certificate(leaf.certPem).subject), {} as never), undefined, undefined, 3);
    for (const host of ['a.wild.test', 'b.wild.test', 'c.wild.test']) await cache(host);
    await cache('a.wild.test'); // a is now the most recently used
    await cache('d.wild.test'); // evicts b
    await cache('a.wild.test');
    await cache('c.wild.test');
    expect(issuedFor).toHaveLength(4);
    await cache('b.wild.test'); // issued again
    expect(issuedFor).toHaveLength(5);
  });

  it('reuses a stored leaf while it chains to this CA, names the host, has a day left and holds its key; else issues and stores a new one', async () => {
    const now = new Date();
    const { ca } = await generateCa('test', now);
    const other = await generateCa('other', now);
    const good = await issueLeafCertificate(ca, 'api.example.com', now);
    const otherKey = await issueLeafCertificate(ca, 'api.example.com', now);
    const day = 86_400_000;
    expect(readStoredLeaf(JSON.stringify(good), ca, 'api.example.com', now)).toEqual(good);
    expect(readStoredLeaf(JSON.stringify(good), ca, 'API.example.com'.toLowerCase(), now)).toEqual(good);
    // Less than a day left, or not yet valid:
    expect(readStoredLeaf(JSON.stringify(good), ca, 'api.example.com', new Date(now.getTime() + 1.1 * day))).toBeNull();
    expect(readStoredLeaf(JSON.stringify(good), ca, 'api.example.com', new Date(now.getTime() - 2 * 60 * 60 * 1000))).toBeNull();
    // Another host, another CA, a key that is not the certificate's, garbage:
    expect(readStoredLeaf(JSON.stringify(good), ca, 'evil.example.com', now)).toBeNull();
    expect(readStoredLeaf(JSON.stringify(good), other.ca, 'api.example.com', now)).toBeNull();
    expect(readStoredLeaf(JSON.stringify({ certPem: good.certPem, keyPem: otherKey.keyPem }), ca, 'api.example.com', now)).toBeNull();
    expect(readStoredLeaf('{"certPem":"nope"}', ca, 'api.example.com', now)).toBeNull();
    expect(readStoredLeaf('not json', ca, 'api.example.com', now)).toBeNull();

    const stored = new Map<string, string>([['api.example.com', JSON.stringify(good)], ['old.example.com', JSON.stringify(await issueLeafCertificate(other.ca, 'old.example.com', now))]]);
    const used: LeafCertificate[] = [];
    const cache = createLeafCache(ca, (leaf) => (used.push(leaf), {} as never), {
      get: async (host) => stored.get(host) ?? null,
      set: async (host, value) => void stored.set(host, value),
    });
    await cache('api.example.com');
    expect(used[0]).toEqual(good);
    await cache('old.example.com');
    await cache('new.example.com');
    await new Promise((resolve) => setImmediate(resolve));
    for (const host of ['old.example.com', 'new.example.com']) {
      const leaf = used.find((candidate) => new X509Certificate(candidate.certPem).checkHost(host) === host)!;
      expect(new X509Certificate(leaf.certPem).checkIssued(new X509Certificate(ca.certPem))).toBe(true);
      expect(stored.get(host)).toBe(JSON.stringify(leaf));
    }
    expect(used).toHaveLength(3);
  });

  it('serves a freshly issued leaf even when it cannot be stored, and reports why', async () => {
    const { ca } = await generateCa('test', new Date());
    const errors: unknown[] = [];
    let served = 0;
    const cache = createLeafCache(
      ca,
      () => (served += 1, {} as never),
      { get: async () => null, set: async () => Promise.reject(new Error('keychain locked')) },
      (error) => errors.push(error),
    );
    await cache('api.example.com');
    await new Promise((resolve) => setImmediate(resolve));
    expect(served).toBe(1);
    expect(errors).toEqual([new Error('keychain locked')]);
  });
});
