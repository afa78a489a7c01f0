// A JWKS fetched from a URL, kept as long as the server's Cache-Control
// allows (max-age; no-cache means ask again with the ETag; no-store means
// keep nothing), and fetched again at once when a token names a kid the set
// does not hold — at most once per 30 s, so a flood of made-up kids cannot
// turn into a flood of requests. Used by `token verify --jwks URL` (with a
// store on disk, as each CLI call is a new process) and by the library.
// Free of Node-only imports: it runs wherever fetch does.
import { createLocalKeySource, noMatchingKey, type JsonWebKeySet, type KeySource } from './key-source.js';
import { VerifyError } from './verify-error.js';

/** How long a JWKS is kept when the server does not say (the issuer side assumes the same age). */
export const DEFAULT_JWKS_MAX_AGE_MS = 10 * 60 * 1000;
export const REFETCH_COOLDOWN_MS = 30 * 1000;
/** A server asking for more is capped: a removed key must not stay trusted for weeks. */
const MAX_AGE_CAP_MS = 24 * 60 * 60 * 1000;
const MAX_BODY_BYTES = 1 << 20;

/** What is kept between processes. */
export interface StoredJwks {
  url: string;
  jwks: JsonWebKeySet;
  /** Epoch ms of the fetch (also the start of the unknown-kid cool-down). */
  fetchedAt: number;
  /** Epoch ms until which the set may be used without asking the server. */
  freshUntil: number;
  etag?: string;
}

export interface JwksStore {
  load(): StoredJwks | null;
  save(entry: StoredJwks): void;
}

export interface RemoteJwksOptions {
  url: string;
  fetch?: typeof fetch;
  /** Epoch ms. */
  now?: () => number;
  defaultMaxAgeMs?: number;
  refetchCooldownMs?: number;
  timeoutMs?: number;
  store?: JwksStore;
}

export interface RemoteKeySource extends KeySource {
  /** How many requests went to the server (tests and diagnostics). */
  readonly fetches: number;
}

interface Current {
  jwks: JsonWebKeySet;
  keys: KeySource;
  freshUntil: number;
  etag: string | undefined;
}

export function createRemoteKeySource(options: RemoteJwksOptions): RemoteKeySource {
  const url = new URL(options.url).toString();
  const now = options.now ?? Date.now;
  const fetcher = options.fetch ?? fetch;
  const cooldown = options.refetchCooldownMs ?? REFETCH_COOLDOWN_MS;
  let current: Current | null = null;
  let lastFetchAt = Number.NEGATIVE_INFINITY;
  let fetches = 0;
  let inflight: Promise<Current> | null = null;

  const stored = safeLoad(options.store, url);
  if (stored) {
    current = { jwks: stored.jwks, keys: createLocalKeySource(stored.jwks), freshUntil: stored.freshUntil, etag: stored.etag };
    lastFetchAt = stored.fetchedAt;
  }

  const refresh = (): Promise<Current> => {
    inflight ??= fetchSet().finally(() => {
      inflight = null;
    });
    return inflight;
  };

  const fetchSet = async (): Promise<Current> => {
    const startedAt = now();
    lastFetchAt = startedAt;
    fetches += 1;
    const headers: Record<string, string> = { accept: 'application/jwk-set+json, application/json' };
    if (current?.etag) headers['if-none-match'] = current.etag;
    let response: Response;
    try {
      response = await fetcher(url, { headers, signal: AbortSignal.timeout(options.timeoutMs ?? 5000) });
    } catch (error) {
      throw new VerifyError('ERR_JWKS_UNAVAILABLE', `could not fetch the JWKS from ${url}: ${describeFetchError(error)}`, undefined, { cause: error });
    }
    const policy = readCachePolicy(response.headers, options.defaultMaxAgeMs ?? DEFAULT_JWKS_MAX_AGE_MS);
    let next: Current;
    if (response.status === 304 && current) {
      await response.body?.cancel();
      next = { ...current, freshUntil: startedAt + policy.maxAgeMs, etag: response.headers.get('etag') ?? current.etag };
    } else if (response.status === 200) {
      const jwks = parseJwks(await readLimited(response, url), url);
      next = { jwks, keys: createLocalKeySource(jwks), freshUntil: startedAt + policy.maxAgeMs, etag: response.headers.get('etag') ?? undefined };
    } else {
      await response.body?.cancel();
      throw new VerifyError('ERR_JWKS_UNAVAILABLE', `could not fetch the JWKS from ${url}: HTTP ${response.status}`);
    }
    current = next;
    if (!policy.noStore) {
      try {
        options.store?.save({ url, jwks: next.jwks, fetchedAt: startedAt, freshUntil: next.freshUntil, ...(next.etag ? { etag: next.etag } : {}) });
      } catch {
        // Only a cache: the next process fetches again.
      }
    }
    return next;
  };

  const usable = async (): Promise<Current> => (current && now() < current.freshUntil ? current : refresh());

  return {
    get fetches() {
      return fetches;
    },
    async getKey(kid) {
      let set = await usable();
      if (!set.keys.hasKey(kid) && now() - lastFetchAt >= cooldown) set = await refresh();
      if (!set.keys.hasKey(kid)) throw noMatchingKey();
      return set.keys.getKey(kid);
    },
    hasKey(kid) {
      if (current && now() < current.freshUntil) return current.keys.hasKey(kid);
      return refresh().then((set) => set.keys.hasKey(kid));
    },
  };
}

