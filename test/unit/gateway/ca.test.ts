import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLeafCache, generateCa, issueLeafCertificate, loadCa } from '../../../src/core/gateway/ca.js';

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
});
