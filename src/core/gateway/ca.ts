// The gateway's local certificate authority: an ECDSA P-256 key kept in the
// keystore (`ca-key`) and a public certificate at paths.caCert, which `run`
// gives the child as a trust anchor. Leaf certificates for the hosts a granted
// secret is bound to are issued on the fly, in memory, and cached per host.
import { createHash, createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { SecureContext } from 'node:tls';
import { keystoreError } from '../errors.js';

type X509Module = typeof import('@peculiar/x509');
let x509Module: Promise<X509Module> | null = null;

/**
 * @peculiar/x509 (with tsyringe and the Reflect metadata polyfill it needs)
 * is only for writing certificates: a new CA, and leaves for hosts the child
 * actually CONNECTs to. Reading the CA certificate uses node:crypto, so a run
 * that never terminates TLS never loads it (several MiB of heap).
 */
function loadX509(): Promise<X509Module> {
  x509Module ??= (async () => {
    await import('reflect-metadata');
    const loaded = await import('@peculiar/x509');
    // The bundle resolves the package to its CommonJS build: a dynamic import then yields its exports as `default`.
    const x509 = 'cryptoProvider' in loaded && loaded.cryptoProvider ? loaded : (loaded as unknown as { default: X509Module }).default;
    x509.cryptoProvider.set(webcrypto as unknown as Crypto);
    return x509;
  })();
  return x509Module;
}

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** CA certificates are re-issued (same key) when they get this close to expiry. */
const CA_VALIDITY_DAYS = 825;
const CA_RENEW_BEFORE_DAYS = 30;
/** Leaves are short-lived: two days, and a cached one is re-issued once it has less than one left (a long session fits in that day). */
const LEAF_VALIDITY_MS = 2 * DAY_MS;
const LEAF_RENEW_BEFORE_MS = DAY_MS;
const BACKDATE_MS = 60 * 60 * 1000;

export interface LocalCa {
  /** PEM of the CA certificate (public). */
  certPem: string;
  cert: X509Certificate;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

export interface GeneratedCa {
  ca: LocalCa;
  /** PKCS#8 PEM of the CA key: for the keystore only. */
  keyPem: string;
}

export async function generateCa(label: string, now: Date): Promise<GeneratedCa> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const ca = await issueCaCertificate(keys, label, now);
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { ca, keyPem: toPem(pkcs8, 'PRIVATE KEY') };
}

/** Loads the CA from its keystore key and the public certificate, re-issuing the certificate when it is missing, stale or not this key's. */
export async function loadCa(keyPem: string, certPem: string | null, label: string, now: Date): Promise<{ ca: LocalCa; reissued: boolean }> {
  let privateKey: CryptoKey;
  let publicKey: CryptoKey;
  try {
    const pkcs8 = fromPem(keyPem);
    privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, EC, true, ['sign']);
    // Derive the public key through a JWK round trip (WebCrypto has no direct call).
    const jwk = await webcrypto.subtle.exportKey('jwk', privateKey);
    publicKey = await webcrypto.subtle.importKey('jwk', { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y!, ext: true }, EC, true, ['verify']);
  } catch (error) {
    throw keystoreError('CORRUPT_KEYSTORE', 'the keystore entry "ca-key" is not an ECDSA P-256 private key', { hint: 'restore the keystore from a backup', cause: error });
  }
  if (certPem) {
    try {
      const cert = new X509Certificate(certPem);
      const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
      const sameKey = spki.equals(Buffer.from(await webcrypto.subtle.exportKey('spki', publicKey)));
      const notAfter = new Date(cert.validTo).getTime();
      const notBefore = new Date(cert.validFrom).getTime();
      const fresh = notAfter - now.getTime() > CA_RENEW_BEFORE_DAYS * DAY_MS && notBefore <= now.getTime();
      if (sameKey && fresh) return { ca: { certPem: cert.toString(), cert, privateKey, publicKey }, reissued: false };
    } catch {
      // An unreadable public certificate is re-issued from the key below.
    }
  }
  return { ca: await issueCaCertificate({ privateKey, publicKey }, label, now), reissued: true };
}

