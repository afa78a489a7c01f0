// Interactive prompts (loaded only on a terminal). Prompts write to stderr so
// stdout stays data-only, or to the controlling terminal (/dev/tty) when
// stdin carries data, as ssh and gpg do. The streams come from the caller's
// context, never from the process.
import { openSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { ReadStream, WriteStream } from 'node:tty';
import { cancel, confirm, isCancel, password } from '@clack/prompts';
import { keystoreError } from '../core/errors.js';

/** Where a prompt reads and writes: this process's stdin and stderr, or the controlling terminal. */
export interface Terminal {
  input: Readable;
  output: Writable;
  close(): void;
}

/** This process's own stdin and stderr, as the context holds them. */
export function standardTerminal(streams: { stdin: Readable; stderr: Writable }): Terminal {
  return { input: streams.stdin, output: streams.stderr, close: () => {} };
}

/** The controlling terminal, or null when there is none (cron, systemd, a detached session). */
export function openControllingTerminal(): Terminal | null {
  let readFd: number;
  let writeFd: number;
  try {
    readFd = openSync('/dev/tty', 'r');
    writeFd = openSync('/dev/tty', 'w');
  } catch {
    return null;
  }
  const input = new ReadStream(readFd);
  const output = new WriteStream(writeFd);
  return {
    input,
    output,
    close: () => {
      input.destroy();
      output.destroy();
    },
  };
}

export async function promptPassphrase(purpose: 'unlock' | 'create', terminal: Terminal, what = 'keystore passphrase'): Promise<string> {
  const io = { input: terminal.input, output: terminal.output };
  const first = await password({ message: purpose === 'create' ? `New ${what}` : capitalise(what), ...io });
  if (isCancel(first)) throw cancelled(terminal);
  if (purpose === 'create') {
    const again = await password({ message: 'Repeat the passphrase', ...io });
    if (isCancel(again)) throw cancelled(terminal);
    if (again !== first) throw keystoreError('PASSPHRASE_MISMATCH', 'the two passphrases differ');
  }
  return first;
}

/** After a wrong passphrase: one more try, saying how many are left after it. */
export async function promptPassphraseAgain(triesLeft: number, terminal: Terminal, what = 'keystore passphrase'): Promise<string> {
  const after = triesLeft === 0 ? 'last try' : `${triesLeft} more ${triesLeft === 1 ? 'try' : 'tries'} after this one`;
  const value = await password({ message: `Wrong passphrase. ${capitalise(what)} (${after})`, input: terminal.input, output: terminal.output });
  if (isCancel(value)) throw cancelled(terminal);
  return value;
}

export async function promptSecretValue(name: string, terminal: Terminal): Promise<string> {
  const value = await password({ message: `Value for secret "${name}"`, input: terminal.input, output: terminal.output });
  if (isCancel(value)) throw cancelled(terminal);
  return value;
}

export async function promptConfirm(message: string, terminal: Terminal): Promise<boolean> {
  const answer = await confirm({ message, input: terminal.input, output: terminal.output });
  if (isCancel(answer)) throw cancelled(terminal);
  return answer;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function cancelled(terminal: Terminal) {
  cancel('Cancelled.', { output: terminal.output });
  return keystoreError('CANCELLED', 'cancelled at the prompt');
}
