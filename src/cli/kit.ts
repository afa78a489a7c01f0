// The plumbing src/cli/program.ts hands to the per-area declaration files,
// in a file of its own so that they need not import program.ts back.
import type { Context } from '../commands/context.js';
import type { CommandResult } from '../commands/result.js';
import type { Command, OptionValues } from './commander.js';

export interface CliKit {
  /**
   * Wraps an action: builds the context, runs the command, prints its result.
   * The body gets what commander passes, typed from the declaration: the
   * operands, the options, then the command itself.
   */
  act<A extends unknown[]>(body: (ctx: Context, ...args: A) => Promise<CommandResult>): (...args: A) => Promise<void>;
  withKeystoreOptions: typeof withKeystoreOptions;
  withJson: typeof withJson;
}

/** Adds --passphrase-file / --passphrase-stdin to a command that opens the keystore. */
export function withKeystoreOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(command: Command<A, O, G>) {
  return command
    .option('--passphrase-file <file>', 'read the file-backend passphrase from FILE (also: AGENTAUTH_PASSPHRASE_FILE)')
    .option('--passphrase-stdin', 'read the file-backend passphrase from stdin');
}

/** Adds --json. */
export function withJson<A extends unknown[], O extends OptionValues, G extends OptionValues>(command: Command<A, O, G>) {
  return command.option('--json', 'print one JSON document on stdout');
}

/** Commander's argParser for a repeatable option: each use adds one value. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
