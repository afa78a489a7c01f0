// `agentauth backup | restore | passphrase change | migrate | reset`: the
// lifecycle of an install that runs for years and moves between machines.
import { Option, type Command } from 'commander';
import type { CliKit } from './cli-kit.js';

export function declareLifecycleCommands(program: Command, kit: CliKit): void {
  const { act, withJson, withKeystoreOptions } = kit;
  const backupPassphrase = '--backup-passphrase-file <file>';
  const backupPassphraseHelp = 'read the backup passphrase from FILE (also: AGENTAUTH_BACKUP_PASSPHRASE_FILE, AGENTAUTH_BACKUP_PASSPHRASE; else a prompt)';

  withJson(
    withKeystoreOptions(
      program
        .command('backup')
        .description('write the whole install (keys, config, vault, CA) to one file encrypted under a backup passphrase')
        .requiredOption('--out <file>', 'where to write the backup (mode 600)')
        .option('--force', 'replace FILE if it exists')
        .option(backupPassphrase, backupPassphraseHelp)
        .addHelpText(
          'after',
          `
The backup passphrase is asked for separately from the keystore passphrase (at
least 12 characters). The audit log is not in the backup: copy it along.

Example:
  agentauth backup --out /media/usb/agentauth.backup
  AGENTAUTH_HOME=~/new agentauth restore /media/usb/agentauth.backup --backend file`,
        ),
    ),
  ).action(act(async (ctx, opts) => (await import('./commands/backup.js')).backupCommand(ctx, opts as never)));

  withJson(
    withKeystoreOptions(
      program
        .command('restore')
        .argument('<file>', 'a backup made by agentauth backup')
        .description('rebuild an install from a backup, on either backend; the audit log continues')
        .addOption(new Option('--backend <backend>', "where the keys go (default: the backup's backend)").choices(['keychain', 'file']))
        .option('--force', 'replace the install already here (its keys are deleted; the audit log is kept)')
        .option(backupPassphrase, backupPassphraseHelp)
        .addHelpText(
          'after',
          `
Same install id, issuer, keys and log key: tokens minted before still verify,
run still decrypts the secrets, and an audit log copied beside it continues.
On the file backend the new keystore's passphrase comes from the usual sources
(--passphrase-file, AGENTAUTH_PASSPHRASE_FILE, …).`,
        ),
    ),
  ).action(act(async (ctx, file, opts) => (await import('./commands/restore.js')).restoreCommand(ctx, file as string, opts as never)));

  const passphrase = program.command('passphrase').description("the file backend's passphrase");
  withJson(
    withKeystoreOptions(
      passphrase
        .command('change')
        .description('re-encrypt the keystore under a new passphrase (the current one is checked first)')
        .option('--new-passphrase-file <file>', 'read the new passphrase from FILE (also: AGENTAUTH_NEW_PASSPHRASE_FILE, AGENTAUTH_NEW_PASSPHRASE; else a prompt, twice)'),
    ),
  ).action(act(async (ctx, opts) => (await import('./commands/passphrase.js')).changePassphraseCommand(ctx, opts as never)));

  withJson(
    withKeystoreOptions(
      program
        .command('migrate')
        .description('move every key to the other backend; the old one is emptied only after the new one is verified')
        .addOption(new Option('--to <backend>', 'the backend to move to').choices(['file', 'keychain']).makeOptionMandatory()),
    ),
  ).action(act(async (ctx, opts) => (await import('./commands/migrate.js')).migrateCommand(ctx, opts as never)));

  withJson(
    withKeystoreOptions(
      program
        .command('reset')
        .description('remove every keychain entry and file of this install (the audit log is kept and set aside)')
        .option('-y, --yes', 'do not ask (required off a terminal)')
        .option('--purge-log', 'delete the audit log too'),
    ),
  ).action(act(async (ctx, opts) => (await import('./commands/reset.js')).resetCommand(ctx, opts as never)));
}
