// A JWKS read from a file (`agentauth jwks > jwks.json`), read when first
// needed and again, at most once per 30 s, when a token names a kid it does
// not hold (after a `key rotate`, the file is usually written again).
// node:fs is imported only here and only when a path is given, so the
// library still loads in runtimes without a file system.
import { createLocalKeySource, noMatchingKey, type JsonWebKeySet, type KeySource } from '../core/key-source.js';
import { REFETCH_COOLDOWN_MS } from '../core/jwks-remote.js';
import { VerifyError } from '../core/verify-error.js';

export function createFileKeySource(path: string, now: () => number = Date.now): KeySource {
  let keys: KeySource | null = null;
  let readAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<KeySource> | null = null;
  const read = (): Promise<KeySource> => {
    reading ??= (async () => {
      readAt = now();
      const { readFile } = await import('node:fs/promises');
      let jwks: JsonWebKeySet;
      try {
        jwks = JSON.parse(await readFile(path, 'utf8')) as JsonWebKeySet;
      } catch (error) {
        throw new VerifyError('ERR_JWKS_UNAVAILABLE', `cannot read a JWKS from ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      }
      keys = createLocalKeySource(jwks);
      return keys;
    })().finally(() => {
      reading = null;
    });
    return reading;
  };
  return {
    async getKey(kid) {
      let set = keys ?? (await read());
      if (!set.hasKey(kid) && now() - readAt >= REFETCH_COOLDOWN_MS) set = await read();
      if (!set.hasKey(kid)) throw noMatchingKey();
      return set.getKey(kid);
    },
    hasKey(kid) {
      return keys ? keys.hasKey(kid) : read().then((set) => set.hasKey(kid));
    },
  };
}
