// Opening an install's state for a command: config, keystore, audit events.
import { requireConfig, type Config } from '../core/config.js';
import { openConfiguredKeystore, type Keystore } from '../core/keystore/index.js';
import { createPassphraseSource, type Context, type KeystoreFlags } from './context.js';

export function loadConfig(ctx: Context): Config {
  return requireConfig(ctx.paths);
}

/** `stdinTaken`: stdin carried data (a secret's value), so a passphrase prompt goes to the controlling terminal. */
export function openKeystore(ctx: Context, config: Config, flags: KeystoreFlags, options: { stdinTaken?: boolean } = {}): Promise<Keystore> {
  return openConfiguredKeystore(config, ctx.paths, createPassphraseSource(ctx, flags, options), ctx.env);
}
