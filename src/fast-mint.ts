// `token mint` through a running `agentauth serve`, answered before the
// command tree (commander), jose or the keystore are loaded: a shell loop
// that mints per call pays little more than Node's own start-up. Only the
// common flags are understood here; anything else (help, --direct,
// --dpop-key, a typo) goes to the full command, which gives the same answer
// or the same error. Output and exit codes are those of a direct mint.
import { SCHEMA_VERSION } from './commands/result.js';
import { callServe, mintRequest, readMintAnswer } from './core/serve/client.js';
import { resolveSocketPath } from './core/serve/socket-path.js';

import type { MintCall } from './core/mint.js';
import type { ProcessContext } from './commands/context.js';

export interface FastMintArgs {
  call: MintCall;
  json: boolean;
}

const VALUE_FLAGS: Record<string, 'aud' | 'ttl' | 'onBehalfOf' | 'dpopJkt' | null> = {
  '--aud': 'aud',
  '--ttl': 'ttl',
  '--on-behalf-of': 'onBehalfOf',
  '--dpop-jkt': 'dpopJkt',
  // The serve holds the keys: a passphrase is not needed, and not read.
  '--passphrase-file': null,
};
const BOOLEAN_FLAGS = new Set(['--json', '--no-color', '--passphrase-stdin']);

/** `token mint` argv (after `token mint`) as commander would read it, or null when it is anything unusual. */
export function parseFastMint(rest: readonly string[]): FastMintArgs | null {
  const call: Partial<MintCall> = {};
  let json = false;
  let agent: string | undefined;
  for (let i = 0; i < rest.length; i += 1) {
    const word = rest[i]!;
    if (!word.startsWith('-')) {
      if (agent !== undefined) return null;
      agent = word;
      continue;
    }
    const eq = word.indexOf('=');
    const flag = eq === -1 ? word : word.slice(0, eq);
    const inline = eq === -1 ? undefined : word.slice(eq + 1);
    if (BOOLEAN_FLAGS.has(flag) && inline === undefined) {
      if (flag === '--json') json = true;
      continue;
    }
    if (flag in VALUE_FLAGS) {
      // Like commander: a required value is the next word, whatever it starts with.
      const value = inline ?? rest[++i];
      if (value === undefined) return null;
      const key = VALUE_FLAGS[flag];
      if (key) call[key] = value;
      continue;
    }
    if (flag === '--scope') {
      const first = inline ?? rest[++i];
      if (first === undefined) return null;
      const scopes = [first];
      // Variadic: later words up to the next flag, unless the value was given inline.
      if (inline === undefined) while (i + 1 < rest.length && !rest[i + 1]!.startsWith('-')) scopes.push(rest[++i]!);
      call.scopes = [...(call.scopes ?? []), ...scopes];
      continue;
    }
    return null;
  }
  if (agent === undefined) return null;
  return { call: { ...call, agent }, json };
}

/**
 * Mints through the socket when `argv` is a plain `token mint` and a serve
 * of ours answers. True when it printed the token; false to run the full CLI.
 * A refusal throws the error a direct mint would have thrown.
 */
export async function tryFastMint(base: Pick<ProcessContext, 'argv' | 'env' | 'stdout'>): Promise<boolean> {
  const args = parseFastMint(base.argv.slice(2));
  if (!args) return false;
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  const result = await callServe(resolveSocketPath(base.env), mintRequest(args.call), { uid });
  // Nothing listening (or a socket that is not ours, which the full command explains): mint directly.
  if (!result.answered) return false;
  const data = readMintAnswer(result.answer);
  base.stdout.write(args.json ? `${JSON.stringify({ schemaVersion: SCHEMA_VERSION, ...data })}\n` : `${data.token}\n`);
  return true;
}

