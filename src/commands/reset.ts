// `agentauth reset`: removes every keychain entry and file of the install.
// The audit log is kept (set aside under the install's id, with a last
// `install.reset` event and, when the log key is at hand, a checkpoint over
// it) unless --purge-log.
import { existsSync } from 'node:fs';
import { readConfig, type Config } from '../core/config.js';
import { isAgentAuthError, usageError } from '../core/errors.js';
import { listInstallFiles, listLogFiles, removeEmptyFolders, removeFiles, setLogAside } from '../core/install-files.js';
import { entryName, requireEntry, type Keystore } from '../core/keystore/index.js';
import { plural } from '../ui/plural.js';
import type { Context, KeystoreFlags } from './context.js';
import type { CommandResult } from './result.js';
import { openKeystore } from './state.js';

interface ResetFlags extends KeystoreFlags {
  yes?: boolean;
  purgeLog?: boolean;
}

export interface RemovedInstall {
  installId: string | null;
  backend: string | null;
  keychainEntries: string[];
  files: string[];
  log: { action: 'kept' | 'set-aside' | 'deleted' | 'none'; path: string | null; vkey: string | null; checkpoint: boolean };
}

export async function resetCommand(ctx: Context, flags: ResetFlags): Promise<CommandResult> {
  const config = readConfigIfReadable(ctx);
  const files = listInstallFiles(ctx.paths);
  const logFiles = listLogFiles(ctx.paths);
  if (!config && files.length === 0 && (logFiles.length === 0 || !flags.purgeLog)) {
    const data = { removed: false };
    return { data, render: () => `Nothing to reset: no agentauth install at ${ctx.paths.config}` };
  }
  const logNote = flags.purgeLog ? 'and the audit log' : '(the audit log is kept)';
  if (!flags.yes) {
    if (!ctx.interactive) {
      throw usageError('CONFIRMATION_REQUIRED', `reset deletes this install's keys, secrets and files ${logNote}, and there is no terminal to confirm on`, {
        hint: `to go ahead, pass --yes: agentauth reset --yes${flags.purgeLog ? ' --purge-log' : ''}`,
      });
    }
    const { promptConfirm, standardTerminal } = await import('../ui/prompts.js');
    const what = config ? `install ${config.installId} (${config.backend} backend, ${plural(Object.keys(config.agents).length, 'agent')}, ${plural(Object.keys(config.secrets).length, 'secret')})` : 'the files of a broken install';
    if (!(await promptConfirm(`Delete ${what}, its keys and files ${logNote}? There is no undo without a backup.`, standardTerminal(ctx)))) {
      throw usageError('NOT_CONFIRMED', 'reset cancelled: nothing was removed');
    }
  }
  const removed = await removeInstall(ctx, { purgeLog: flags.purgeLog === true, flags, config });
  const data = { removed: true, ...removed };
  return { data, render: (style) => renderReset(removed, style.green('Reset:')) };
}

function readConfigIfReadable(ctx: Context): Config | null {
  try {
    return readConfig(ctx.paths);
  } catch (error) {
    // A damaged config is one more reason to reset: its keychain entries cannot be named, its files can.
    if (isAgentAuthError(error) && error.code === 'CORRUPT_CONFIG') {
      ctx.warn(`${error.message}; its keychain entries (if any) cannot be found, only its files are removed`);
      return null;
    }
    throw error;
  }
}

/**
 * Removes the install: keychain entries first (the keychain must answer, or
 * nothing is removed), then the files, the config last. `keepLogFor`: the
 * origin of a log that stays in place because the next install continues it
 * (restore --force of the same install).
 */
