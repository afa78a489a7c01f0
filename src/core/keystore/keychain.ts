// The OS credential store through @napi-rs/keyring. On Linux it is pinned to
// the Secret Service: the kernel keyring forgets everything at reboot, and a
// key that silently vanishes is worse than a clear error.
import { createRequire } from 'node:module';
import { keystoreError } from '../errors.js';
import type { Keystore } from './types.js';

export const KEYCHAIN_SERVICE = 'agentauth';

type KeyringModule = typeof import('@napi-rs/keyring');
type EntryClass = KeyringModule['Entry'];
interface EntryOptionsShape {
  linux?: { store: 'secret-service' | 'keyutils' };
}

let binding: KeyringModule | null = null;

/** Loaded lazily: a missing or broken native binding only disables this backend. */
function loadBinding(): KeyringModule {
  if (binding) return binding;
  try {
    const require = createRequire(import.meta.url);
    binding = require('@napi-rs/keyring') as KeyringModule;
    return binding;
  } catch (error) {
    throw keystoreError('KEYCHAIN_UNAVAILABLE', `the keychain binding could not be loaded (${(error as Error).message})`, {
      hint: `reinstall agentauth for this platform, or use the file backend: agentauth init --backend file`,
      cause: error,
    });
  }
}

const ENTRY_OPTIONS: EntryOptionsShape = { linux: { store: 'secret-service' } };

function openEntry(account: string) {
  const Entry: EntryClass = loadBinding().Entry;
  return new Entry(KEYCHAIN_SERVICE, account, ENTRY_OPTIONS as never);
}

export function describeKeychainFailure(error: unknown): { reason: string; hint: string } {
  const message = (error as Error)?.message ?? String(error);
  if (process.platform === 'linux') {
    if (!process.env['DBUS_SESSION_BUS_ADDRESS']) {
      return {
        reason: 'no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset), so no Secret Service can answer',
        hint: 'on a desktop, log in to a graphical session; on a headless machine, use the file backend (agentauth init --backend file)',
      };
    }
    return {
      reason: `the Secret Service did not answer or is locked: ${message}`,
      hint: 'start and unlock a Secret Service (gnome-keyring-daemon or KWallet), or use the file backend (agentauth init --backend file)',
    };
  }
  return { reason: `the OS keychain refused: ${message}`, hint: 'unlock the keychain, or use the file backend (agentauth init --backend file)' };
}

function wrapKeychainError(error: unknown): never {
  const { reason, hint } = describeKeychainFailure(error);
  throw keystoreError('KEYCHAIN_UNAVAILABLE', `the keychain is unavailable: ${reason}`, { hint, cause: error });
}

export function createKeychainKeystore(installId: string): Keystore {
  const account = (name: string) => `${installId}/${name}`;
  return {
    backend: 'keychain',
    async get(name) {
      try {
        return openEntry(account(name)).getPassword() ?? null;
      } catch (error) {
        return wrapKeychainError(error);
      }
    },
    async setMany(entries) {
      try {
        for (const [name, value] of Object.entries(entries)) openEntry(account(name)).setPassword(value);
      } catch (error) {
        wrapKeychainError(error);
      }
    },
    async deleteMany(names) {
      try {
        for (const name of names) openEntry(account(name)).deleteCredential();
      } catch (error) {
        wrapKeychainError(error);
      }
    },
    async listNames() {
      const prefix = account('');
      try {
        return loadBinding()
          .findCredentials(KEYCHAIN_SERVICE)
          .map((credential) => credential.account)
          .filter((name) => name.startsWith(prefix))
          .map((name) => name.slice(prefix.length));
      } catch (error) {
        return wrapKeychainError(error);
      }
    },
  };
}

/** Writes, reads back and deletes a throwaway entry: the only honest availability test. */
export function probeKeychain(): { ok: true } | { ok: false; reason: string; hint: string } {
  try {
    const entry = openEntry(`probe/${process.pid}/${Date.now()}`);
    entry.setPassword('probe');
    const back = entry.getPassword();
    entry.deleteCredential();
    if (back !== 'probe') return { ok: false, reason: 'the keychain did not return what was stored', hint: 'use the file backend' };
    return { ok: true };
  } catch (error) {
    if ((error as { code?: string }).code === 'KEYCHAIN_UNAVAILABLE') {
      return { ok: false, reason: (error as Error).message, hint: (error as { hint?: string }).hint ?? '' };
    }
    return { ok: false, ...describeKeychainFailure(error) };
  }
}
