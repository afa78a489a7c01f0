// Are the keystore entries the install needs still there? Asked by `status`
// and `doctor`: an entry deleted behind agentauth's back (secret-tool clear,
// a keyring reset) is found here, named, with the way back.
import type { Config } from '../core/config.js';
import { isAgentAuthError } from '../core/errors.js';
import { readPrivateFile } from '../core/fs-safe.js';
import { describeLostEntryFix, entryName, openConfiguredKeystore, type PassphraseSource } from '../core/keystore/index.js';
import { plural } from '../ui/plural.js';
import type { Context } from './context.js';

export interface KeystoreCheck {
  ok: boolean;
  /** False when the entries could not be looked at (a file keystore without its passphrase at hand). */
  checked: boolean;
  detail: string;
  missing: string[];
  fix?: string;
}

/**
 * The entries a command may need: the active signing key and every other
 * entry the config records. A previous key's private half is not needed
 * (verifiers use its public half), so losing it is not reported.
 */
function listNeededEntries(config: Config): string[] {
  const active = config.keys.find((key) => key.status === 'active');
  return [...new Set([...(active ? [entryName.issuer(active.kid)] : []), ...config.keystoreEntries.filter((name) => !name.startsWith('issuer/'))])];
}

/** Keychain: each entry is read (no passphrase). File: opened only when `passphrase` is given; otherwise only the file's presence is checked. */
export async function checkKeystoreEntries(ctx: Context, config: Config, passphrase?: PassphraseSource): Promise<KeystoreCheck> {
  const needed = listNeededEntries(config);
  if (config.backend === 'file' && !passphrase) {
    let present: boolean;
    try {
      present = readPrivateFile(ctx.paths.keystore, ctx.paths.owner) !== null;
    } catch (error) {
      return failed(error);
    }
    if (!present) return { ok: false, checked: true, detail: `${ctx.paths.keystore} is missing`, missing: needed, fix: describeLostEntryFix('keystore') };
    return { ok: true, checked: false, detail: `${ctx.paths.keystore} is present (its entries are checked when it is unlocked)`, missing: [] };
  }
  try {
    const keystore = await openConfiguredKeystore(config, ctx.paths, passphrase ?? (async () => ''), ctx.env);
    const missing: string[] = [];
    for (const name of needed) if ((await keystore.get(name)) === null) missing.push(name);
    if (missing.length === 0) return { ok: true, checked: true, detail: `the ${plural(needed.length, 'entry', 'entries')} the install needs ${needed.length === 1 ? 'is' : 'are'} present (${needed.join(', ')})`, missing };
    return {
      ok: false,
      checked: true,
      detail: `the ${config.backend} keystore no longer holds ${missing.map((name) => `"${name}"`).join(', ')}`,
      missing,
      fix: describeLostEntryFix(missing[0]!),
    };
  } catch (error) {
    return failed(error);
  }
}

function failed(error: unknown): KeystoreCheck {
  if (!isAgentAuthError(error)) throw error;
  return { ok: false, checked: false, detail: error.message, missing: [], ...(error.hint ? { fix: error.hint } : {}) };
}
