import type { BackendName, Config } from '../config.js';
import { keystoreError } from '../errors.js';
import type { Env, Paths } from '../paths.js';
import { createFileKeystore } from './file.js';
import { createMemoryKeystore } from './memory.js';
import { entryName, type Keystore, type PassphraseSource } from './types.js';

export type { Keystore, PassphraseSource } from './types.js';
export { entryName };

export interface OpenKeystoreOptions {
  backend: BackendName;
  installId: string;
  paths: Paths;
  passphrase: PassphraseSource;
  /** The command's environment (the keychain backend explains a missing session bus from it). */
  env: Env;
}

/** Opens the backend the config names. Never re-detects: the saved choice wins. */
export async function openKeystore(options: OpenKeystoreOptions): Promise<Keystore> {
  switch (options.backend) {
    case 'file':
      return createFileKeystore({ file: options.paths.keystore, owner: options.paths.owner, passphrase: options.passphrase });
    case 'keychain': {
      const { createKeychainKeystore } = await import('./keychain.js');
      return createKeychainKeystore(options.installId, options.env);
    }
    case 'memory':
      return createMemoryKeystore();
  }
}

export function openConfiguredKeystore(config: Config, paths: Paths, passphrase: PassphraseSource, env: Env): Promise<Keystore> {
  return openKeystore({ backend: config.backend, installId: config.installId, paths, passphrase, env });
}

/**
 * An entry the config says exists must exist. If it vanished (someone cleared
 * the keychain), fail loudly: regenerating would silently change identities.
 */
export async function requireEntry(keystore: Keystore, name: string): Promise<string> {
  const value = await keystore.get(name);
  if (value === null) {
    throw keystoreError('KEY_MISSING', `the ${keystore.backend} keystore no longer holds "${name}", which the config records`, {
      hint: `${describeLostEntryFix(name)}; agentauth will not create a new key behind your back`,
      details: { entry: name },
    });
  }
  return value;
}

/** What to do about an entry that vanished from the keystore: every way named here exists. */
export function describeLostEntryFix(name: string): string {
  const restore = 'agentauth restore FILE --force (FILE from agentauth backup)';
  if (name.startsWith('issuer/')) return `make a new signing key with agentauth key rotate (tokens the lost key signed stop verifying), or bring it back from a backup: ${restore}`;
  if (name === entryName.logKey) return `bring it back from a backup: ${restore}; until then no audit checkpoint can be signed`;
  if (name === entryName.vaultKey) return `bring it back from a backup: ${restore}; without it the stored secret values cannot be decrypted`;
  return `bring it back from a backup: ${restore}`;
}

/**
 * Every entry of the install with its value: those the store lists and
 * those the config records (a recorded one that is missing is an error).
 */
export async function readAllEntries(keystore: Keystore, recorded: readonly string[]): Promise<Record<string, string>> {
  const names = [...new Set([...recorded, ...(await keystore.listNames())])].sort();
  const entries: Record<string, string> = {};
  for (const name of names) {
    const value = recorded.includes(name) ? await requireEntry(keystore, name) : await keystore.get(name);
    if (value !== null) entries[name] = value;
  }
  return entries;
}

/** Names whose value in `keystore` is not the one in `expected` (read back after a write). */
export async function findDifferingEntries(keystore: Keystore, expected: Record<string, string>): Promise<string[]> {
  const differing: string[] = [];
  for (const [name, value] of Object.entries(expected)) {
    if ((await keystore.get(name)) !== value) differing.push(name);
  }
  return differing;
}