async function issueCaCertificate(keys: CryptoKeyPair, label: string, now: Date): Promise<LocalCa> {
  const x509 = await loadX509();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=agentauth local gateway CA (${escapeDn(label)}), O=agentauth`,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS),
    keys,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certPem = cert.toString('pem');
  return { certPem, cert: new X509Certificate(certPem), privateKey: keys.privateKey, publicKey: keys.publicKey };
}

export interface LeafCertificate {
  certPem: string;
  keyPem: string;
}

export async function issueLeafCertificate(ca: LocalCa, host: string, now: Date): Promise<LeafCertificate> {
  const x509 = await loadX509();
  // The issuer name exactly as encoded in the CA certificate (node:crypto's text form is not RFC 4514).
  const issuer = new x509.X509Certificate(ca.cert.raw).subject;
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const san = isIP(host) ? { type: 'ip' as const, value: host } : { type: 'dns' as const, value: host };
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${escapeDn(host)}`,
    issuer,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(Math.min(now.getTime() + LEAF_VALIDITY_MS, new Date(ca.cert.validTo).getTime())),
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([san]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.publicKey),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: cert.toString('pem'), keyPem: toPem(pkcs8, 'PRIVATE KEY') };
}

/** Where issued leaves are kept between runs (the keystore: leaf keys are as private as the CA's). */
export interface LeafStore {
  get(host: string): Promise<string | null>;
  set(host: string, value: string): Promise<void>;
}

/** Leaf contexts kept in memory: a wildcard binding must not let the child grow them without bound by CONNECTing to endless subdomains. */
export const MAX_CACHED_CONTEXTS = 64;

/**
 * One TLS context per host, built once: concurrent first connections to the
 * same host share the pending promise instead of issuing several leaves.
 * With a store, a leaf issued by an earlier run is reused while it is fresh,
 * so a run that terminates TLS for known hosts never loads the X.509 writer
 * (~3 MiB of RSS): its first CONNECT to a host waits ~6 ms for the stored
 * leaf's checks instead of ~100 ms for the import, a key pair and a signature.
 * A failure to store a new leaf is reported, never fatal: it is only a cache.
 * At most `maxContexts` hosts are kept; the least recently used goes first.
 */
export function createLeafCache(
  ca: LocalCa,
  createContext: (leaf: LeafCertificate) => SecureContext,
  store?: LeafStore,
  onStoreError?: (error: unknown) => void,
  maxContexts = MAX_CACHED_CONTEXTS,
): (host: string) => Promise<SecureContext> {
  const cache = new Map<string, Promise<SecureContext>>();
  const obtain = async (host: string): Promise<SecureContext> => {
    const now = new Date();
    const stored = store ? readStoredLeaf(await store.get(host), ca, host, now) : null;
    if (stored) return createContext(stored);
    const leaf = await issueLeafCertificate(ca, host, now);
    store?.set(host, JSON.stringify(leaf)).catch((error: unknown) => onStoreError?.(error));
    return createContext(leaf);
  };
  return (host) => {
    const key = host.toLowerCase();
    let pending = cache.get(key);
    // A Map keeps insertion order: re-inserting marks the host as the most recently used.
    if (pending) cache.delete(key);
    else {
      pending = obtain(key);
      pending.catch(() => cache.delete(key));
    }
    cache.set(key, pending);
    if (cache.size > maxContexts) cache.delete(cache.keys().next().value!);
    return pending;
  };
}

/** A stored leaf, if it still chains to this CA, names this host, has a day left and holds the matching key; else null. */
export function readStoredLeaf(value: string | null, ca: LocalCa, host: string, now: Date): LeafCertificate | null {
  if (value === null) return null;
  try {
    const leaf = JSON.parse(value) as LeafCertificate;
    const cert = new X509Certificate(leaf.certPem);
    const named = isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host, { wildcards: false }) !== undefined;
    const fresh = Date.parse(cert.validFrom) <= now.getTime() && Date.parse(cert.validTo) - now.getTime() > LEAF_RENEW_BEFORE_MS;
    const chains = cert.checkIssued(ca.cert) && cert.verify(ca.cert.publicKey);
    return named && fresh && chains && cert.checkPrivateKey(createPrivateKey(leaf.keyPem)) ? leaf : null;
  } catch {
    // Unreadable: issue a new one.
    return null;
  }
}

export function fingerprintCa(ca: LocalCa): string {
  return createHash('sha256').update(ca.cert.raw).digest('hex');
}

function randomSerial(): string {
  // Positive 128-bit serial (top bit clear so DER needs no sign byte).
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

function escapeDn(text: string): string {
  return text.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`);
}

function toPem(der: Buffer, label: string): string {
  const body = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

function fromPem(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END)[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}
