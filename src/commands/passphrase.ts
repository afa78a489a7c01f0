// `agentauth passphrase change`: re-encrypts the file keystore under a new
// passphrase, atomically (a reader sees the old file or the new one), after
// the current passphrase has unlocked it.
import { requireConfig } from '../core/config.js';
import { usageError } from '../core/errors.js';
import { createFileKeystore } from '../core/keystore/file.js';
import { recordEvents } from './audit-events.js';
import { createChannelSource, createPassphraseSource, type Context, type KeystoreFlags } from './context.js';
import type { CommandResult } from './result.js';

interface ChangeFlags extends KeystoreFlags {
  newPassphraseFile?: string;
}

export async function changePassphraseCommand(ctx: Context, flags: ChangeFlags): Promise<CommandResult> {
  const config = requireConfig(ctx.paths);
  if (config.backend !== 'file') {
    throw usageError('NO_PASSPHRASE', `this install keeps its keys in the ${config.backend}, which has no agentauth passphrase`, {
      hint: "the OS keychain is protected by your login; to use a passphrase instead: agentauth migrate --to file",
    });
  }
  const keystore = createFileKeystore({ file: ctx.paths.keystore, owner: ctx.paths.owner, passphrase: createPassphraseSource(ctx, flags) });
  // Unlocks with the current passphrase (three tries at a prompt) before the new one is asked for.
  await keystore.listNames();
  const next = await createChannelSource(ctx, {
    what: 'new keystore passphrase',
    file: flags.newPassphraseFile,
    fileVariable: 'AGENTAUTH_NEW_PASSPHRASE_FILE',
    variable: 'AGENTAUTH_NEW_PASSPHRASE',
    nonInteractiveHint: 'pass --new-passphrase-file FILE, or set AGENTAUTH_NEW_PASSPHRASE_FILE or AGENTAUTH_NEW_PASSPHRASE',
  })('create');
  await keystore.changePassphrase(next);
  await recordEvents(ctx, config, [{ kind: 'keystore.passphrase', actor: ctx.actor, data: { backend: 'file' } }], keystore);
  const stale = flags.passphraseFile ?? ctx.env['AGENTAUTH_PASSPHRASE_FILE'];
  const data = { changed: true, keystore: ctx.paths.keystore };
  return {
    data,
    render: (style) =>
      `${style.green('Changed')} the keystore passphrase of ${ctx.paths.keystore}` +
      (stale ? `\n  ${stale} still holds the old one: put the new passphrase there (or point AGENTAUTH_PASSPHRASE_FILE at the new file)` : ''),
  };
}
