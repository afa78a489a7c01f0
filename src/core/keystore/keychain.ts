// The OS credential store through @napi-rs/keyring. On Linux it is pinned to
// the Secret Service: the kernel keyring forgets everything at reboot, and a
// key that silently vanishes is worse than a clear error.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { platform } from 'node:os';
import { keystoreError } from '../errors.js';
import type { Env } from '../paths.js';
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

/** Why the keychain failed, in the user's terms; `env` is the command's (the session bus it names). */
export function describeKeychainFailure(error: unknown, env: Env): { reason: string; hint: string } {
  const message = (error as Error)?.message ?? String(error);
  if (platform() === 'linux') {
    if (!env['DBUS_SESSION_BUS_ADDRESS']) {
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

function wrapKeychainError(error: unknown, env: Env): never {
  const { reason, hint } = describeKeychainFailure(error, env);
  throw keystoreError('KEYCHAIN_UNAVAILABLE', `the keychain is unavailable: ${reason}`, { hint, cause: error });
}

export function createKeychainKeystore(installId: string, env: Env): Keystore {
  const account = (name: string) => `${installId}/${name}`;
  return {
    backend: 'keychain',
    async get(name) {
      try {
        return openEntry(account(name)).getPassword() ?? null;
      } catch (error) {
        return wrapKeychainError(error, env);
      }
    },
    async setMany(entries) {
      try {
        for (const [name, value] of Object.entries(entries)) openEntry(account(name)).setPassword(value);
      } catch (error) {
        wrapKeychainError(error, env);
      }
    },
    async deleteMany(names) {
      try {
        for (const name of names) openEntry(account(name)).deleteCredential();
      } catch (error) {
        wrapKeychainError(error, env);
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
        return wrapKeychainError(error, env);
      }
    },
  };
}

/** Writes, reads back and deletes a throwaway entry: the only honest availability test. */
export function probeKeychain(env: Env): { ok: true } | { ok: false; reason: string; hint: string } {
  try {
    const entry = openEntry(`probe/${randomUUID()}`);
    entry.setPassword('probe');
    const back = entry.getPassword();
    entry.deleteCredential();
    if (back !== 'probe') return { ok: false, reason: 'the keychain did not return what was stored', hint: 'use the file backend' };
    return { ok: true };
  } catch (error) {
    if ((error as { code?: string }).code === 'KEYCHAIN_UNAVAILABLE') {
      return { ok: false, reason: (error as Error).message, hint: (error as { hint?: string }).hint ?? '' };
    }
    return { ok: false, ...describeKeychainFailure(error, env) };
  }
}
