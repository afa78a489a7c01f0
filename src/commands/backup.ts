// `agentauth backup --out FILE`: the whole install in one encrypted file.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { newBackupId, sealBackup, type BackupPayload } from '../core/backup.js';
import { usageError } from '../core/errors.js';
import { existsNoFollow, isMissingFileError, writeFileAtomic } from '../core/fs-safe.js';
import { readAllEntries } from '../core/keystore/index.js';
import { findPassphraseWeakness, weakPassphraseError } from '../core/passphrase-rule.js';
import { readVault } from '../core/vault.js';
import { plural } from '../ui/plural.js';
import { recordEvents } from './audit-events.js';
import { createChannelSource, type Context, type KeystoreFlags } from './context.js';
import type { CommandResult } from './result.js';
import { loadConfig, openKeystore } from './state.js';
import type { PassphraseSource } from '../core/keystore/index.js';

export interface BackupPassphraseFlags {
  backupPassphraseFile?: string;
}

interface BackupFlags extends KeystoreFlags, BackupPassphraseFlags {
  out: string;
  force?: boolean;
}

/** The backup's own passphrase: never the keystore's sources, so the two cannot be mixed up. */
export function createBackupPassphraseSource(ctx: Context, flags: BackupPassphraseFlags): PassphraseSource {
  return createChannelSource(ctx, {
    what: 'backup passphrase',
    file: flags.backupPassphraseFile,
    fileVariable: 'AGENTAUTH_BACKUP_PASSPHRASE_FILE',
    variable: 'AGENTAUTH_BACKUP_PASSPHRASE',
    nonInteractiveHint: 'pass --backup-passphrase-file FILE, or set AGENTAUTH_BACKUP_PASSPHRASE_FILE or AGENTAUTH_BACKUP_PASSPHRASE',
  });
}

export async function backupCommand(ctx: Context, flags: BackupFlags): Promise<CommandResult> {
  const out = resolve(flags.out);
  if (!flags.force && existsNoFollow(out)) {
    throw usageError('BACKUP_EXISTS', `${out} already exists`, { hint: 'choose another --out, or pass --force to replace it' });
  }
  const config = loadConfig(ctx);
  const keystore = await openKeystore(ctx, config, flags);
  const entries = await readAllEntries(keystore, config.keystoreEntries);
  const passphrase = await createBackupPassphraseSource(ctx, flags)('create');
  const weakness = findPassphraseWeakness(passphrase);
  if (weakness) throw weakPassphraseError('backup passphrase', weakness);
  const payload: BackupPayload = {
    v: 1,
    id: newBackupId(),
    createdAt: new Date().toISOString(),
    backend: config.backend,
    config,
    keystore: entries,
    vault: readVault(ctx.paths.vault, ctx.paths.owner),
    caCert: readOptionalText(ctx.paths.caCert),
  };
  const jwe = await sealBackup(payload, passphrase);
  if (!flags.force && existsNoFollow(out)) throw usageError('BACKUP_EXISTS', `${out} already exists`, { hint: 'choose another --out, or pass --force to replace it' });
  writeFileAtomic(out, `${jwe}\n`);
  const names = Object.keys(entries);
  const secrets = Object.keys(payload.vault?.values ?? {}).length;
  await recordEvents(ctx, config, [{ kind: 'backup.create', actor: ctx.actor, data: { backup_id: payload.id, file: out, entries: names, secrets } }], keystore);
  const data = {
    file: out,
    backupId: payload.id,
    sha256: createHash('sha256').update(`${jwe}\n`).digest('hex'),
    backend: config.backend,
    entries: names,
    secrets,
    auditLog: ctx.paths.auditLog,
  };
  return {
    data,
    render: (style) =>
      [
        `${style.green('Backup written')} to ${out} (mode 600)`,
        `  ${plural(names.length, 'keystore entry', 'keystore entries')}, the config, ${plural(secrets, 'secret value')} and the gateway CA, under the backup passphrase`,
        `  Keep it apart from its passphrase. The audit log is not in it: copy ${ctx.paths.auditLog} along`,
        `  to keep one chain. Restore with: agentauth restore ${out} [--backend file|keychain]`,
      ].join('\n'),
  };
}

function readOptionalText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if (isMissingFileError(error)) return null;
    throw error;
  }
}
