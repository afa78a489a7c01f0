// `agentauth restore FILE [--backend keychain|file] [--force]`: rebuilds an
// install from a backup, on either backend. The install keeps its id, issuer,
// keys and log origin, so tokens minted before still verify, `run` still
// decrypts the secrets, and the audit log continues: a copied log chains on;
// without one, a new log starts (log.init, same origin and key) whose
// `backup.restore` event names the backup and the `backup.create` event of
// the old log.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { inspectBackup, openBackup, type BackupPayload } from '../core/backup.js';
import { readConfig, writeConfig, type BackendName, type Config } from '../core/config.js';
import { AgentAuthError, isAgentAuthError, keystoreError, usageError } from '../core/errors.js';
import { readUserFile } from '../core/user-file.js';
import { ensurePrivateDir, writeFileAtomic } from '../core/fs-safe.js';
import { listInstallFiles, readLogOrigin, removeFiles } from '../core/install-files.js';
import { findDifferingEntries, openKeystore as openBackend, type Keystore, type PassphraseSource } from '../core/keystore/index.js';
import { PASSPHRASE_TRIES } from '../core/keystore/file.js';
import { withFileLock } from '../core/lock.js';
import { plural } from '../ui/plural.js';
import { recordEvents } from './audit-events.js';
import { createBackupPassphraseSource, type BackupPassphraseFlags } from './backup.js';
import { createPassphraseSource, rememberPassphrase, type Context, type KeystoreFlags } from './context.js';
import { removeInstall } from './reset.js';
import type { CommandResult } from './result.js';

interface RestoreFlags extends KeystoreFlags, BackupPassphraseFlags {
  backend?: 'keychain' | 'file';
  force?: boolean;
}

export async function restoreCommand(ctx: Context, file: string, flags: RestoreFlags): Promise<CommandResult> {
  const path = resolve(file);
  const bytes = readBackupFile(path);
  const jwe = inspectBackup(bytes.toString('utf8'), path);
  const existing = findExistingInstall(ctx);
  if (existing && !flags.force) {
    throw usageError('ALREADY_INITIALISED', `${ctx.paths.configDir} already holds an agentauth install (${existing})`, {
      hint: 'restore into a fresh home (AGENTAUTH_HOME=DIR), or pass --force to replace this install (its keys are deleted; the audit log is kept)',
    });
  }
  const payload = await unlockBackup(jwe, createBackupPassphraseSource(ctx, flags), path);
  const backend = await chooseBackend(ctx, flags, payload);
  const logOrigin = readLogOrigin(ctx.paths.auditLog);
  if (logOrigin !== null && logOrigin !== payload.config.log.origin && !existing) {
    throw usageError('AUDIT_ORIGIN_MISMATCH', `the audit log ${ctx.paths.auditLog} belongs to ${logOrigin}, not to the install in the backup (${payload.config.log.origin})`, {
      hint: `move it aside first (mv '${ctx.paths.auditLog}' '${ctx.paths.auditLog}.old'); to continue the backed-up install's log, copy that log here instead`,
    });
  }
  const current = existing ? readConfigQuietly(ctx) : null;
  await refuseLiveKeychainInstall(ctx, payload, backend, current);
  if (existing) await removeInstall(ctx, { purgeLog: false, flags, config: current, keepLogFor: payload.config.log.origin });

  const config: Config = { ...payload.config, backend };
  for (const dir of [ctx.paths.configDir, ctx.paths.dataDir, ctx.paths.stateDir]) ensurePrivateDir(dir);
  const keystore = await withFileLock(ctx.paths.config, () => rebuild(ctx, config, payload, flags));
  const continued = logOrigin === config.log.origin;
  const result = await recordEvents(
    ctx,
    config,
    [
      {
        kind: 'backup.restore',
        actor: ctx.actor,
        data: { backup_id: payload.id, backup_created: payload.createdAt, from_backend: payload.backend, backend, log_continued: continued, entries: Object.keys(payload.keystore).length },
      },
    ],
    keystore,
  );
  const data = {
    installId: config.installId,
    issuer: config.issuer,
    backend,
    fromBackend: payload.backend,
    backupId: payload.id,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    entries: Object.keys(payload.keystore),
    secrets: Object.keys(payload.vault?.values ?? {}).length,
    auditLog: { path: ctx.paths.auditLog, continued, events: result.size },
  };
  return {
    data,
    render: (style) =>
      [
        `${style.green('Restored')} install ${config.installId} (${config.issuer}) on the ${backend} backend from ${path}`,
        `  ${plural(data.entries.length, 'keystore entry', 'keystore entries')}, ${plural(Object.keys(config.agents).length, 'agent')}, ${plural(data.secrets, 'secret value')}`,
        continued
          ? `  The audit log continues: ${ctx.paths.auditLog} (${plural(result.size, 'event')})`
          : `  A new audit log was started at ${ctx.paths.auditLog}, same origin and key; the old log, copied elsewhere, still verifies on its own`,
      ].join('\n'),
  };
}

function readBackupFile(path: string): Buffer {
  return readUserFile(path, 'restore FILE', { hint: 'make one with: agentauth backup --out FILE' });
}

