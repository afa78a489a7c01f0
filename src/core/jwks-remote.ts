// A JWKS fetched from a URL, cached on disk between runs (each CLI call is a
// new process, so jose's in-memory cache alone would refetch every time).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { createRemoteJWKSet, jwksCache, type ExportedJWKSCache, type JWTVerifyGetKey } from 'jose';
import { readPrivateFile, writePrivateFileAtomic } from './fs-safe.js';

/** The same age the issuer side assumes when keeping rotated keys (JWKS_CACHE_AGE_SECONDS). */
const CACHE_MAX_AGE_MS = 10 * 60 * 1000;

export function openRemoteJwks(url: string, cacheDir: string): { getKey: JWTVerifyGetKey; save: () => void } {
  const file = join(cacheDir, `jwks-${createHash('sha256').update(url).digest('hex').slice(0, 32)}.json`);
  let cache: ExportedJWKSCache | Record<string, never> = {};
  try {
    const stored = readPrivateFile(file);
    if (stored) {
      const parsed = JSON.parse(stored.toString('utf8')) as { url: string } & ExportedJWKSCache;
      if (parsed.url === url && Array.isArray(parsed.jwks?.keys) && typeof parsed.uat === 'number') cache = { jwks: parsed.jwks, uat: parsed.uat };
    }
  } catch {
    // A damaged cache is only a cache: fetch again.
  }
  const loadedAt = 'uat' in cache ? cache.uat : 0;
  const getKey = createRemoteJWKSet(new URL(url), { cacheMaxAge: CACHE_MAX_AGE_MS, [jwksCache]: cache });
  return {
    getKey,
    save: () => {
      if ('uat' in cache && typeof cache.uat === 'number' && cache.uat !== loadedAt) {
        writePrivateFileAtomic(file, JSON.stringify({ url, jwks: cache.jwks, uat: cache.uat }));
      }
    },
  };
}
