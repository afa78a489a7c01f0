// Spawns the built CLI (bin/agentauth.js → dist/) in a fresh temporary home
// with a clean environment, the way a user or a shell script would run it.
import { execa, type Options } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(REPO_ROOT, 'bin/agentauth.js');
export const PASSPHRASE = 'correct horse battery staple';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TempHome {
  dir: string;
  /** AGENTAUTH_HOME inside dir. */
  home: string;
  env: Record<string, string>;
  passphraseFile: string;
  run(args: string[], options?: RunOptions): Promise<CliResult>;
  cleanup(): void;
}

export interface RunOptions {
  input?: string | Uint8Array;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/** A clean environment: no inherited AGENTAUTH_*, no proxies, no colour. */
export function cleanEnv(dir: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: process.env['PATH'],
    HOME: dir,
    LANG: 'C.UTF-8',
    USER: 'tester',
    ...extra,
  };
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

export async function runAgentauth(args: string[], env: Record<string, string>, options: RunOptions = {}): Promise<CliResult> {
  const execaOptions: Options = {
    // An undefined value removes the variable (child_process would pass "undefined").
    env: Object.fromEntries(Object.entries({ ...env, ...options.env }).filter(([, value]) => value !== undefined)) as Record<string, string>,
    extendEnv: false,
    reject: false,
    timeout: options.timeoutMs ?? 30_000,
    stripFinalNewline: false,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
  };
  const result = await execa(process.execPath, [BIN, ...args], execaOptions);
  return { code: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

export function makeTempHome(extraEnv: Record<string, string | undefined> = {}): TempHome {
  const dir = mkdtempSync(join(tmpdir(), 'agentauth-test-'));
  const home = join(dir, 'aa');
  const passphraseFile = join(dir, 'passphrase');
  writeFileSync(passphraseFile, `${PASSPHRASE}\n`, { mode: 0o600 });
  const env = cleanEnv(dir, { AGENTAUTH_HOME: home, ...extraEnv });
  return {
    dir,
    home,
    env,
    passphraseFile,
    run: (args, options) => runAgentauth(args, env, options),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A home initialised on the file backend, passphrase from AGENTAUTH_PASSPHRASE_FILE. */
export async function makeInitialisedHome(extraEnv: Record<string, string | undefined> = {}): Promise<TempHome> {
  const temp = makeTempHome(extraEnv);
  temp.env['AGENTAUTH_PASSPHRASE_FILE'] = temp.passphraseFile;
  const result = await temp.run(['init', '--backend', 'file', '--issuer', 'https://issuer.test']);
  if (result.code !== 0) throw new Error(`init failed (${result.code}): ${result.stderr}`);
  return temp;
}

export function writeTempFile(dir: string, name: string, content: string, mode = 0o600): string {
  const file = join(dir, name);
  writeFileSync(file, content, { mode });
  return file;
}
