import type { BackendName } from '../config.js';

/**
 * Where private material lives: issuer keys, the audit log key, the vault data
 * key and the gateway CA key. Entries are opaque strings (JSON JWKs, base64).
 */
export interface Keystore {
  readonly backend: BackendName;
  /** The entry, or null when the store has no such entry. */
  get(name: string): Promise<string | null>;
  /** Writes several entries in one go (one re-encryption on the file backend). */
  setMany(entries: Record<string, string>): Promise<void>;
  deleteMany(names: string[]): Promise<void>;
  /** Every entry this install holds, including ones the config does not record (the gateway's `ca-leaf/*`). */
  listNames(): Promise<string[]>;
}

/** Supplies the file backend's passphrase; only called when it is needed. */
export interface PassphraseSource {
  (purpose: 'unlock' | 'create'): Promise<string>;
  /**
   * Asks again after a wrong passphrase, with the number of tries left after
   * this one. Only a person at a prompt can answer differently: a source that
   * read a file or a variable returns undefined.
   */
  retry?: (triesLeft: number) => Promise<string | undefined>;
}

/** Keystore entry names. */
export const entryName = {
  issuer: (kid: string) => `issuer/${kid}`,
  logKey: 'log-key',
  vaultKey: 'vault-key',
  caKey: 'ca-key',
  /** A leaf certificate and its key for one terminated host: a cache, re-issued when missing or stale. */
  caLeaf: (host: string) => `ca-leaf/${host}`,
} as const;
