import type { Keystore } from './types.js';

/** In-process only: for unit tests. Everything is gone when the process exits. */
export function createMemoryKeystore(initial: Record<string, string> = {}): Keystore & { entries: Map<string, string> } {
  const entries = new Map(Object.entries(initial));
  return {
    backend: 'memory',
    entries,
    async get(name) {
      return entries.get(name) ?? null;
    },
    async setMany(values) {
      for (const [name, value] of Object.entries(values)) entries.set(name, value);
    },
    async deleteMany(names) {
      for (const name of names) entries.delete(name);
    },
    async listNames() {
      return [...entries.keys()];
    },
  };
}
