// `agentauth migrate --to file|keychain`: moves every keystore entry (issuer
// keys, log key, vault key, CA key, the gateway's cached leaves) to the other
// backend. The new backend is written and read back, then the config names
// it (the commit point), and only then are the old backend's entries removed.
import { existsSync } from 'node:fs';
import { requireConfig, writeConfig, type BackendName } from '../core/config.js';
import { keystoreError, usageError } from '../core/errors.js';
import { removeFiles } from '../core/install-files.js';
import { findDifferingEntries, openKeystore as openBackend, readAllEntries } from '../core/keystore/index.js';
import { withFileLock } from '../core/lock.js';
import { plural } from '../ui/plural.js';
import { recordEvents } from './audit-events.js';
import { createPassphraseSource, rememberPassphrase, type Context, type KeystoreFlags } from './context.js';
import type { CommandResult } from './result.js';

interface MigrateFlags extends KeystoreFlags {
  to: 'file' | 'keychain';
}

export async function migrateCommand(ctx: Context, flags: MigrateFlags): Promise<CommandResult> {
  const to: BackendName = flags.to;
  const before = requireConfig(ctx.paths);
  if (before.backend === to) throw usageError('SAME_BACKEND', `the keys are already on the ${to} backend`);
  if (to === 'file' && existsSync(ctx.paths.keystore)) {
    throw keystoreError('KEYSTORE_EXISTS', `${ctx.paths.keystore} already exists (left from an earlier install?)`, { hint: `move it away first; migrate never overwrites a keystore` });
  }
  if (to === 'keychain') {
    const { probeKeychain } = await import('../core/keystore/keychain.js');
    const probe = probeKeychain(ctx.env);
    if (!probe.ok) throw keystoreError('KEYCHAIN_UNAVAILABLE', `the keychain does not answer: ${probe.reason}`, { hint: probe.hint });
  }
  // One source for both ends: the file backend needs it to unlock (from file) or to create (to file).
  const passphrase = rememberPassphrase(createPassphraseSource(ctx, flags));
  const { config, moved } = await withFileLock(ctx.paths.config, async () => {
    const config = requireConfig(ctx.paths);
    if (config.backend !== before.backend) throw usageError('CONFIG_CHANGED', 'another agentauth process changed the backend meanwhile; run migrate again');
    const open = (backend: BackendName) => openBackend({ backend, installId: config.installId, paths: ctx.paths, passphrase, env: ctx.env });
    const from = await open(config.backend);
    const entries = await readAllEntries(from, config.keystoreEntries);
    const target = await open(to);
    try {
      await target.setMany(entries);
      const differing = await findDifferingEntries(await open(to), entries);
      if (differing.length > 0) throw keystoreError('MIGRATE_VERIFY_FAILED', `the ${to} keystore did not return what was written: ${differing.join(', ')}`);
    } catch (error) {
      // Nothing changed yet: the config still names the old backend, which still holds everything.
      if (to === 'keychain') await target.deleteMany(Object.keys(entries)).catch(() => {});
      else removeFiles([ctx.paths.keystore]);
      throw error;
    }
    config.backend = to;
    writeConfig(ctx.paths, config);
    if (before.backend === 'file') removeFiles([ctx.paths.keystore, `${ctx.paths.keystore}.lock`]);
    else await from.deleteMany(Object.keys(entries));
    return { config, moved: Object.keys(entries) };
  });
  const keystore = await openBackend({ backend: to, installId: config.installId, paths: ctx.paths, passphrase, env: ctx.env });
  await recordEvents(ctx, config, [{ kind: 'keystore.migrate', actor: ctx.actor, data: { from: before.backend, to, entries: moved } }], keystore);
  const data = { from: before.backend, to, entries: moved };
  return {
    data,
    render: (style) =>
      `${style.green('Moved')} ${plural(moved.length, 'keystore entry', 'keystore entries')} from the ${before.backend} backend to the ${to} backend` +
      (to === 'file' ? `\n  ${ctx.paths.keystore}: every command that signs now needs the passphrase (AGENTAUTH_PASSPHRASE_FILE for scripts)` : ''),
  };
}
