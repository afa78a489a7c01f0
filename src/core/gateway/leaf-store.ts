// Gateway leaves kept in the keystore between runs (`ca-leaf/<host>`), with a
// bound: a wildcard binding lets the child CONNECT to any number of
// subdomains, and each would otherwise leave a keystore entry behind. An
// index entry lists the stored hosts, oldest first; past the limit the
// oldest are deleted. A run also stores only a few new leaves: the rest stay
// in memory (ca.ts bounds that too), so a flood of subdomains costs the
// keystore nothing more.
import { entryName, type Keystore } from '../keystore/index.js';
import type { LeafStore } from './ca.js';

export const LEAF_INDEX_ENTRY = 'ca-leaf-index';
const MAX_STORED_LEAVES = 32;
const MAX_NEW_LEAVES_PER_RUN = 8;

export interface KeystoreLeafStore extends LeafStore {
  /** Resolves once every write this run started has ended (run waits for it before it exits). */
  settle(): Promise<void>;
}

export function createKeystoreLeafStore(keystore: Keystore, limits = { stored: MAX_STORED_LEAVES, perRun: MAX_NEW_LEAVES_PER_RUN }): KeystoreLeafStore {
  // Writes one after another: each reads the index the previous one wrote.
  let queue: Promise<void> = Promise.resolve();
  let started = 0;
  return {
    get: (host) => keystore.get(entryName.caLeaf(host)),
    set(host, value) {
      if (started >= limits.perRun) return Promise.resolve();
      started += 1;
      const write = queue.then(async () => {
        const hosts = readIndex(await keystore.get(LEAF_INDEX_ENTRY)).filter((known) => known !== host);
        hosts.push(host);
        const evicted = hosts.splice(0, Math.max(0, hosts.length - limits.stored));
        await keystore.setMany({ [entryName.caLeaf(host)]: value, [LEAF_INDEX_ENTRY]: JSON.stringify(hosts) });
        if (evicted.length > 0) await keystore.deleteMany(evicted.map((old) => entryName.caLeaf(old)));
      });
      queue = write.catch(() => {});
      return write;
    },
    settle: () => queue,
  };
}

function readIndex(text: string | null): string[] {
  if (text === null) return [];
  try {
    const parsed = JSON.parse(text) as unknown;
    return Array.isArray(parsed) ? parsed.filter((host): host is string => typeof host === 'string') : [];
  } catch {
    // A damaged index only forgets which leaves to evict; it is rebuilt from here.
    return [];
  }
}
