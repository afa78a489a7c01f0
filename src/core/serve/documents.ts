// What serve publishes over HTTP: the JWKS and the RFC 8414 / OpenID
// discovery documents. Built once per config (and again when a previous key
// reaches its retirement time), each with a strong ETag over its exact bytes.
import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import { DPOP_ALGORITHMS } from '../dpop.js';
import { buildJwks, JWKS_CACHE_AGE_SECONDS } from '../issuer.js';

export interface PublishedDocument {
  body: Buffer;
  /** Strong validator (RFC 9110 §8.8.3): a hash of the body, quoted. */
  etag: string;
  /** Response headers, built once per document (the JWKS is fetched far more often than it changes). */
  headers: Record<string, string | number>;
  /** The same without a body, for a 304. */
  notModifiedHeaders: Record<string, string | number>;
}

export interface Published {
  jwks: PublishedDocument;
  metadata: PublishedDocument;
  /** Epoch seconds at which the JWKS changes by itself (a previous key leaves it); Infinity if never. */
  validUntil: number;
}

export const JWKS_PATH = '/.well-known/jwks.json';

export function publishDocuments(config: Config, baseUrl: string, nowSeconds: number): Published {
  const cacheControl = `public, max-age=${JWKS_CACHE_AGE_SECONDS}`;
  const metadata = {
    issuer: config.issuer,
    jwks_uri: `${baseUrl}${JWKS_PATH}`,
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
  };
  const retirements = config.keys.filter((key) => key.status === 'previous' && key.retireAfter !== undefined && key.retireAfter > nowSeconds).map((key) => key.retireAfter!);
  return {
    jwks: makeDocument(JSON.stringify(buildJwks(config, nowSeconds)), 'application/jwk-set+json', cacheControl),
    metadata: makeDocument(JSON.stringify(metadata), 'application/json', cacheControl),
    validUntil: Math.min(Infinity, ...retirements),
  };
}

export function makeDocument(text: string, contentType: string, cacheControl: string): PublishedDocument {
  const body = Buffer.from(text, 'utf8');
  const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
  // Public documents: any origin may read them (browser-side verifiers).
  const common = { 'content-type': contentType, 'cache-control': cacheControl, etag, 'access-control-allow-origin': '*' };
  return { body, etag, headers: { ...common, 'content-length': body.length }, notModifiedHeaders: common };
}
