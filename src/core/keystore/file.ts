// The file backend: every private entry in one JWE (PBES2-HS512+A256KW key
// wrap, A256GCM content), for machines without an OS keychain.
import { lstatSync } from 'node:fs';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { keystoreError } from '../errors.js';
import { readPrivateFile, writePrivateFileAtomic, type Owner } from '../fs-safe.js';
import { withFileLock } from '../lock.js';
import { findPassphraseWeakness, weakPassphraseError } from '../passphrase-rule.js';
import type { Keystore, PassphraseSource } from './types.js';

export const KEY_WRAP_ALG = 'PBES2-HS512+A256KW';
const CONTENT_ENC = 'A256GCM';
/**
 * OWASP's 2023 figure for PBKDF2-HMAC-SHA512. About 85 ms here and roughly
 * 0.5 s on a Raspberry Pi 4: slow for an attacker guessing a human passphrase,
 * bearable for a script that unlocks once per call.
 */
const DEFAULT_PBES2_COUNT = 210_000;
// Refuse absurd counts in a file we did not write: they are a denial of service.
const MAX_PBES2_COUNT = 10_000_000;
/** A person at a prompt gets this many tries at the passphrase. */
export const PASSPHRASE_TRIES = 3;

interface KeystorePayload {
  v: 1;
  entries: Record<string, string>;
}

export interface FileKeystoreOptions {
  file: string;
  /** The user the file must belong to. */
  owner: Owner;
  passphrase: PassphraseSource;
  iterations?: number;
}

export interface FileKeystore extends Keystore {
  readonly backend: 'file';
  /** Re-encrypts every entry under `next` (atomically, under the keystore's lock), after unlocking with the current passphrase. */
  changePassphrase(next: string): Promise<void>;
}

export function createFileKeystore(options: FileKeystoreOptions): FileKeystore {
  let cache: Record<string, string> | null = null;
  let passphrase: string | null = null;

  async function obtainPassphrase(purpose: 'unlock' | 'create'): Promise<string> {
    if (passphrase === null) {
      const given = await options.passphrase(purpose);
      if (given.length === 0) throw keystoreError('EMPTY_PASSPHRASE', 'the keystore passphrase is empty');
      // The floor applies to new keystores only: one made before it existed still opens.
      const weakness = purpose === 'create' ? findPassphraseWeakness(given) : null;
      if (weakness) throw weakPassphraseError('keystore passphrase', weakness);
      passphrase = given;
    }
    return passphrase;
  }

  /** Decrypts with the passphrase; a wrong one typed at a prompt may be typed again. */
  async function unlock(jwe: string): Promise<Record<string, string>> {
    for (let triesLeft = PASSPHRASE_TRIES - 1; ; triesLeft -= 1) {
      try {
        return await decryptKeystore(jwe, await obtainPassphrase('unlock'), options.file);
      } catch (error) {
        if ((error as { code?: string }).code !== 'WRONG_PASSPHRASE' || triesLeft === 0 || !options.passphrase.retry) throw error;
        const again = await options.passphrase.retry(triesLeft - 1);
        if (again === undefined) throw error;
        passphrase = again;
      }
    }
  }

  // The file's identity (inode, change time, size) when it was read: every
  // write replaces the file, so a different one means another process wrote
  // since and the cache is stale. Taken before reading, so a write in between
  // only costs a re-read.
  let cachedIdentity: string | null = null;

  async function load(): Promise<Record<string, string>> {
    if (cache && fileIdentity(options.file) === cachedIdentity) return cache;
    cachedIdentity = fileIdentity(options.file);
    const raw = readPrivateFile(options.file, options.owner);
    if (raw === null) {
      cache = {};
      return cache;
    }
    cache = await unlock(raw.toString('utf8').trim());
    return cache;
  }

  async function save(entries: Record<string, string>, key?: string): Promise<void> {
    const payload: KeystorePayload = { v: 1, entries };
    const jwe = await encryptWithPassphrase(
      JSON.stringify(payload),
      key ?? (await obtainPassphrase(cache && Object.keys(cache).length ? 'unlock' : 'create')),
      'application/vnd.agentauth.keystore+json',
      options.iterations,
    );
    writePrivateFileAtomic(options.file, `${jwe}\n`);
    cachedIdentity = fileIdentity(options.file);
    cache = entries;
  }

  return {
    backend: 'file',
    async changePassphrase(next) {
      const weakness = findPassphraseWeakness(next);
      if (weakness) throw weakPassphraseError('new passphrase', weakness);
      await withFileLock(options.file, async () => {
        cache = null;
        if (readPrivateFile(options.file, options.owner) === null) throw keystoreError('NO_KEYSTORE', `${options.file} does not exist`, { hint: 'run: agentauth init --backend file' });
        const entries = await load();
        await save(entries, next);
        passphrase = next;
      });
    },
    async listNames() {
      return Object.keys(await load());
    },
    async get(name) {
      return (await load())[name] ?? null;
    },
    async setMany(values) {
      await withFileLock(options.file, async () => {
        cache = null; // another process may have written since we read
        const entries = { ...(await load()), ...values };
        await save(entries);
      });
    },
    async deleteMany(names) {
      await withFileLock(options.file, async () => {
        cache = null;
        const entries = { ...(await load()) };
        for (const name of names) delete entries[name];
        await save(entries);
      });
    },
  };
}

