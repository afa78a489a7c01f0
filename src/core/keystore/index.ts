import type { BackendName, Config } from '../config.js';
import { keystoreError } from '../errors.js';
import type { Paths } from '../paths.js';
import { createFileKeystore } from './file.js';
import { createMemoryKeystore } from './memory.js';
import type { Keystore, PassphraseSource } from './types.js';

export type { Keystore, PassphraseSource } from './types.js';
export { entryName } from './types.js';

export interface OpenKeystoreOptions {
  backend: BackendName;
  installId: string;
  paths: Paths;
  passphrase: PassphraseSource;
}

/** Opens the backend the config names. Never re-detects: the saved choice wins. */
export async function openKeystore(options: OpenKeystoreOptions): Promise<Keystore> {
  switch (options.backend) {
    case 'file':
      return createFileKeystore({ file: options.paths.keystore, passphrase: options.passphrase });
    case 'keychain': {
      const { createKeychainKeystore } = await import('./keychain.js');
      return createKeychainKeystore(options.installId);
    }
    case 'memory':
      return createMemoryKeystore();
  }
}

export function openConfiguredKeystore(config: Config, paths: Paths, passphrase: PassphraseSource): Promise<Keystore> {
  return openKeystore({ backend: config.backend, installId: config.installId, paths, passphrase });
}

/**
 * An entry the config says exists must exist. If it vanished (someone cleared
 * the keychain), fail loudly: regenerating would silently change identities.
 */
export async function requireEntry(keystore: Keystore, name: string): Promise<string> {
  const value = await keystore.get(name);
  if (value === null) {
    throw keystoreError('KEY_MISSING', `the ${keystore.backend} keystore no longer holds "${name}", which the config records`, {
      hint:
        keystore.backend === 'keychain'
          ? 'restore the keychain entry (service "agentauth") from a backup; agentauth will not create a new key behind your back'
          : 'restore keystore.jwe from a backup; agentauth will not create a new key behind your back',
    });
  }
  return value;
}
