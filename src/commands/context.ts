// What every command gets: its environment, where files live, how to talk to
// the user, and how to obtain a passphrase. Built once per process in cli.ts.
import { userInfo } from 'node:os';
import { isatty } from 'node:tty';
import { isAgentAuthError, keystoreError, usageError } from '../core/errors.js';
import { readUserSecretFile } from '../core/fs-safe.js';
import { resolvePaths, type Env, type Paths } from '../core/paths.js';
import type { PassphraseSource } from '../core/keystore/index.js';
import { createStyle, type Style } from '../ui/style.js';

export interface Io {
  stdout: NodeJS.WriteStream | { write(text: string): unknown; isTTY?: boolean };
  stderr: NodeJS.WriteStream | { write(text: string): unknown; isTTY?: boolean };
  stdin: NodeJS.ReadStream;
}

export interface Context {
  env: Env;
  io: Io;
  paths: Paths;
  /** Colours for stderr messages and human stdout, already gated on TTY/NO_COLOR. */
  style: Style;
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

export function createContext(env: Env, io: Io, colorFlag: boolean): Context {
  const colour = colorFlag && !env['NO_COLOR'] && env['TERM'] !== 'dumb' && io.stderr.isTTY === true;
  const style = createStyle(colour);
  let user = env['USER'] || env['LOGNAME'] || 'unknown';
  if (!env['USER'] && !env['LOGNAME']) {
    try {
      user = userInfo().username;
    } catch {
      // A uid with no passwd entry (some containers): keep "unknown".
    }
  }
  return {
    env,
    io,
    paths: resolvePaths(env),
    style,
    actor: { sub: `user:${user}` },
    interactive: isatty(0) && io.stderr.isTTY === true,
    warn: (message) => io.stderr.write(`${style.yellow('warning:')} ${message}\n`),
    info: (message) => io.stderr.write(`${message}\n`),
  };
}

/**
 * The file backend's passphrase, from the first source that is set, in the
 * order cli.md gives: --passphrase-file, AGENTAUTH_PASSPHRASE_FILE,
 * --passphrase-stdin, AGENTAUTH_PASSPHRASE, then a hidden prompt on a terminal.
 */
export function createPassphraseSource(ctx: Context, flags: KeystoreFlags): PassphraseSource {
  return async (purpose) => {
    const file = flags.passphraseFile ?? ctx.env['AGENTAUTH_PASSPHRASE_FILE'];
    if (file) return readPassphraseFile(file);
    if (flags.passphraseStdin) return stripNewline(await readAllStdin(ctx.io.stdin));
    const fromEnv = ctx.env['AGENTAUTH_PASSPHRASE'];
    if (fromEnv) return fromEnv;
    if (!ctx.interactive) {
      throw keystoreError('PASSPHRASE_REQUIRED', 'the keystore passphrase is needed, and there is no terminal to ask on', {
        hint: 'pass --passphrase-file FILE or --passphrase-stdin, or set AGENTAUTH_PASSPHRASE_FILE or AGENTAUTH_PASSPHRASE',
      });
    }
    const { promptPassphrase } = await import('../ui/prompts.js');
    return promptPassphrase(purpose);
  };
}

/** Like the keystore, the passphrase file must be private: refused (with the chmod) when others can read it. */
function readPassphraseFile(file: string): string {
  let raw: Buffer | null;
  try {
    raw = readUserSecretFile(file);
  } catch (error) {
    if (isAgentAuthError(error)) throw error;
    throw keystoreError('PASSPHRASE_FILE_UNREADABLE', `cannot read the passphrase file ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, {
      hint: 'check the path given to --passphrase-file or AGENTAUTH_PASSPHRASE_FILE',
    });
  }
  if (raw === null) {
    throw keystoreError('PASSPHRASE_FILE_UNREADABLE', `cannot read the passphrase file ${file} (ENOENT)`, { hint: 'check the path given to --passphrase-file or AGENTAUTH_PASSPHRASE_FILE' });
  }
  return stripNewline(raw.toString('utf8'));
}

function stripNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

export async function readAllStdin(stdin: NodeJS.ReadStream): Promise<string> {
  return (await readStdinBytes(stdin)).toString('utf8');
}

/** stdin as bytes, exactly as they came (secret values are stored byte for byte). */
export async function readStdinBytes(stdin: NodeJS.ReadStream): Promise<Buffer> {
  if (isatty(0)) {
    throw usageError('STDIN_IS_TERMINAL', 'expected input on stdin, but stdin is a terminal', { hint: 'pipe the value in, e.g. printf %s "$VALUE" | agentauth …' });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