/** A JWE under a passphrase, as the keystore and backups are written (PBES2-HS512+A256KW, A256GCM). */
export async function encryptWithPassphrase(plaintext: string, passphrase: string, cty: string, iterations = DEFAULT_PBES2_COUNT): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(plaintext))
    .setProtectedHeader({ alg: KEY_WRAP_ALG, enc: CONTENT_ENC, cty })
    .setKeyManagementParameters({ p2c: iterations })
    .encrypt(new TextEncoder().encode(passphrase));
}

/** Decrypts a JWE made by encryptWithPassphrase; jose's error codes pass through for the caller to name. */
export async function decryptWithPassphrase(jwe: string, passphrase: string): Promise<Uint8Array> {
  const { plaintext } = await compactDecrypt(jwe, new TextEncoder().encode(passphrase), {
    keyManagementAlgorithms: [KEY_WRAP_ALG],
    contentEncryptionAlgorithms: [CONTENT_ENC],
    maxPBES2Count: MAX_PBES2_COUNT,
  });
  return plaintext;
}

function fileIdentity(file: string): string | null {
  try {
    const st = lstatSync(file, { bigint: true });
    return `${st.ino}:${st.ctimeNs}:${st.size}`;
  } catch {
    return null;
  }
}

async function decryptKeystore(jwe: string, passphrase: string, file: string): Promise<Record<string, string>> {
  let plaintext: Uint8Array;
  try {
    plaintext = await decryptWithPassphrase(jwe, passphrase);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_JWE_DECRYPTION_FAILED') {
      throw keystoreError('WRONG_PASSPHRASE', `wrong passphrase for ${file}`, {
        hint: 'check AGENTAUTH_PASSPHRASE_FILE, --passphrase-file or AGENTAUTH_PASSPHRASE',
      });
    }
    throw keystoreError('CORRUPT_KEYSTORE', `${file} is not a readable agentauth keystore (${(error as Error).message})`, {
      hint: 'restore the install from a backup: agentauth restore FILE --force',
      cause: error,
    });
  }
  let payload: KeystorePayload;
  try {
    payload = JSON.parse(new TextDecoder().decode(plaintext)) as KeystorePayload;
  } catch (error) {
    throw keystoreError('CORRUPT_KEYSTORE', `${file} decrypted to something that is not JSON`, { cause: error });
  }
  if (payload.v !== 1 || typeof payload.entries !== 'object' || payload.entries === null) {
    throw keystoreError('CORRUPT_KEYSTORE', `${file} has an unknown layout`);
  }
  return payload.entries;
}
