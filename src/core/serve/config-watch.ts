// serve reads config.json again whenever it changed, so that `agent update`,
// `key rotate` or `config set issuer` apply to the next request without a
// restart. One stat per request decides: it costs about a microsecond, and
// unlike a file watcher it cannot deliver the change after the request that
// needed it. Every write of config.json is an atomic rename, so a change
// shows as a new inode, size or change time.
import { statSync } from 'node:fs';
import { notInitialisedError, readConfig, type Config } from '../config.js';
import type { Paths } from '../paths.js';

export interface ConfigWatch {
  /** The config as it is on disk now; throws when it cannot be read (a mint must then be refused). */
  current(): Config;
  /**
   * For public documents: the last config that could be read (they keep being
   * served while config.json is broken), looked at no more than once a millisecond
   * (a JWKS server answers tens of thousands of requests a second).
   */
  lastGood(): Config;
}

const PUBLIC_RECHECK_MS = 1;

export function createConfigWatch(paths: Paths, initial: Config, onChange: (next: Config, previous: Config) => void = () => {}): ConfigWatch {
  let config = initial;
  let seen = fingerprint(paths.config);
  let checkedAt = Number.NEGATIVE_INFINITY;
  const current = (): Config => {
    const now = fingerprint(paths.config);
    if (now === seen) return config;
    const next = readConfig(paths);
    if (!next) throw notInitialisedError(paths);
    const previous = config;
    config = next;
    seen = now;
    onChange(next, previous);
    return config;
  };
  return {
    current,
    lastGood() {
      const now = performance.now();
      if (now - checkedAt < PUBLIC_RECHECK_MS) return config;
      checkedAt = now;
      try {
        return current();
      } catch {
        return config;
      }
    },
  };
}

function fingerprint(file: string): string {
  try {
    // Millisecond times with their sub-millisecond fraction: a rename always changes ino or ctime.
    const st = statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch (error) {
    return `missing:${(error as NodeJS.ErrnoException).code ?? ''}`;
  }
}
