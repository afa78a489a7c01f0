// What every command gets: the process's arguments, environment and streams
// (built once, in src/main.ts), where files live, how to talk to the user,
// and how to obtain a passphrase. Nothing below src/main.ts reads `process`
// for these: tests and `serve` hand in their own.
import type { Readable, Writable } from 'node:stream';
import { homedir, userInfo } from 'node:os';
import { isatty } from 'node:tty';
import { isAgentAuthError, keystoreError, usageError, type AgentAuthError } from '../core/errors.js';
import { readUserSecretFile, type Owner } from '../core/fs-safe.js';
import { resolvePaths, type Env, type Paths } from '../core/paths.js';
import type { PassphraseSource } from '../core/keystore/index.js';
import { createStyle, type Style } from '../ui/style.js';

export type Output = Writable & { isTTY?: boolean };

/** The process as main.ts sees it, once: the one place that reads `process`. */
export interface ProcessContext {
  argv: readonly string[];
  env: Env;
  /** The uid this process runs as (undefined where there are none): agentauth's files must be its. */
  uid: number | undefined;
  /** A getter: touching process.stdin builds a stream (net, readline…), so only a command that reads it pays. */
  readonly stdin: Readable & { isTTY?: boolean };
  stdout: Output;
  stderr: Output;
  now(): Date;
  /** Whether each stream gets colour: a terminal, and no NO_COLOR, FORCE_COLOR=0, TERM=dumb or --no-color. */
  colour: { stdout: boolean; stderr: boolean };
  /** The exit status main.ts gives an error, for answers that carry one (serve's socket). */
  exitCodeOf(error: AgentAuthError): number;
}

export interface Context extends ProcessContext {
  paths: Paths;
  /** Colours for human stdout (render), decided for stdout. */
  style: Style;
  /** Colours for messages on stderr, decided for stderr: a piped stdout does not take them away. */
  stderrStyle: Style;
  /** `{"sub":"user:<os user>"}`: who the audit log says did a CLI action. */
  actor: { sub: string };
  /** True when a human can answer a prompt: stdin and stderr are terminals. */
  interactive: boolean;
  warn(message: string): void;
  info(message: string): void;
}

export interface KeystoreFlags {
  passphraseFile?: string;
  passphraseStdin?: boolean;
}

export function createContext(base: ProcessContext): Context {
  const { env } = base;
  const stderrStyle = createStyle(base.colour.stderr);
  let user = env['USER'] || env['LOGNAME'] || 'unknown';
  if (!env['USER'] && !env['LOGNAME']) {
    try {
      user = userInfo().username;
    } catch {
      // A uid with no passwd entry (some containers): keep "unknown".
    }
  }
  // Spread would read the stdin getter now: copy it as a getter.
  const ctx = Object.defineProperties({} as Context, Object.getOwnPropertyDescriptors(base));
  return Object.assign(ctx, {
    // HOME, or (a service started without it) the account's home folder.
    paths: resolvePaths(env, base.uid, env['HOME'] ? undefined : homedir()),
    style: createStyle(base.colour.stdout),
    stderrStyle,
    actor: { sub: `user:${user}` },
    interactive: isatty(0) && base.stderr.isTTY === true,
    warn: (message: string) => void base.stderr.write(`${stderrStyle.yellow('warning:')} ${message}\n`),
    info: (message: string) => void base.stderr.write(`${message}\n`),
  });
}

/** Where one passphrase may come from, in order; the prompt is the last resort. */
export interface PassphraseChannel {
  /** What it protects, for prompts and errors: "keystore passphrase". */
  what: string;
  /** A file named by a flag (wins over everything). */
  file?: string | undefined;
  /** The variable naming a file, then the variable holding the value. */
  fileVariable: string;
  variable: string;
  /** Read it from stdin (--passphrase-stdin). */
  stdin?: boolean | undefined;
  /** How to pass it without a terminal, for the error that says so. */
  nonInteractiveHint: string;
  /** stdin carries something else (a secret's value): prompt on the controlling terminal instead, as ssh does. */
  stdinTaken?: boolean | undefined;
}

/**
 * The file backend's passphrase, from the first source that is set, in the
 * order cli.md gives: --passphrase-file, AGENTAUTH_PASSPHRASE_FILE,
 * --passphrase-stdin, AGENTAUTH_PASSPHRASE, then a hidden prompt on a terminal.
 */
