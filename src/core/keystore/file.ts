// The file backend: every private entry in one JWE (PBES2-HS512+A256KW key
// wrap, A256GCM content), for machines without an OS keychain.
import { lstatSync } from 'node:fs';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { AgentAuthError, ExitCode, keystoreError } from '../errors.js';
import { readPrivateFile, writePrivateFileAtomic } from '../fs-safe.js';
import { withFileLock } from '../lock.js';
import type { Keystore, PassphraseSource } from './types.js';

export const KEY_WRAP_ALG = 'PBES2-HS512+A256KW';
export const CONTENT_ENC = 'A256GCM';
/**
 * OWASP's 2023 figure for PBKDF2-HMAC-SHA512. About 85 ms here and roughly
 * 0.5 s on a Raspberry Pi 4: slow for an attacker guessing a human passphrase,
 * bearable for a script that unlocks once per call.
 */
export const DEFAULT_PBES2_COUNT = 210_000;
// Refuse absurd counts in a file we did not write: they are a denial of service.
const MAX_PBES2_COUNT = 10_000_000;

interface KeystorePayload {
  v: 1;
  entries: Record<string, string>;
}

export interface FileKeystoreOptions {
  file: string;
  passphrase: PassphraseSource;
  iterations?: number;
}

export function createFileKeystore(options: FileKeystoreOptions): Keystore {
  let cache: Record<string, string> | null = null;
  let passphrase: string | null = null;

  async function obtainPassphrase(purpose: 'unlock' | 'create'): Promise<string> {
    passphrase ??= await options.passphrase(purpose);
    if (passphrase.length === 0) throw keystoreError('EMPTY_PASSPHRASE', 'the keystore passphrase is empty');
    return passphrase;
  }

  // The file's identity (inode, change time, size) when it was read: every
  // write replaces the file, so a different one means another process wrote
  // since and the cache is stale. Taken before reading, so a write in between
  // only costs a re-read.
  let cachedIdentity: string | null = null;

  async function load(): Promise<Record<string, string>> {
    if (cache && fileIdentity(options.file) === cachedIdentity) return cache;
    cachedIdentity = fileIdentity(options.file);
    const raw = readPrivateFile(options.file);
    if (raw === null) {
      cache = {};
      return cache;
    }
    cache = await decryptKeystore(raw.toString('utf8').trim(), await obtainPassphrase('unlock'), options.file);
    return cache;
  }

  async function save(entries: Record<string, string>): Promise<void> {
    const payload: KeystorePayload = { v: 1, entries };
    const jwe = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: KEY_WRAP_ALG, enc: CONTENT_ENC, cty: 'application/vnd.agentauth.keystore+json' })
      .setKeyManagementParameters({ p2c: options.iterations ?? DEFAULT_PBES2_COUNT })
      .encrypt(new TextEncoder().encode(await obtainPassphrase(cache && Object.keys(cache).length ? 'unlock' : 'create')));
    writePrivateFileAtomic(options.file, `${jwe}\n`);
    cachedIdentity = fileIdentity(options.file);
    cache = entries;
  }

  return {
    backend: 'file',
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
    ({ plaintext } = await compactDecrypt(jwe, new TextEncoder().encode(passphrase), {
      keyManagementAlgorithms: [KEY_WRAP_ALG],
      contentEncryptionAlgorithms: [CONTENT_ENC],
      maxPBES2Count: MAX_PBES2_COUNT,
    }));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_JWE_DECRYPTION_FAILED') {
      throw keystoreError('WRONG_PASSPHRASE', `wrong passphrase for ${file}`, {
        hint: 'check AGENTAUTH_PASSPHRASE_FILE, --passphrase-file or AGENTAUTH_PASSPHRASE',
      });
    }
    throw new AgentAuthError('CORRUPT_KEYSTORE', ExitCode.keystore, `${file} is not a readable agentauth keystore (${(error as Error).message})`, {
      hint: 'restore it from a backup',
      cause: error,
    });
  }
  let payload: KeystorePayload;
  try {
    payload = JSON.parse(new TextDecoder().decode(plaintext)) as KeystorePayload;
  } catch (error) {
    throw new AgentAuthError('CORRUPT_KEYSTORE', ExitCode.keystore, `${file} decrypted to something that is not JSON`, { cause: error });
  }
  if (payload.v !== 1 || typeof payload.entries !== 'object' || payload.entries === null) {
    throw new AgentAuthError('CORRUPT_KEYSTORE', ExitCode.keystore, `${file} has an unknown layout`);
  }
  return payload.entries;
}
