import type { Keystore } from '../../src/core/keystore/index.js';

/** The Keystore contract in memory: what the file and keychain backends do, without their cost. */
export function memoryKeystore(): Keystore & { entries: Map<string, string> } {
  const entries = new Map<string, string>();
  return {
    backend: 'file',
    entries,
    get: async (name) => entries.get(name) ?? null,
    setMany: async (values) => void Object.entries(values).forEach(([name, value]) => entries.set(name, value)),
    deleteMany: async (names) => void names.forEach((name) => entries.delete(name)),
    listNames: async () => [...entries.keys()],
  };
}