export function createPassphraseSource(ctx: Context, flags: KeystoreFlags, options: { stdinTaken?: boolean } = {}): PassphraseSource {
  return createChannelSource(ctx, {
    what: 'keystore passphrase',
    file: flags.passphraseFile,
    fileVariable: 'AGENTAUTH_PASSPHRASE_FILE',
    variable: 'AGENTAUTH_PASSPHRASE',
    stdin: flags.passphraseStdin,
    stdinTaken: options.stdinTaken,
    nonInteractiveHint: options.stdinTaken
      ? 'stdin carries the value, so pass --passphrase-file FILE, or set AGENTAUTH_PASSPHRASE_FILE or AGENTAUTH_PASSPHRASE'
      : 'pass --passphrase-file FILE or --passphrase-stdin, or set AGENTAUTH_PASSPHRASE_FILE or AGENTAUTH_PASSPHRASE',
  });
}

export function createChannelSource(ctx: Context, channel: PassphraseChannel): PassphraseSource {
  type Prompts = typeof import('../ui/prompts.js');
  let terminal: import('../ui/prompts.js').Terminal | null = null;
  const openTerminal = (prompts: Prompts) => {
    terminal ??= ctx.interactive && !channel.stdinTaken ? prompts.standardTerminal(ctx) : channel.stdinTaken ? prompts.openControllingTerminal() : null;
    return terminal;
  };
  let prompted = false;
  const source: PassphraseSource = async (purpose) => {
    const file = channel.file ?? ctx.env[channel.fileVariable];
    if (file) return readPassphraseFile(file, channel.file ? `--${flagName(channel)}` : channel.fileVariable, ctx.paths.owner);
    if (channel.stdin) return stripNewline(await readAllStdin(ctx.stdin));
    const fromEnv = ctx.env[channel.variable];
    if (fromEnv) return fromEnv;
    const prompts = ctx.interactive || channel.stdinTaken ? await import('../ui/prompts.js') : null;
    const where = prompts ? openTerminal(prompts) : null;
    if (!prompts || !where) {
      throw keystoreError('PASSPHRASE_REQUIRED', `the ${channel.what} is needed, and there is no terminal to ask on`, { hint: channel.nonInteractiveHint });
    }
    prompted = true;
    try {
      return await prompts.promptPassphrase(purpose, where, channel.what);
    } finally {
      if (channel.stdinTaken) closeTerminal();
    }
  };
  const closeTerminal = () => {
    terminal?.close();
    terminal = null;
  };
  source.retry = async (triesLeft) => {
    if (!prompted) return undefined;
    const prompts = await import('../ui/prompts.js');
    const where = openTerminal(prompts);
    if (!where) return undefined;
    try {
      return await prompts.promptPassphraseAgain(triesLeft, where, channel.what);
    } finally {
      if (channel.stdinTaken) closeTerminal();
    }
  };
  return source;
}

/** Asks once, however often the keystore is opened (a migration opens both ends; a restore reads back what it wrote). */
export function rememberPassphrase(source: PassphraseSource): PassphraseSource {
  let remembered: Promise<string> | null = null;
  const wrapped: PassphraseSource = (purpose) => (remembered ??= source(purpose));
  if (source.retry) {
    const retry = source.retry;
    wrapped.retry = async (triesLeft) => {
      const again = await retry(triesLeft);
      if (again !== undefined) remembered = Promise.resolve(again);
      return again;
    };
  }
  return wrapped;
}

function flagName(channel: PassphraseChannel): string {
  return channel.fileVariable === 'AGENTAUTH_PASSPHRASE_FILE' ? 'passphrase-file' : channel.fileVariable.replace(/^AGENTAUTH_/, '').toLowerCase().replace(/_/g, '-');
}

/** Like the keystore, the passphrase file must be private: refused (with the chmod) when others can read it. */
function readPassphraseFile(file: string, from: string, owner: Owner): string {
  let raw: Buffer | null;
  try {
    raw = readUserSecretFile(file, owner);
  } catch (error) {
    if (isAgentAuthError(error)) throw error;
    throw keystoreError('PASSPHRASE_FILE_UNREADABLE', `cannot read the passphrase file ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, {
      hint: `check the path given to ${from}`,
    });
  }
  if (raw === null) {
    throw keystoreError('PASSPHRASE_FILE_UNREADABLE', `cannot read the passphrase file ${file} (ENOENT)`, { hint: `check the path given to ${from}` });
  }
  return stripNewline(raw.toString('utf8'));
}

function stripNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

export async function readAllStdin(stdin: Readable): Promise<string> {
  return (await readStdinBytes(stdin)).toString('utf8');
}

/** stdin as bytes, exactly as they came (secret values are stored byte for byte). */
export async function readStdinBytes(stdin: Readable): Promise<Buffer> {
  if (isatty(0)) {
    throw usageError('STDIN_IS_TERMINAL', 'expected input on stdin, but stdin is a terminal', { hint: 'pipe the value in, e.g. printf %s "$VALUE" | agentauth …' });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
