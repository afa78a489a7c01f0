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
}

/** Supplies the file backend's passphrase; only called when it is needed. */
export type PassphraseSource = (purpose: 'unlock' | 'create') => Promise<string>;

/** Keystore entry names. */
export const entryName = {
  issuer: (kid: string) => `issuer/${kid}`,
  logKey: 'log-key',
  vaultKey: 'vault-key',
  caKey: 'ca-key',
  /** A leaf certificate and its key for one terminated host: a cache, re-issued when missing or stale. */
  caLeaf: (host: string) => `ca-leaf/${host}`,
} as const;
