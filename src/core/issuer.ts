// The issuer's Ed25519 signing keys and the public JWKS built from them.
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { Config, IssuerKeyRecord, PublicJwk } from './config.js';
import { notFoundError, usageError } from './errors.js';
import { entryName, requireEntry, type Keystore } from './keystore/index.js';

/** How long verifiers may cache a JWKS; a rotated-out key outlives its tokens by this much. */
export const JWKS_CACHE_AGE_SECONDS = 600;

export interface GeneratedIssuerKey {
  record: IssuerKeyRecord;
  /** JSON text of the private JWK, for the keystore only. */
  privateJwk: string;
}

export interface IssuerSigner {
  kid: string;
  key: CryptoKey;
}

export async function generateIssuerKey(now: Date): Promise<GeneratedIssuerKey> {
  const { privateKey } = await generateKeyPair('Ed25519', { extractable: true });
  const jwk = await exportJWK(privateKey);
  // RFC 7638: the thumbprint covers only the required members {crv, kty, x}.
  const kid = await calculateJwkThumbprint({ crv: jwk.crv!, kty: jwk.kty!, x: jwk.x! }, 'sha256');
  const publicJwk: PublicJwk = { kty: 'OKP', crv: 'Ed25519', x: jwk.x!, kid, alg: 'EdDSA', use: 'sig' };
  return {
    record: { kid, jwk: publicJwk, createdAt: now.toISOString(), status: 'active' },
    privateJwk: JSON.stringify({ ...jwk, kid, alg: 'EdDSA' }),
  };
}

export function findActiveKey(config: Config): IssuerKeyRecord {
  const active = config.keys.find((key) => key.status === 'active');
  if (!active) throw notFoundError('NO_ACTIVE_KEY', 'the config records no active issuer key', { hint: 'run: agentauth key rotate' });
  return active;
}

export async function loadActiveSigner(config: Config, keystore: Keystore): Promise<IssuerSigner> {
  const active = findActiveKey(config);
  const jwk = JSON.parse(await requireEntry(keystore, entryName.issuer(active.kid))) as JWK;
  return { kid: active.kid, key: (await importJWK(jwk, 'EdDSA')) as CryptoKey };
}

/** Keys a verifier should accept: the active one first, then previous keys not yet past their retirement. */
export function buildJwks(config: Config, nowSeconds: number): { keys: PublicJwk[] } {
  const active = config.keys.filter((key) => key.status === 'active');
  const previous = config.keys.filter((key) => key.status === 'previous' && (key.retireAfter ?? Infinity) > nowSeconds);
  return { keys: [...active, ...previous].map((key) => key.jwk) };
}

/** The longest a token minted now could live: the largest max TTL among agents (1 h when none). */
function longestTokenLifetime(config: Config): number {
  return Math.max(3600, ...Object.values(config.agents).map((agent) => agent.maxTtl));
}

/**
 * Makes `next` the active key. The old one stays in the JWKS until every token
 * it could have signed has expired, plus one JWKS cache age. Keys already past
 * that point are dropped from the config and returned so their private halves
 * can be deleted.
 */
export function applyRotation(config: Config, next: IssuerKeyRecord, nowSeconds: number): { retiredKids: string[]; previousKid: string | null } {
  const retireAfter = nowSeconds + longestTokenLifetime(config) + JWKS_CACHE_AGE_SECONDS;
  let previousKid: string | null = null;
  for (const key of config.keys) {
    if (key.status === 'active') {
      key.status = 'previous';
      key.retireAfter = retireAfter;
      previousKid = key.kid;
    }
  }
  const retiredKids = config.keys.filter((key) => key.status === 'previous' && (key.retireAfter ?? Infinity) <= nowSeconds).map((key) => key.kid);
  config.keys = [next, ...config.keys.filter((key) => !retiredKids.includes(key.kid))];
  return { retiredKids, previousKid };
}

export function retireKey(config: Config, kid: string): IssuerKeyRecord {
  const key = config.keys.find((candidate) => candidate.kid === kid);
  if (!key) throw notFoundError('UNKNOWN_KID', `no issuer key with kid ${kid}`, { hint: 'list them with: agentauth key show' });
  if (key.status === 'active') {
    throw usageError('ACTIVE_KEY', `${kid} is the active key; rotate first (agentauth key rotate), then retire it`);
  }
  config.keys = config.keys.filter((candidate) => candidate.kid !== kid);
  return key;
}
