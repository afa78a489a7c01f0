// Cross-process exclusive locks (proper-lockfile: an atomic mkdir next to the
// file, refreshed while held, considered stale after a crash).
import lockfile from 'proper-lockfile';
import { keystoreError } from './errors.js';
import { assertNotSymlink, ensurePrivateDir } from './fs-safe.js';
import { dirname } from 'node:path';

export interface LockOptions {
  /** How long to keep retrying before giving up, in ms. */
  waitMs?: number;
}

// A holder that died (kill -9) leaves its lock behind; after this long without
// a refresh another process takes it over. proper-lockfile's floor is 2 s.
const STALE_MS = 2_000;

export async function withFileLock<T>(file: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  ensurePrivateDir(dirname(file));
  // A link planted at the lock's place would have us wait on (or, once "stale", remove) something else.
  assertNotSymlink(file);
  assertNotSymlink(`${file}.lock`);
  const waitMs = options.waitMs ?? 30_000;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(file, {
      realpath: false,
      lockfilePath: `${file}.lock`,
      stale: STALE_MS,
      // The retry package precomputes every timeout per lock, so keep the count
      // small: short waits first (appends hold the lock for ~1 ms), then 100 ms steps.
      retries: { retries: 20 + Math.ceil(waitMs / 100), minTimeout: 1, maxTimeout: 100, factor: 1.4, randomize: true },
    });
  } catch (error) {
    throw keystoreError('LOCK_TIMEOUT', `could not lock ${file}: another agentauth process holds it`, {
      hint: `if no agentauth process is running, remove '${file}.lock'`,
      cause: error,
    });
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => {});
  }
}
