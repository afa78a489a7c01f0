// The plumbing src/cli.ts hands to the per-area declaration files (cli-*.ts),
// in a file of its own so that they need not import cli.ts back.
import type { Command } from 'commander';
import type { Context } from './commands/context.js';
import type { CommandResult } from './commands/result.js';

export interface CliKit {
  /** Wraps an action: builds the context, runs the command, prints its result. */
  act<A extends unknown[]>(body: (ctx: Context, ...args: A) => Promise<CommandResult>): (...args: A) => Promise<void>;
  /** Adds --passphrase-file / --passphrase-stdin to a command that opens the keystore. */
  withKeystoreOptions(command: Command): Command;
  /** Adds --json. */
  withJson(command: Command): Command;
}