export async function removeInstall(ctx: Context, options: { purgeLog: boolean; flags: KeystoreFlags; config: Config | null; keepLogFor?: string }): Promise<RemovedInstall> {
  const { config } = options;
  let keystore: Keystore | null = null;
  let keychainEntries: string[] = [];
  if (config?.backend === 'keychain') {
    keystore = await openKeystore(ctx, config, options.flags);
    keychainEntries = [...new Set([...config.keystoreEntries, ...(await keystore.listNames())])].sort();
  } else if (config?.backend === 'file' && passphraseAtHand(ctx, options.flags)) {
    keystore = await openKeystore(ctx, config, options.flags);
  }

  const log: RemovedInstall['log'] = { action: 'none', path: null, vkey: config?.log.vkey ?? null, checkpoint: false };
  if (existsSync(ctx.paths.auditLog)) {
    if (options.purgeLog) {
      removeFiles(listLogFiles(ctx.paths));
      log.action = 'deleted';
    } else {
      if (config) log.checkpoint = await recordReset(ctx, config, keystore);
      if (config && options.keepLogFor === config.log.origin) {
        log.action = 'kept';
        log.path = ctx.paths.auditLog;
      } else {
        log.action = 'set-aside';
        log.path = setLogAside(ctx.paths, config?.installId ?? 'previous');
      }
    }
  }
  if (keystore && config?.backend === 'keychain') await keystore.deleteMany(keychainEntries);
  // The config goes last: until then the install can still be named and found.
  const files = listInstallFiles(ctx.paths).sort((a, b) => Number(a === ctx.paths.config) - Number(b === ctx.paths.config));
  removeFiles(files);
  removeEmptyFolders(ctx.paths);
  return { installId: config?.installId ?? null, backend: config?.backend ?? null, keychainEntries, files, log };
}

/** A file backend's passphrase given without a prompt: reset asks for none just to sign a last checkpoint. */
function passphraseAtHand(ctx: Context, flags: KeystoreFlags): boolean {
  return Boolean(flags.passphraseFile || flags.passphraseStdin || ctx.env['AGENTAUTH_PASSPHRASE_FILE'] || ctx.env['AGENTAUTH_PASSPHRASE']);
}

/** The log's last event of this install, and a checkpoint over it when the log key can be read. Returns whether one was signed. */
async function recordReset(ctx: Context, config: Config, keystore: Keystore | null): Promise<boolean> {
  const [{ appendEvents }, { loadLogSigner }] = await Promise.all([import('../core/audit/writer.js'), import('../core/audit/log-key.js')]);
  try {
    const result = await appendEvents(ctx.paths.auditLog, [{ kind: 'install.reset', actor: ctx.actor, data: { install_id: config.installId, backend: config.backend } }], {
      origin: config.log.origin,
      vkey: config.log.vkey,
      recoverActor: ctx.actor,
      forceCheckpoint: true,
      signer: keystore ? async () => loadLogSigner(await requireEntry(keystore, entryName.logKey), config.log.origin) : undefined,
    });
    return result.checkpoint !== undefined;
  } catch (error) {
    // The reset goes on: a log that cannot take the event is kept as it is.
    ctx.warn(`could not record the reset in the audit log (${(error as Error).message})`);
    return false;
  }
}

export function renderReset(removed: RemovedInstall, title: string): string {
  const lines = [
    `${title} removed ${plural(removed.keychainEntries.length, 'keychain entry', 'keychain entries')} and ${plural(removed.files.length, 'file')}${removed.installId ? ` of install ${removed.installId}` : ''}`,
    ...removed.files.map((file) => `  ${file}`),
  ];
  if (removed.log.action === 'deleted') lines.push('The audit log was deleted (--purge-log).');
  if (removed.log.action === 'set-aside' && removed.log.path) {
    lines.push(`The audit log is kept as ${removed.log.path}${removed.log.checkpoint ? ', with a last signed checkpoint' : ' (its last events are not covered by a checkpoint: the log key was not at hand)'}.`);
    if (removed.log.vkey) lines.push(`Check it later with: agentauth audit verify '${removed.log.path}' --vkey '${removed.log.vkey}'`);
  }
  return lines.join('\n');
}
