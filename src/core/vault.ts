// The vault: secret values encrypted with AES-256-GCM under a data key that
// lives in the keystore (`vault-key`). vault.json holds only ciphertext, so it
// can be backed up like the config; without the keystore it is noise.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Config } from './config.js';
import { AgentAuthError, keystoreError } from './errors.js';
import { readPrivateFile, writePrivateFileAtomic, type Owner } from './fs-safe.js';
import { entryName, requireEntry, type Keystore } from './keystore/index.js';
import { withFileLock } from './lock.js';

const VAULT_ALG = 'A256GCM';
const KEY_BYTES = 32;
// 96-bit nonces are GCM's native size; random ones are safe far beyond the
// number of values one install will ever encrypt under one key (2^32).
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface VaultEntry {
  /** base64url, 12 bytes. */
  nonce: string;
  /** base64url ciphertext (same length as the value). */
  ct: string;
  /** base64url, 16 bytes. */
  tag: string;
  updatedAt: string;
}

export interface VaultFile {
  v: 1;
  alg: typeof VAULT_ALG;
  /** Keyed by secret name; the name is GCM's additional data, so entries cannot be swapped. */
  values: Record<string, VaultEntry>;
}

/** The data key, and whether it was just created (the caller records it in config.keystoreEntries). */
export interface VaultKey {
  key: Buffer;
  created: boolean;
}

export type VaultKeyOptions = { create: false } | { create: true; vaultFile: string };

/**
 * Loads the vault data key, creating it on first use. A key the config says
 * exists but the keystore lost is an error: a new key could not decrypt the
 * values already stored, so it is never made silently.
 *
 * Creation happens under the vault's lock, re-reading the keystore there:
 * two first `secret add`s at once would otherwise both create a key, the
 * last keystore write would win, and the other value could never be
 * decrypted again.
 */
export async function obtainVaultKey(config: Config, keystore: Keystore, options: VaultKeyOptions): Promise<VaultKey> {
  if (config.keystoreEntries.includes(entryName.vaultKey)) {
    return { key: decodeKey(await requireEntry(keystore, entryName.vaultKey)), created: false };
  }
  if (!options.create) {
    // Not recorded yet. A crash between the keystore write and the config write
    // can leave a key behind; use it rather than orphan what it encrypted.
    const existing = await keystore.get(entryName.vaultKey);
    if (existing !== null) return { key: decodeKey(existing), created: true };
    throw keystoreError('NO_VAULT_KEY', 'the vault has no data key yet: no secret was ever added', { hint: 'add one with: agentauth secret add NAME --host …' });
  }
  return withFileLock(options.vaultFile, async () => {
    const existing = await keystore.get(entryName.vaultKey);
    if (existing !== null) return { key: decodeKey(existing), created: true };
    const key = randomBytes(KEY_BYTES);
    await keystore.setMany({ [entryName.vaultKey]: key.toString('base64') });
    return { key, created: true };
  });
}

function decodeKey(text: string): Buffer {
  const key = Buffer.from(text, 'base64');
  if (key.length !== KEY_BYTES) {
    throw keystoreError('CORRUPT_KEYSTORE', `the keystore entry "${entryName.vaultKey}" is not a 256-bit key`, {
      hint: 'bring the keystore back from a backup: agentauth restore FILE --force',
    });
  }
  return key;
}

export function encryptValue(key: Buffer, name: string, value: Buffer, now: Date): VaultEntry {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(name, 'utf8'));
  const ct = Buffer.concat([cipher.update(value), cipher.final()]);
  return { nonce: nonce.toString('base64url'), ct: ct.toString('base64url'), tag: cipher.getAuthTag().toString('base64url'), updatedAt: now.toISOString() };
}

export function decryptValue(key: Buffer, name: string, entry: VaultEntry, file: string): Buffer {
  try {
    const nonce = Buffer.from(entry.nonce, 'base64url');
    const tag = Buffer.from(entry.tag, 'base64url');
    if (nonce.length !== NONCE_BYTES || tag.length !== TAG_BYTES) throw new Error('bad nonce or tag length');
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(name, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(entry.ct, 'base64url')), decipher.final()]);
  } catch (error) {
    throw keystoreError('VAULT_DECRYPT_FAILED', `the value of secret "${name}" in ${file} cannot be decrypted (altered, moved between names, or another install's key)`, {
      hint: `restore ${file} from a backup, or set a new value: agentauth secret rotate ${name}`,
      cause: error,
    });
  }
}

export function readVault(file: string, owner: Owner): VaultFile {
  const raw = readPrivateFile(file, owner);
  if (raw === null) return { v: 1, alg: VAULT_ALG, values: {} };
  let vault: VaultFile;
  try {
    vault = JSON.parse(raw.toString('utf8')) as VaultFile;
  } catch {
    throw corruptVault(file, 'it is not valid JSON');
  }
  if (!vault || vault.v !== 1 || vault.alg !== VAULT_ALG || typeof vault.values !== 'object' || vault.values === null) {
    throw corruptVault(file, 'unknown layout');
  }
  return vault;
}

function corruptVault(file: string, why: string): AgentAuthError {
  return keystoreError('CORRUPT_VAULT', `${file} is damaged: ${why}`, { hint: 'bring it back from a backup (agentauth restore FILE --force), or move it away and add the secrets again' });
}

/** Read-modify-write of vault.json under its own lock; written atomically, 0600. */
export async function updateVault(file: string, owner: Owner, change: (vault: VaultFile) => void): Promise<void> {
  await withFileLock(file, () => {
    const vault = readVault(file, owner);
    change(vault);
    writePrivateFileAtomic(file, `${JSON.stringify(vault, null, 2)}\n`);
  });
}

/** Decrypts the named values (e.g. the secrets one `run` was granted). */
export function decryptValues(file: string, owner: Owner, key: Buffer, names: string[]): Map<string, Buffer> {
  const vault = readVault(file, owner);
  const values = new Map<string, Buffer>();
  for (const name of names) {
    const entry = vault.values[name];
    if (!entry) {
      throw keystoreError('SECRET_VALUE_MISSING', `${file} holds no value for secret "${name}"`, {
        hint: `set one with: agentauth secret rotate ${name}`,
      });
    }
    values.set(name, decryptValue(key, name, entry, file));
  }
  return values;
}