/** A description of what is already here, or null for a fresh home. A lone audit log does not count: restoring continues it. */
function findExistingInstall(ctx: Context): string | null {
  const config = readConfigQuietly(ctx);
  if (config) return `install ${config.installId}, ${config.backend} backend`;
  const files = listInstallFiles(ctx.paths);
  return files.length > 0 ? `files of an install: ${files.join(', ')}` : null;
}

function readConfigQuietly(ctx: Context): Config | null {
  try {
    return readConfig(ctx.paths);
  } catch (error) {
    if (isAgentAuthError(error) && error.code === 'CORRUPT_CONFIG') return null;
    throw error;
  }
}

/**
 * The keychain is shared by every home of this user: entries under the
 * backup's install id that this home does not own belong to the same install
 * still living elsewhere (another AGENTAUTH_HOME). Restoring over them would
 * overwrite or delete its keys (a key rotated since the backup, say).
 */
async function refuseLiveKeychainInstall(ctx: Context, payload: BackupPayload, backend: BackendName, current: Config | null): Promise<void> {
  if (backend !== 'keychain' || current?.installId === payload.config.installId) return;
  const keychain = await openBackend({ backend, installId: payload.config.installId, paths: ctx.paths, passphrase: async () => '', env: ctx.env });
  const live = await keychain.listNames();
  if (live.length > 0) {
    throw usageError('INSTALL_STILL_IN_KEYCHAIN', `the keychain already holds ${plural(live.length, 'entry', 'entries')} of install ${payload.config.installId}: it is still installed on this machine`, {
      hint: 'restore onto an encrypted file instead (--backend file), or remove that install first (agentauth reset, with its AGENTAUTH_HOME)',
    });
  }
}

/** Up to three tries at a prompt, as for the keystore; one for a file or a variable. */
async function unlockBackup(jwe: string, source: PassphraseSource, file: string): Promise<BackupPayload> {
  let passphrase = await source('unlock');
  for (let triesLeft = PASSPHRASE_TRIES - 1; ; triesLeft -= 1) {
    try {
      return await openBackup(jwe, passphrase, file);
    } catch (error) {
      if ((error as AgentAuthError).code !== 'WRONG_BACKUP_PASSPHRASE' || triesLeft === 0 || !source.retry) throw error;
      const again = await source.retry(triesLeft - 1);
      if (again === undefined) throw error;
      passphrase = again;
    }
  }
}

async function chooseBackend(ctx: Context, flags: RestoreFlags, payload: BackupPayload): Promise<BackendName> {
  const requested = flags.backend ?? ctx.env['AGENTAUTH_BACKEND'] ?? (payload.backend === 'memory' ? 'file' : payload.backend);
  if (requested !== 'keychain' && requested !== 'file') throw usageError('BAD_BACKEND', `unknown backend ${JSON.stringify(requested)}: use keychain or file`);
  if (requested === 'keychain') {
    const { probeKeychain } = await import('../core/keystore/keychain.js');
    const probe = probeKeychain(ctx.env);
    if (!probe.ok) {
      throw keystoreError('KEYCHAIN_UNAVAILABLE', `the keychain does not answer: ${probe.reason}`, {
        hint: flags.backend ? probe.hint : `the backup came from a keychain install; to restore onto an encrypted file instead: agentauth restore FILE --backend file`,
      });
    }
  }
  return requested;
}

/**
 * Writes the keystore, vault and CA certificate, reads the keystore back,
 * and writes the config last: until then the home is not an install, and a
 * failure removes what was written.
 */
async function rebuild(ctx: Context, config: Config, payload: BackupPayload, flags: RestoreFlags): Promise<Keystore> {
  const passphrase = rememberPassphrase(createPassphraseSource(ctx, flags));
  const open = () => openBackend({ backend: config.backend, installId: config.installId, paths: ctx.paths, passphrase, env: ctx.env });
  const keystore = await open();
  try {
    // Left over from an earlier install with the same id (a second restore): not part of this one.
    const stale = (await keystore.listNames()).filter((name) => !(name in payload.keystore));
    if (stale.length) await keystore.deleteMany(stale);
    await keystore.setMany(payload.keystore);
    const differing = await findDifferingEntries(await open(), payload.keystore);
    if (differing.length > 0) throw keystoreError('RESTORE_VERIFY_FAILED', `the ${config.backend} keystore did not return what was written: ${differing.join(', ')}`);
    if (payload.vault) writeFileAtomic(ctx.paths.vault, `${JSON.stringify(payload.vault, null, 2)}\n`);
    if (payload.caCert !== null) writeFileAtomic(ctx.paths.caCert, payload.caCert, { mode: 0o644 });
    writeConfig(ctx.paths, config);
    return keystore;
  } catch (error) {
    if (config.backend === 'keychain') await keystore.deleteMany(Object.keys(payload.keystore)).catch(() => {});
    removeFiles([ctx.paths.keystore, ctx.paths.vault, ctx.paths.caCert].filter((file) => file !== ctx.paths.config));
    throw error;
  }
}