function safeLoad(store: JwksStore | undefined, url: string): StoredJwks | null {
  try {
    const entry = store?.load();
    if (!entry || entry.url !== url || !Array.isArray(entry.jwks?.keys)) return null;
    if (typeof entry.fetchedAt !== 'number' || typeof entry.freshUntil !== 'number') return null;
    return entry;
  } catch {
    // A damaged cache is only a cache: fetch again.
    return null;
  }
}

/** Cache-Control as a client cache sees it (RFC 9111): max-age minus Age, no-cache, no-store. */
export function readCachePolicy(headers: Headers, defaultMaxAgeMs: number): { maxAgeMs: number; noStore: boolean } {
  const directives = (headers.get('cache-control') ?? '').toLowerCase().split(',').map((part) => part.trim());
  const noStore = directives.includes('no-store');
  if (noStore || directives.includes('no-cache')) return { maxAgeMs: 0, noStore };
  const maxAge = directives.map((part) => /^max-age=(\d+)$/.exec(part)?.[1]).find((value) => value !== undefined);
  if (maxAge === undefined) return { maxAgeMs: defaultMaxAgeMs, noStore: false };
  const age = Number(headers.get('age') ?? 0) || 0;
  return { maxAgeMs: Math.min(MAX_AGE_CAP_MS, Math.max(0, (Number(maxAge) - age) * 1000)), noStore: false };
}

async function readLimited(response: Response, url: string): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > MAX_BODY_BYTES) {
    await response.body?.cancel();
    throw new VerifyError('ERR_JWKS_INVALID', `the JWKS at ${url} is larger than 1 MiB`);
  }
  const text = await response.text();
  if (text.length > MAX_BODY_BYTES) throw new VerifyError('ERR_JWKS_INVALID', `the JWKS at ${url} is larger than 1 MiB`);
  return text;
}

function parseJwks(text: string, url: string): JsonWebKeySet {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new VerifyError('ERR_JWKS_INVALID', `${url} did not answer JSON`);
  }
  if (!value || typeof value !== 'object' || !Array.isArray((value as JsonWebKeySet).keys)) {
    throw new VerifyError('ERR_JWKS_INVALID', `${url} did not answer a JWKS (expected {"keys":[…]})`);
  }
  return value as JsonWebKeySet;
}

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as Error).name === 'TimeoutError') return 'no answer in time';
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/**
 * True for http:// to a host that is not this machine: anyone on the path
 * could swap the keys. (Serve speaks plain HTTP, so on a LAN this is a
 * choice the user should make knowingly, not a mistake we refuse.)
 */
export function isPlainHttpToRemoteHost(url: string): boolean {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:') return false;
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return !(host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host));
}
